import type { RandomSource } from '../../runtime/runtime.js';
import { DH_KEY_BYTES, MseKeyPair, passesForPlaintext, trippedByUnpaddedSecret } from './dh.js';
import { MseHandshakeError } from './errors.js';
import { Inbox } from './inbox.js';
import {
  CRYPTO_PLAINTEXT,
  CRYPTO_RC4,
  cryptoBits,
  HASH_BYTES,
  MAX_INITIAL_PAYLOAD_BYTES,
  MAX_PAD_BYTES,
  type MseAllow,
  type MseCipher,
  type MseCiphers,
  type MseOutcome,
  type MseStep,
  mseCiphers,
  mseHash,
  skeyHash,
  VC_BYTES,
  xor20,
} from './protocol.js';

/** How an {@link MseInitiator} introduces itself. */
export interface MseInitiatorOptions {
  /** SKEY: the info-hash (20 bytes) of the torrent we want from the peer. */
  readonly infoHash: Uint8Array;
  /** The ciphers we offer in crypto_provide. */
  readonly allow: MseAllow;
  readonly random: RandomSource;
  /**
   * IA: up to 65535 bytes sent (always RC4-encrypted) with the third message, e.g. our
   * BitTorrent handshake. Only what can be sent before the cipher is known belongs here.
   */
  readonly initialPayload?: Uint8Array;
}

/** Key pairs tried for a Ya that Transmission 3.00 does not take for plaintext (1 in 256 is). */
const KEY_PAIR_TRIES = 8;
/** After Yb, the encrypted VC must start within PadB: at most 512 + 8 bytes are searched. */
const VC_WINDOW = MAX_PAD_BYTES + VC_BYTES;
/** crypto_select and len(PadD). */
const SELECT_BYTES = 4 + 2;

type State = 'yb' | 'vc' | 'select' | 'pad' | 'done';

/**
 * The initiating side (A) of an MSE handshake, free of I/O: {@link start} gives Ya + PadA,
 * {@link receive} takes the peer's bytes and returns what to send and, at the end, the
 * outcome. Every length is bounded by the spec; anything else throws {@link MseHandshakeError}
 * (and so does every later call).
 */
export class MseInitiator {
  private state: State = 'yb';
  private failure: MseHandshakeError | undefined;
  private readonly keys: MseKeyPair;
  private readonly inbox = new Inbox();
  private readonly provide: number;
  private readonly initialPayload: Uint8Array;
  private ciphers: MseCiphers | undefined;
  private vcPattern: Buffer | undefined;
  private cipher: MseCipher = 'rc4';
  private padBytes = 0;
  private unpaddedSecretRisk = false;

  constructor(private readonly options: MseInitiatorOptions) {
    if (options.infoHash.length !== HASH_BYTES) {
      throw new RangeError(`an MSE stream key is ${HASH_BYTES} bytes`);
    }
    this.initialPayload = options.initialPayload ?? Buffer.alloc(0);
    if (this.initialPayload.length > MAX_INITIAL_PAYLOAD_BYTES) {
      throw new RangeError(`the initial payload is at most ${MAX_INITIAL_PAYLOAD_BYTES} bytes`);
    }
    this.provide = cryptoBits(options.allow);
    // A Ya that begins like a plaintext handshake fails against Transmission 3.00: pick again.
    let keys = new MseKeyPair(options.random);
    for (let n = 1; n < KEY_PAIR_TRIES && passesForPlaintext(keys.publicKey); n++)
      keys = new MseKeyPair(options.random);
    this.keys = keys;
  }

  /** The first message: our public key Ya and 0–512 random bytes of PadA. */
  start(): Buffer {
    const random = this.options.random;
    return Buffer.concat([this.keys.publicKey, random.bytes(random.int(MAX_PAD_BYTES + 1))]);
  }

  /** Feeds the peer's bytes (lent for the call). @throws {MseHandshakeError} */
  receive(chunk: Uint8Array): MseStep<MseOutcome> {
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

  private advance(): MseStep<MseOutcome> {
    const send: Buffer[] = [];
    const inbox = this.inbox;
    if (this.state === 'yb') {
      if (inbox.length < DH_KEY_BYTES) return { send, outcome: undefined };
      const secret = this.keys.sharedSecret(inbox.take(DH_KEY_BYTES));
      this.unpaddedSecretRisk = trippedByUnpaddedSecret(secret);
      send.push(this.thirdMessage(secret));
      this.state = 'vc';
    }
    if (this.state === 'vc') {
      const window = inbox.peek().subarray(0, VC_WINDOW);
      const at = window.indexOf(this.vcPattern!);
      if (at < 0) {
        if (window.length >= VC_WINDOW) {
          throw new MseHandshakeError(
            'protocol',
            `no verification constant within ${VC_WINDOW} bytes of the peer's public key`,
          );
        }
        return { send, outcome: undefined };
      }
      inbox.skip(at + VC_BYTES);
      this.state = 'select';
    }
    if (this.state === 'select') {
      if (inbox.length < SELECT_BYTES) return { send, outcome: undefined };
      const field = inbox.take(SELECT_BYTES);
      this.ciphers!.decrypt.process(field);
      this.cipher = this.selected(field.readUInt32BE(0));
      this.padBytes = field.readUInt16BE(4);
      if (this.padBytes > MAX_PAD_BYTES) {
        throw new MseHandshakeError('protocol', `PadD of ${this.padBytes} bytes (at most 512)`);
      }
      this.state = 'pad';
    }
    if (inbox.length < this.padBytes) return { send, outcome: undefined };
    this.ciphers!.decrypt.process(inbox.take(this.padBytes));
    this.state = 'done';
    const leftover = inbox.drain();
    const rc4 = this.cipher === 'rc4';
    if (rc4) this.ciphers!.decrypt.process(leftover);
    return {
      send,
      outcome: { cipher: this.cipher, ciphers: rc4 ? this.ciphers : undefined, leftover },
    };
  }

  /**
   * Why the peer closing now fails the handshake: `legacy-secret` when it closed on our third
   * message and S began with a zero byte, which libtorrent 1.1–2.0 mishandle (dialling again
   * with a new key works), else `closed`. `detail` ends the message (the socket's error).
   */
  closedReason(detail = ''): MseHandshakeError {
    if (this.state === 'vc' && this.unpaddedSecretRisk) {
      return new MseHandshakeError(
        'legacy-secret',
        'the peer closed the connection on our request; our shared secret began with a zero ' +
          `byte, which libtorrent 1.1-2.0 mishandle: dial again for a new key${detail}`,
      );
    }
    return new MseHandshakeError('closed', `the peer closed the connection${detail}`);
  }

  /**
   * HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S), then encrypted: VC,
   * crypto_provide, len(PadC), PadC (zeros), len(IA), IA.
   */
  private thirdMessage(secret: Buffer): Buffer {
    const skey = this.options.infoHash;
    this.ciphers = mseCiphers('initiator', secret, skey);
    // VC is zeros, so its encryption is the peer's first keystream bytes: what we look for.
    this.vcPattern = Buffer.alloc(VC_BYTES);
    this.ciphers.decrypt.process(this.vcPattern);
    const padC = this.options.random.int(MAX_PAD_BYTES + 1);
    const ia = this.initialPayload;
    const encrypted = Buffer.alloc(VC_BYTES + 4 + 2 + padC + 2 + ia.length);
    encrypted.writeUInt32BE(this.provide, VC_BYTES);
    encrypted.writeUInt16BE(padC, VC_BYTES + 4);
    encrypted.writeUInt16BE(ia.length, VC_BYTES + 6 + padC);
    encrypted.set(ia, VC_BYTES + 8 + padC);
    this.ciphers.encrypt.process(encrypted);
    return Buffer.concat([
      mseHash('req1', secret),
      xor20(skeyHash(skey), mseHash('req3', secret)),
      encrypted,
    ]);
  }

  /** The cipher crypto_select names: exactly one we provided (unknown bits are ignored). */
  private selected(select: number): MseCipher {
    const known = select & (CRYPTO_PLAINTEXT | CRYPTO_RC4);
    if ((known === CRYPTO_RC4 || known === CRYPTO_PLAINTEXT) && (known & this.provide) !== 0) {
      return known === CRYPTO_RC4 ? 'rc4' : 'plaintext';
    }
    throw new MseHandshakeError(
      known === 0 ? 'no-common-crypto' : 'protocol',
      `the peer selected crypto 0x${select.toString(16)} but we provided 0x${this.provide.toString(16)}`,
    );
  }
}
