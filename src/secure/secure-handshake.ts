import { type Identity, IdentityKey } from '../crypto/identity.js';
import type { CipherState } from '../crypto/noise/cipher-state.js';
import { NoiseError } from '../crypto/noise/errors.js';
import { type EphemeralSource, HandshakeState } from '../crypto/noise/handshake-state.js';
import { NOISE_IK, NOISE_XX, type NoiseProtocol } from '../crypto/noise/protocols.js';
import { SecureChannelError } from './errors.js';

/**
 * The first bytes an initiator sends: `\0shoal/1`. The inbound demultiplexer shares the node's
 * port between BitTorrent and shoal and tells them apart by these bytes. A zero first byte can
 * never start a BitTorrent handshake (0x13, the length of "BitTorrent protocol"), an HTTP
 * request or a TLS record (0x16); an MSE/PE connection starts with a random DH key, which begins
 * with these 8 bytes once in 2^64. The bytes are also the Noise prologue, so a peer that saw
 * other ones fails the handshake.
 */
export const SECURE_CHANNEL_MAGIC = Buffer.from('\0shoal/1', 'latin1');

/** Whether a stream's first bytes are the secure channel's (give it at least 8 bytes). */
export function isSecureChannelPrologue(firstBytes: Uint8Array): boolean {
  return (
    firstBytes.length >= SECURE_CHANNEL_MAGIC.length &&
    SECURE_CHANNEL_MAGIC.equals(firstBytes.subarray(0, SECURE_CHANNEL_MAGIC.length))
  );
}

/** The byte after the magic: which Noise pattern the initiator runs. */
const PATTERN_BYTE = { XX: 0x58, IK: 0x49 } as const;

const PROTOCOLS: Record<'XX' | 'IK', NoiseProtocol> = { XX: NOISE_XX, IK: NOISE_IK };

/** Our handshake messages are at most 128 bytes; anything much larger is not a shoal peer. */
const MAX_HANDSHAKE_FRAME = 1024;

/** Bytes of the length prefix of every handshake and transport frame. */
export const FRAME_HEADER_LENGTH = 2;

/** What a finished handshake gives the transport. */
export interface SecureSession {
  /** The peer's identity, proven by the handshake. */
  readonly remote: IdentityKey;
  readonly initiator: boolean;
  /** Encrypts what we send. */
  readonly send: CipherState;
  /** Decrypts what we receive. */
  readonly receive: CipherState;
  /** Unique to this session and equal on both ends (channel binding, Noise §11.2). */
  readonly handshakeHash: Buffer;
}

/** Options of a {@link SecureHandshake}. */
export interface SecureHandshakeOptions {
  readonly initiator: boolean;
  readonly identity: Identity;
  /** For an initiator: the identity it means to reach. Given, IK is used; otherwise XX. */
  readonly remote?: IdentityKey;
  readonly random: EphemeralSource;
}

/**
 * The secure channel's handshake without I/O: bytes in, bytes out. The initiator opens with the
 * magic, a pattern byte and the first Noise message; every handshake message is framed with a
 * 2-byte big-endian length. XX when the initiator does not know the responder's key (three
 * messages), IK when it does (two, and the initiator's identity stays hidden from everyone but
 * the intended responder). Each side's payload is its 32-byte ed25519 identity, accepted only
 * if it converts to the static key the handshake proved (see identity.ts).
 */
export class SecureHandshake {
  private noise: HandshakeState | undefined;
  private pattern: 'XX' | 'IK' = 'XX';
  /** Handshake messages written and read so far. */
  private messages = 0;
  private readonly options: SecureHandshakeOptions;
  private buffered: Buffer = Buffer.alloc(0);
  private remote: IdentityKey | undefined;
  private done: SecureSession | undefined;
  private leftover: Buffer = Buffer.alloc(0);

  constructor(options: SecureHandshakeOptions) {
    this.options = options;
    if (options.initiator) this.start(options.remote !== undefined ? 'IK' : 'XX');
    else if (options.remote !== undefined) {
      throw new SecureChannelError('SECURE_HANDSHAKE', 'a responder learns the remote key');
    }
  }

  /** The session once the handshake is complete. */
  get session(): SecureSession | undefined {
    return this.done;
  }

  /** Bytes that arrived after the last handshake message (the first transport frames). */
  takeLeftover(): Buffer {
    const rest = this.leftover;
    this.leftover = Buffer.alloc(0);
    return rest;
  }

  /** What the initiator sends first (magic, pattern byte, first message); empty for a responder. */
  opening(): Buffer {
    if (!this.options.initiator || this.messages > 0) return Buffer.alloc(0);
    return Buffer.concat([
      SECURE_CHANNEL_MAGIC,
      Buffer.from([PATTERN_BYTE[this.pattern]]),
      this.write(),
    ]);
  }

  /**
   * Takes received bytes and returns the bytes to send in reply (possibly none). Throws
   * `SecureChannelError` when the peer is not a shoal peer, does not authenticate, or is not
   * who we dialled; the connection must then be closed.
   */
  receive(chunk: Uint8Array): Buffer {
    if (this.done !== undefined)
      throw new SecureChannelError('SECURE_HANDSHAKE', 'handshake already complete');
    this.buffered =
      this.buffered.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buffered, chunk]);
    const replies: Buffer[] = [];
    try {
      if (this.noise === undefined && !this.readOpening()) return Buffer.alloc(0);
      while (this.done === undefined) {
        const message = this.nextFrame();
        if (message === undefined) break;
        this.read(message);
        if (this.done === undefined && this.noise!.isMyTurn) replies.push(this.write());
      }
    } catch (error) {
      if (error instanceof NoiseError) {
        throw new SecureChannelError('SECURE_HANDSHAKE', `handshake failed: ${error.message}`, {
          cause: error,
        });
      }
      throw error;
    }
    if (this.done !== undefined) this.leftover = this.buffered;
    return Buffer.concat(replies);
  }

  private start(pattern: 'XX' | 'IK'): void {
    const remote = this.options.remote;
    this.pattern = pattern;
    this.noise = new HandshakeState({
      protocol: PROTOCOLS[pattern],
      initiator: this.options.initiator,
      prologue: Buffer.concat([SECURE_CHANNEL_MAGIC, Buffer.from([PATTERN_BYTE[pattern]])]),
      staticKeyPair: this.options.identity.noiseKeyPair,
      ...(this.options.initiator &&
        remote !== undefined && { remoteStaticKey: remote.noisePublicKey() }),
      random: this.options.random,
    });
  }

  /** Responder: reads the magic and pattern byte; false until they have arrived. */
  private readOpening(): boolean {
    const length = SECURE_CHANNEL_MAGIC.length + 1;
    const n = Math.min(SECURE_CHANNEL_MAGIC.length, this.buffered.length);
    if (!SECURE_CHANNEL_MAGIC.subarray(0, n).equals(this.buffered.subarray(0, n))) {
      throw new SecureChannelError(
        'SECURE_HANDSHAKE',
        'the peer does not speak the shoal secure channel',
      );
    }
    if (this.buffered.length < length) return false;
    const pattern = this.buffered[SECURE_CHANNEL_MAGIC.length];
    if (pattern === PATTERN_BYTE.XX) this.start('XX');
    else if (pattern === PATTERN_BYTE.IK) this.start('IK');
    else
      throw new SecureChannelError('SECURE_HANDSHAKE', `unknown handshake pattern byte ${pattern}`);
    this.buffered = this.buffered.subarray(length);
    return true;
  }

  private nextFrame(): Buffer | undefined {
    if (this.buffered.length < FRAME_HEADER_LENGTH) return undefined;
    const length = this.buffered.readUInt16BE(0);
    if (length > MAX_HANDSHAKE_FRAME) {
      throw new SecureChannelError(
        'SECURE_HANDSHAKE',
        `a ${length}-byte handshake message is too long`,
      );
    }
    const end = FRAME_HEADER_LENGTH + length;
    if (this.buffered.length < end) return undefined;
    const frame = this.buffered.subarray(FRAME_HEADER_LENGTH, end);
    this.buffered = this.buffered.subarray(end);
    return frame;
  }

  /** Our next message, framed; it carries our identity when {@link identityDue} says so. */
  private write(): Buffer {
    const noise = this.noise!;
    const payload = this.identityDue() ? this.options.identity.publicKey.bytes : Buffer.alloc(0);
    const message = noise.writeMessage(payload);
    this.afterMessage();
    const header = Buffer.alloc(FRAME_HEADER_LENGTH);
    header.writeUInt16BE(message.length);
    return Buffer.concat([header, message]);
  }

  private read(message: Buffer): void {
    const noise = this.noise!;
    const identityDue = this.identityDue();
    const payload = noise.readMessage(message);
    if (!identityDue) {
      if (payload.length !== 0) {
        throw new SecureChannelError('SECURE_HANDSHAKE', 'unexpected handshake payload');
      }
    } else {
      const claimed = IdentityKey.matchingNoiseKey(payload, noise.remoteStaticKey!);
      if (claimed === undefined) {
        throw new SecureChannelError(
          'SECURE_HANDSHAKE',
          'the peer’s identity does not match its Noise static key',
        );
      }
      const dialled = this.options.remote;
      if (dialled !== undefined && !dialled.equals(claimed)) {
        throw new SecureChannelError('SECURE_IDENTITY', `reached ${claimed}, not ${dialled}`);
      }
      this.remote = claimed;
    }
    this.afterMessage();
  }

  /**
   * Whether the current message carries its sender's identity: every message whose sender's
   * static key the receiver knows by then — both IK messages, XX messages 2 and 3.
   */
  private identityDue(): boolean {
    return this.pattern === 'IK' || this.messages >= 1;
  }

  private afterMessage(): void {
    this.messages++;
    const noise = this.noise!;
    if (!noise.isComplete) return;
    if (this.remote === undefined) {
      throw new SecureChannelError('SECURE_HANDSHAKE', 'the peer never sent its identity');
    }
    const result = noise.result();
    this.done = {
      remote: this.remote,
      initiator: this.options.initiator,
      send: result.send,
      receive: result.receive,
      handshakeHash: result.handshakeHash,
    };
  }
}
