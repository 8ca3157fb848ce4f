import type { CipherState } from './cipher-state.js';
import { TAG_LENGTH } from './cipher-state.js';
import {
  DH_LENGTH,
  type DhKeyPair,
  type DhPublicKey,
  x25519,
  x25519KeyPair,
  x25519PublicKey,
} from './dh.js';
import { NoiseError } from './errors.js';
import type { NoiseProtocol, Token } from './protocols.js';
import { SymmetricState } from './symmetric-state.js';

/** The largest Noise message, handshake or transport (§3). */
export const MAX_MESSAGE_LENGTH = 65535;

/** Where ephemeral keys come from: the runtime's `RandomSource` (or a fixed one in tests). */
export interface EphemeralSource {
  bytes(length: number): Buffer;
}

/** How to start a handshake (§5.3 Initialize). */
export interface HandshakeOptions {
  readonly protocol: NoiseProtocol;
  readonly initiator: boolean;
  /** Bytes both sides must agree on without sending them in a handshake message (§6). */
  readonly prologue: Uint8Array;
  /** Our static key pair, for patterns that use one. */
  readonly staticKeyPair?: DhKeyPair;
  /**
   * The peer's static public key, for patterns with it in a pre-message (IK's initiator): raw,
   * or already imported (a caller dialling the same key again saves the import).
   */
  readonly remoteStaticKey?: Uint8Array | DhPublicKey;
  readonly random: EphemeralSource;
}

/** What a finished handshake leaves: a CipherState per direction and what was learned. */
export interface HandshakeResult {
  /** Encrypts what we send. */
  readonly send: CipherState;
  /** Decrypts what we receive. */
  readonly receive: CipherState;
  /** `h` after the last message: identical on both sides, unique to this session (§11.2). */
  readonly handshakeHash: Buffer;
  /** The peer's static X25519 public key, proven by the handshake (none in NN). */
  readonly remoteStaticKey: Buffer | undefined;
}

/**
 * Noise's HandshakeState (§5.3) for any pattern in `protocols.ts`: sans-I/O, messages in and
 * out as bytes. `writeMessage` and `readMessage` must alternate as the pattern says; any error
 * (a tampered message, a bad key) leaves the state failed, and it must be dropped.
 */
export class HandshakeState {
  private readonly symmetric: SymmetricState;
  private readonly initiator: boolean;
  private readonly s: DhKeyPair | undefined;
  private readonly random: EphemeralSource;
  private e: DhKeyPair | undefined;
  private rs: DhPublicKey | undefined;
  private re: DhPublicKey | undefined;
  private next = 0;
  private failed = false;
  private finished: HandshakeResult | undefined;
  private readonly messages: readonly (readonly Token[])[];

  constructor(options: HandshakeOptions) {
    const { protocol, initiator } = options;
    const pattern = protocol.pattern;
    this.symmetric = new SymmetricState(protocol.name, protocol.cipher, protocol.hash);
    this.symmetric.mixHash(options.prologue);
    this.initiator = initiator;
    this.s = options.staticKeyPair;
    this.random = options.random;
    this.messages = pattern.messages;
    const rs = options.remoteStaticKey;
    if (rs !== undefined) {
      this.rs = rs instanceof Uint8Array ? x25519PublicKey(rs) : rs;
    }
    for (const [pre, ours] of [
      [pattern.initiatorPreMessage, initiator],
      [pattern.responderPreMessage, !initiator],
    ] as const) {
      for (const _token of pre) {
        const key = ours ? this.s?.publicKey : this.rs?.raw;
        if (key === undefined) {
          throw new NoiseError(
            'NOISE_STATE',
            `${pattern.name} needs ${ours ? 'our' : "the peer's"} static key before it starts`,
          );
        }
        this.symmetric.mixHash(key);
      }
    }
  }

  /** True when the next call must be `writeMessage`. */
  get isMyTurn(): boolean {
    return !this.isComplete && this.next % 2 === (this.initiator ? 0 : 1);
  }

  /** True once the last message of the pattern was written or read. */
  get isComplete(): boolean {
    return this.finished !== undefined;
  }

  /** The peer's static public key once a message has carried it (or from the pre-message). */
  get remoteStaticKey(): Buffer | undefined {
    return this.rs?.raw;
  }

  /** The handshake's outcome; throws `NOISE_STATE` until it is complete. */
  result(): HandshakeResult {
    if (this.finished === undefined) throw new NoiseError('NOISE_STATE', 'handshake not complete');
    return this.finished;
  }

  /** §5.3 WriteMessage: the next message, carrying `payload` (encrypted once a key exists). */
  writeMessage(payload: Uint8Array = Buffer.alloc(0)): Buffer {
    const tokens = this.take(true);
    try {
      const parts: Buffer[] = [];
      for (const token of tokens) {
        if (token === 'e') {
          this.e = x25519KeyPair(this.random.bytes(DH_LENGTH));
          parts.push(this.e.publicKey);
          this.symmetric.mixHash(this.e.publicKey);
        } else if (token === 's') {
          parts.push(this.symmetric.encryptAndHash(this.staticKey().publicKey));
        } else {
          this.symmetric.mixKey(this.dh(token));
        }
      }
      parts.push(this.symmetric.encryptAndHash(payload));
      const message = Buffer.concat(parts);
      if (message.length > MAX_MESSAGE_LENGTH) {
        throw new NoiseError(
          'NOISE_STATE',
          `a handshake message is at most ${MAX_MESSAGE_LENGTH} bytes`,
        );
      }
      this.afterMessage();
      return message;
    } catch (error) {
      this.failed = true;
      throw error;
    }
  }

  /**
   * §5.3 ReadMessage: checks and absorbs the peer's next message, returning its payload.
   * Throws `NoiseError` for anything malformed, tampered with or out of turn.
   */
  readMessage(message: Uint8Array): Buffer {
    const tokens = this.take(false);
    try {
      if (message.length > MAX_MESSAGE_LENGTH) {
        throw new NoiseError(
          'NOISE_MESSAGE',
          `a handshake message is at most ${MAX_MESSAGE_LENGTH} bytes`,
        );
      }
      let at = 0;
      const field = (length: number): Uint8Array => {
        if (at + length > message.length) {
          throw new NoiseError('NOISE_MESSAGE', 'a handshake message is too short');
        }
        at += length;
        return message.subarray(at - length, at);
      };
      for (const token of tokens) {
        if (token === 'e') {
          this.re = x25519PublicKey(field(DH_LENGTH));
          this.symmetric.mixHash(this.re.raw);
        } else if (token === 's') {
          const length = DH_LENGTH + (this.symmetric.hasKey() ? TAG_LENGTH : 0);
          this.rs = x25519PublicKey(this.symmetric.decryptAndHash(field(length)));
        } else {
          this.symmetric.mixKey(this.dh(token));
        }
      }
      if (this.symmetric.hasKey() && message.length - at < TAG_LENGTH) {
        throw new NoiseError('NOISE_MESSAGE', 'a handshake message is too short');
      }
      const payload = this.symmetric.decryptAndHash(message.subarray(at));
      this.afterMessage();
      return payload;
    } catch (error) {
      this.failed = true;
      throw error;
    }
  }

  private take(writing: boolean): readonly Token[] {
    if (this.failed) throw new NoiseError('NOISE_STATE', 'this handshake already failed');
    if (this.isComplete) throw new NoiseError('NOISE_STATE', 'this handshake is complete');
    if (this.isMyTurn !== writing) {
      throw new NoiseError(
        'NOISE_STATE',
        writing ? 'it is the peer’s turn to send' : 'it is our turn to send',
      );
    }
    return this.messages[this.next]!;
  }

  private afterMessage(): void {
    this.next++;
    if (this.next < this.messages.length) return;
    const [c1, c2] = this.symmetric.split();
    this.finished = {
      send: this.initiator ? c1 : c2,
      receive: this.initiator ? c2 : c1,
      handshakeHash: this.symmetric.handshakeHash(),
      remoteStaticKey: this.rs?.raw,
    };
  }

  private staticKey(): DhKeyPair {
    if (this.s === undefined)
      throw new NoiseError('NOISE_STATE', 'this pattern needs our static key');
    return this.s;
  }

  /**
   * The DH a token asks for (§5.3). A DH token names the initiator's key first and the
   * responder's second: `es` is e·rs for the initiator and s·re for the responder.
   */
  private dh(token: Exclude<Token, 'e' | 's'>): Buffer {
    const localKind = this.initiator ? token[0] : token[1];
    const remoteKind = this.initiator ? token[1] : token[0];
    const local = localKind === 's' ? this.staticKey() : this.e;
    const remote = remoteKind === 's' ? this.rs : this.re;
    if (local === undefined || remote === undefined) {
      throw new NoiseError('NOISE_STATE', `the keys for ${token} are missing`);
    }
    return x25519(local.privateKey, remote);
  }
}
