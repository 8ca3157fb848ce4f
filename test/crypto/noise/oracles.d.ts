/**
 * The parts of the npm `noise-handshake` (Holepunch's Noise, over libsodium) and
 * `sodium-native` packages that the tests use as independent oracles. Neither ships types.
 */
declare module 'noise-handshake' {
  interface KeyPair {
    publicKey: Buffer;
    secretKey: Buffer;
  }
  /** One side of a handshake; protocol `Noise_<pattern>_25519_ChaChaPoly_BLAKE2b`. */
  class NoiseState {
    constructor(pattern: 'XX' | 'IK' | 'NN', initiator: boolean, staticKeyPair?: KeyPair);
    s: KeyPair;
    rs: Buffer | null;
    complete: boolean;
    /** Key for what this side sends / receives, once complete. */
    tx: Buffer | null;
    rx: Buffer | null;
    hash: Buffer | null;
    initialise(prologue: Uint8Array, remoteStatic?: Uint8Array): void;
    send(payload?: Uint8Array): Buffer;
    recv(message: Uint8Array): Buffer;
  }
  export = NoiseState;
}

declare module 'noise-handshake/cipher.js' {
  /** A transport CipherState: ChaChaPoly, empty associated data, counter from 0. */
  class Cipher {
    constructor(key: Uint8Array);
    encrypt(plaintext: Uint8Array): Buffer;
    decrypt(ciphertext: Uint8Array): Buffer;
  }
  export = Cipher;
}

declare module 'noise-handshake/dh.js' {
  export function generateKeyPair(privateKey?: Buffer): { publicKey: Buffer; secretKey: Buffer };
}

declare module 'sodium-native' {
  export function crypto_sign_ed25519_pk_to_curve25519(out: Buffer, edPublicKey: Uint8Array): void;
  export function crypto_sign_ed25519_sk_to_curve25519(out: Buffer, edSecretKey: Uint8Array): void;
  export function crypto_sign_seed_keypair(pk: Buffer, sk: Buffer, seed: Uint8Array): void;
  export function crypto_aead_chacha20poly1305_ietf_encrypt(
    out: Buffer,
    message: Uint8Array,
    ad: Uint8Array | null,
    nsec: null,
    nonce: Uint8Array,
    key: Uint8Array,
  ): number;
}
