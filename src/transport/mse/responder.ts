import type { RandomSource } from '../../runtime/runtime.js';
import { DH_KEY_BYTES, MseKeyPair, trippedByUnpaddedSecret } from './dh.js';
import { MseHandshakeError } from './errors.js';
import { Inbox } from './inbox.js';
import {
  CRYPTO_PLAINTEXT,
  CRYPTO_RC4,
  cryptoBits,
  HASH_BYTES,
  MAX_PAD_BYTES,
  type MseAllow,
  type MseCipher,
  type MseCiphers,
  type MseOutcome,
  type MseStep,
  mseCiphers,
  mseHash,
  VC_BYTES,
  xor20,
} from './protocol.js';

/** How an {@link MseResponder} answers. */
export interface MseResponderOptions {
  /**
   * The info-hash whose HASH('req2', info-hash) is `skeyHash`, among every torrent served
   * (see `SkeyTable`); undefined refuses the connection.
   */
  readonly lookupSkey: (skeyHash: Uint8Array) => Uint8Array | undefined;
  /** The ciphers we accept. */
  readonly allow: MseAllow;
  /** Which one to select when the initiator offers both and both are allowed (default rc4). */
  readonly prefer?: MseCipher;
  readonly random: RandomSource;
}

/** A completed handshake as the responder sees it. */
export interface MseResponderOutcome extends MseOutcome {
  /** SKEY: the torrent the initiator asked for. */
  readonly infoHash: Buffer;
  /** IA, decrypted (a copy). */
  readonly initialPayload: Buffer;
}

/** After Ya, HASH('req1', S) must end within PadA: at most 512 + 20 bytes are searched. */
const SYNC_WINDOW = MAX_PAD_BYTES + HASH_BYTES;
/** Key pairs tried for an S libtorrent 1.1–2.0 can hash (each fails 1 in 256). */
const KEY_PAIR_TRIES = 8;
/** VC, crypto_provide, len(PadC). */
const PROVIDE_BYTES = VC_BYTES + 4 + 2;

type State = 'ya' | 'sync' | 'skey' | 'provide' | 'pad' | 'ia' | 'done';

/**
 * The responding side (B) of an MSE handshake, free of I/O: {@link receive} takes the peer's
 * bytes and returns what to send and, at the end, the outcome. Nothing is computed until the
 * 96 bytes of Ya are in. Every length is bounded by the spec; anything else throws
 * {@link MseHandshakeError} (and so does every later call).
 */
export class MseResponder {
  private state: State = 'ya';
  private failure: MseHandshakeError | undefined;
  private readonly inbox = new Inbox();
  private secret: Buffer | undefined;
  private syncHash: Buffer | undefined;
  private ciphers: MseCiphers | undefined;
  private infoHash: Buffer | undefined;
  private cipher: MseCipher = 'rc4';
  private padBytes = 0;
  private initialPayloadBytes = 0;

  constructor(private readonly options: MseResponderOptions) {}

  /** Feeds the peer's bytes (lent for the call). @throws {MseHandshakeError} */
  receive(chunk: Uint8Array): MseStep<MseResponderOutcome> {
    if (this.failure) throw this.failure;
    if (this.state === 'done') throw new RangeError('the MSE handshake is already complete');
    this.inbox.push(chunk);
    try {
      return this.advance();
    } catch (error) {
      if (error instanceof MseHandshakeError) this.failure = error;
      throw error;
    }
  }

  private advance(): MseStep<MseResponderOutcome> {
    const send: Buffer[] = [];
    const wait = { send, outcome: undefined };
    const inbox = this.inbox;
    if (this.state === 'ya') {
      if (inbox.length < DH_KEY_BYTES) return wait;
      const ya = inbox.take(DH_KEY_BYTES);
      // An S that begins with a zero byte fails against libtorrent 1.1–2.0: pick another key.
      let keys = new MseKeyPair(this.options.random);
      this.secret = keys.sharedSecret(ya);
      for (let n = 1; n < KEY_PAIR_TRIES && trippedByUnpaddedSecret(this.secret); n++) {
        keys = new MseKeyPair(this.options.random);
        this.secret = keys.sharedSecret(ya);
      }
      this.syncHash = mseHash('req1', this.secret);
      const random = this.options.random;
      send.push(Buffer.concat([keys.publicKey, random.bytes(random.int(MAX_PAD_BYTES + 1))]));
      this.state = 'sync';
    }
    if (this.state === 'sync') {
      const window = inbox.peek().subarray(0, SYNC_WINDOW);
      const at = window.indexOf(this.syncHash!);
      if (at < 0) {
        if (window.length >= SYNC_WINDOW) {
          throw new MseHandshakeError(
            'protocol',
            `no HASH('req1', S) within ${SYNC_WINDOW} bytes of the peer's public key`,
          );
        }
        return wait;
      }
      inbox.skip(at + HASH_BYTES);
      this.state = 'skey';
    }
    if (this.state === 'skey') {
      if (inbox.length < HASH_BYTES) return wait;
      const secret = this.secret!;
      const wanted = xor20(inbox.take(HASH_BYTES), mseHash('req3', secret));
      const infoHash = this.options.lookupSkey(wanted);
      if (infoHash === undefined) {
        throw new MseHandshakeError(
          'unknown-torrent',
          'the peer asked for a torrent we do not serve',
        );
      }
      this.infoHash = Buffer.from(infoHash);
      this.ciphers = mseCiphers('responder', secret, this.infoHash);
      this.state = 'provide';
    }
    if (this.state === 'provide') {
      if (inbox.length < PROVIDE_BYTES) return wait;
      const field = inbox.take(PROVIDE_BYTES);
      this.ciphers!.decrypt.process(field);
      for (let n = 0; n < VC_BYTES; n++) {
        if (field[n] !== 0) {
          throw new MseHandshakeError('protocol', 'the verification constant does not decrypt');
        }
      }
      this.cipher = this.select(field.readUInt32BE(VC_BYTES));
      this.padBytes = field.readUInt16BE(VC_BYTES + 4);
      if (this.padBytes > MAX_PAD_BYTES) {
        throw new MseHandshakeError('protocol', `PadC of ${this.padBytes} bytes (at most 512)`);
      }
      this.state = 'pad';
    }
    if (this.state === 'pad') {
      if (inbox.length < this.padBytes + 2) return wait;
      const padAndLength = inbox.take(this.padBytes + 2);
      this.ciphers!.decrypt.process(padAndLength);
      this.initialPayloadBytes = padAndLength.readUInt16BE(this.padBytes);
      this.state = 'ia';
    }
    if (inbox.length < this.initialPayloadBytes) return wait;
    const initialPayload = Buffer.from(inbox.take(this.initialPayloadBytes));
    const ciphers = this.ciphers!;
    ciphers.decrypt.process(initialPayload);
    send.push(this.fourthMessage());
    this.state = 'done';
    const leftover = inbox.drain();
    const rc4 = this.cipher === 'rc4';
    if (rc4) ciphers.decrypt.process(leftover);
    return {
      send,
      outcome: {
        cipher: this.cipher,
        ciphers: rc4 ? ciphers : undefined,
        leftover,
        infoHash: this.infoHash!,
        initialPayload,
      },
    };
  }

  /** crypto_provide ∩ allowed, one bit: the preferred cipher when both remain. */
  private select(provide: number): MseCipher {
    const common = provide & cryptoBits(this.options.allow);
    if (common === 0) {
      throw new MseHandshakeError(
        'no-common-crypto',
        `the peer provides crypto 0x${provide.toString(16)}, we allow ${this.options.allow}`,
      );
    }
    if (common === (CRYPTO_PLAINTEXT | CRYPTO_RC4)) return this.options.prefer ?? 'rc4';
    return common === CRYPTO_RC4 ? 'rc4' : 'plaintext';
  }

  /** ENCRYPT(VC, crypto_select, len(PadD), PadD), PadD zeros of a random length. */
  private fourthMessage(): Buffer {
    const padD = this.options.random.int(MAX_PAD_BYTES + 1);
    const message = Buffer.alloc(VC_BYTES + 4 + 2 + padD);
    message.writeUInt32BE(this.cipher === 'rc4' ? CRYPTO_RC4 : CRYPTO_PLAINTEXT, VC_BYTES);
    message.writeUInt16BE(padD, VC_BYTES + 4);
    this.ciphers!.encrypt.process(message);
    return message;
  }
}
