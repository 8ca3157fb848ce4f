import { createCipheriv, createDecipheriv } from 'node:crypto';
import { NoiseError } from './errors.js';

/** Bytes of an AEAD authentication tag (Noise §4.2: ciphertext = plaintext + 16). */
export const TAG_LENGTH = 16;

/**
 * Nonces stop one short of 2^53 rather than Noise's 2^64 − 1: the counter is a JavaScript
 * number. At a million messages a second that is 285 years, so the difference is never seen.
 */
const MAX_NONCE = Number.MAX_SAFE_INTEGER;

const TWO_POW_32 = 2 ** 32;

/** The parts of a node:crypto AEAD encryptor that Noise uses. */
interface Sealer {
  setAAD(ad: Uint8Array, options: { plaintextLength: number }): unknown;
  update(data: Uint8Array): Buffer;
  final(): Buffer;
  getAuthTag(): Buffer;
}

/** The parts of a node:crypto AEAD decryptor that Noise uses. */
interface Opener {
  setAAD(ad: Uint8Array, options: { plaintextLength: number }): unknown;
  setAuthTag(tag: Uint8Array): unknown;
  update(data: Uint8Array): Buffer;
  final(): Buffer;
}

/** A Noise cipher (§12.3, §12.4): a node:crypto AEAD and how its 96-bit nonce is laid out. */
export interface CipherFunctions {
  readonly name: 'ChaChaPoly' | 'AESGCM';
  sealer(key: Buffer, nonce: Buffer): Sealer;
  opener(key: Buffer, nonce: Buffer): Opener;
  /** Writes the 64-bit counter `n` into bytes 4..12 of `nonce` (bytes 0..4 stay zero). */
  writeNonce(nonce: Buffer, n: number): void;
}

const TAG = { authTagLength: TAG_LENGTH } as const;

/** ChaCha20-Poly1305 (RFC 8439): 32 zero bits, then the counter little-endian. */
export const CHACHA_POLY: CipherFunctions = {
  name: 'ChaChaPoly',
  sealer: (key, nonce) => createCipheriv('chacha20-poly1305', key, nonce, TAG),
  opener: (key, nonce) => createDecipheriv('chacha20-poly1305', key, nonce, TAG),
  writeNonce(nonce, n) {
    nonce.writeUInt32LE(n >>> 0, 4);
    nonce.writeUInt32LE(Math.floor(n / TWO_POW_32), 8);
  },
};

/** AES-256-GCM: 32 zero bits, then the counter big-endian. */
export const AES_GCM: CipherFunctions = {
  name: 'AESGCM',
  sealer: (key, nonce) => createCipheriv('aes-256-gcm', key, nonce, TAG),
  opener: (key, nonce) => createDecipheriv('aes-256-gcm', key, nonce, TAG),
  writeNonce(nonce, n) {
    nonce.writeUInt32BE(Math.floor(n / TWO_POW_32), 4);
    nonce.writeUInt32BE(n >>> 0, 8);
  },
};

const EMPTY = Buffer.alloc(0);

/** One message being decrypted piece by piece (see {@link CipherState.beginDecrypt}). */
export interface MessageOpener {
  update(piece: Uint8Array): Buffer;
  finish(tag: Uint8Array): void;
}
const ZEROS_32 = Buffer.alloc(32);

/**
 * Noise's CipherState (§5.1): a key and a message counter. The counter is the nonce, so each
 * (key, nonce) pair is used once; the nonce buffer is reused for every message. The `…Parts`
 * methods hand out ciphertext and tag separately, so a transport can send them as they are
 * instead of copying them together.
 */
export class CipherState {
  private key: Buffer | undefined;
  private n = 0;
  private readonly nonce = Buffer.alloc(12);

  constructor(
    readonly cipher: CipherFunctions,
    key?: Uint8Array,
  ) {
    if (key !== undefined) this.initializeKey(key);
  }

  /** Sets a fresh key and restarts the counter (§5.1 InitializeKey). */
  initializeKey(key: Uint8Array): void {
    if (key.length !== 32) throw new NoiseError('NOISE_STATE', 'a cipher key is 32 bytes');
    this.key = Buffer.from(key);
    this.n = 0;
  }

  /** False until a key is set: then messages pass in clear (the handshake's start). */
  hasKey(): boolean {
    return this.key !== undefined;
  }

  /**
   * Encrypts one message, the concatenation of `pieces`, with associated data `ad`, and appends
   * the ciphertext of each non-empty piece and then the 16-byte tag to `out`: a message made of
   * several buffers is encrypted without first copying them together. Without a key the pieces
   * themselves are appended (§5.1).
   */
  encryptParts(ad: Uint8Array, pieces: readonly Uint8Array[], out: Uint8Array[]): void {
    const key = this.key;
    if (key === undefined) {
      for (const piece of pieces) if (piece.length > 0) out.push(piece);
      return;
    }
    this.nextNonce();
    const cipher = this.cipher.sealer(key, this.nonce);
    if (ad.length > 0) {
      let length = 0;
      for (const piece of pieces) length += piece.length;
      cipher.setAAD(ad, { plaintextLength: length });
    }
    for (const piece of pieces) if (piece.length > 0) out.push(cipher.update(piece));
    cipher.final();
    out.push(cipher.getAuthTag());
    this.n++;
  }

  /**
   * Decrypts a message given as its ciphertext and its 16-byte tag. Throws `NOISE_DECRYPT`
   * (and keeps the counter) when the message was not made with this key, nonce and `ad`.
   */
  decryptParts(ad: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array): Buffer {
    const key = this.key;
    if (key === undefined) throw new NoiseError('NOISE_STATE', 'decryptParts needs a key');
    this.nextNonce();
    try {
      const decipher = this.cipher.opener(key, this.nonce);
      if (ad.length > 0) decipher.setAAD(ad, { plaintextLength: ciphertext.length });
      decipher.setAuthTag(tag);
      const plaintext = ciphertext.length > 0 ? decipher.update(ciphertext) : EMPTY;
      decipher.final();
      this.n++;
      return plaintext;
    } catch (error) {
      throw new NoiseError('NOISE_DECRYPT', 'a message failed authentication', { cause: error });
    }
  }

  /**
   * Starts decrypting one message (no associated data) whose ciphertext arrives in pieces, so
   * a message split across reads is never copied together: `update` each piece as it comes
   * (the plaintext it returns must not be used before `finish` succeeds), then `finish(tag)`,
   * which authenticates the whole message and only then advances the counter. Throws
   * `NOISE_DECRYPT` from `finish` on failure.
   */
  beginDecrypt(): MessageOpener {
    const key = this.key;
    if (key === undefined) throw new NoiseError('NOISE_STATE', 'beginDecrypt needs a key');
    this.nextNonce();
    const decipher = this.cipher.opener(key, this.nonce);
    return {
      update: (piece) => decipher.update(piece),
      finish: (tag) => {
        try {
          decipher.setAuthTag(tag);
          decipher.final();
        } catch (error) {
          throw new NoiseError('NOISE_DECRYPT', 'a message failed authentication', {
            cause: error,
          });
        }
        this.n++;
      },
    };
  }

  /** §5.1 EncryptWithAd: ciphertext and tag in one buffer. */
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Buffer {
    const parts: Uint8Array[] = [];
    this.encryptParts(ad, [plaintext], parts);
    return parts.length === 1 ? Buffer.from(parts[0]!) : Buffer.concat(parts);
  }

  /** §5.1 DecryptWithAd: `message` is ciphertext then tag; without a key it is the plaintext. */
  decryptWithAd(ad: Uint8Array, message: Uint8Array): Buffer {
    if (this.key === undefined) return Buffer.from(message);
    if (message.length < TAG_LENGTH) {
      throw new NoiseError('NOISE_MESSAGE', 'an encrypted field is shorter than its tag');
    }
    const end = message.length - TAG_LENGTH;
    return this.decryptParts(ad, message.subarray(0, end), message.subarray(end));
  }

  /**
   * §4.2/§11.3 Rekey: the key becomes the first 32 bytes of encrypting 32 zero bytes under the
   * reserved nonce 2^64 − 1. The counter goes on (it is not reset), so nonces never repeat.
   */
  rekey(): void {
    const key = this.key;
    if (key === undefined) throw new NoiseError('NOISE_STATE', 'rekey needs a key');
    const maxNonce = Buffer.alloc(12, 0xff);
    maxNonce.writeUInt32LE(0, 0);
    const cipher = this.cipher.sealer(key, maxNonce);
    const next = cipher.update(ZEROS_32);
    cipher.final();
    next.copy(key);
  }

  private nextNonce(): void {
    if (this.n >= MAX_NONCE) {
      throw new NoiseError('NOISE_NONCE_EXHAUSTED', 'this key has sent its last message');
    }
    this.cipher.writeNonce(this.nonce, this.n);
  }
}
