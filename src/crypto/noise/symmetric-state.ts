import { type CipherFunctions, CipherState } from './cipher-state.js';
import type { HashFunctions } from './hash-functions.js';

/**
 * Noise's SymmetricState (§5.2): the chaining key `ck`, the transcript hash `h`, and the
 * handshake's CipherState. Everything the handshake sends or receives is mixed into `h`, and
 * every DH result into `ck`, so both sides end up with the same keys only if they saw the same
 * messages.
 */
export class SymmetricState {
  private ck: Buffer;
  private h: Buffer;
  private readonly cipherState: CipherState;

  constructor(
    protocolName: string,
    private readonly cipher: CipherFunctions,
    private readonly hash: HashFunctions,
  ) {
    const name = Buffer.from(protocolName, 'utf8');
    if (name.length <= hash.hashLength) {
      this.h = Buffer.alloc(hash.hashLength);
      name.copy(this.h);
    } else {
      this.h = hash.hash(name);
    }
    this.ck = Buffer.from(this.h);
    this.cipherState = new CipherState(cipher);
  }

  /** §5.2 MixKey: a new chaining key and handshake key from `inputKeyMaterial`. */
  mixKey(inputKeyMaterial: Uint8Array): void {
    const [ck, tempK] = this.hash.hkdf(this.ck, inputKeyMaterial, 2);
    this.ck = ck!;
    this.cipherState.initializeKey(tempK!.subarray(0, 32));
  }

  /** §5.2 MixHash: h = HASH(h || data). */
  mixHash(data: Uint8Array): void {
    this.h = this.hash.hash(this.h, data);
  }

  /** Whether a DH has been mixed in, so fields are encrypted from now on. */
  hasKey(): boolean {
    return this.cipherState.hasKey();
  }

  /** §5.2 EncryptAndHash. */
  encryptAndHash(plaintext: Uint8Array): Buffer {
    const ciphertext = this.cipherState.encryptWithAd(this.h, plaintext);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  /** §5.2 DecryptAndHash; throws `NOISE_DECRYPT` when the field was tampered with. */
  decryptAndHash(ciphertext: Uint8Array): Buffer {
    const plaintext = this.cipherState.decryptWithAd(this.h, ciphertext);
    this.mixHash(ciphertext);
    return plaintext;
  }

  /** The transcript hash so far (after `split`, the handshake hash for channel binding). */
  handshakeHash(): Buffer {
    return Buffer.from(this.h);
  }

  /** §5.2 Split: the two transport CipherStates (initiator → responder first). */
  split(): [CipherState, CipherState] {
    const [k1, k2] = this.hash.hkdf(this.ck, Buffer.alloc(0), 2);
    return [
      new CipherState(this.cipher, k1!.subarray(0, 32)),
      new CipherState(this.cipher, k2!.subarray(0, 32)),
    ];
  }
}
