import { createHash, createHmac } from 'node:crypto';

/** A Noise hash function (§4.3, §12.5, §12.8) with the HMAC-based HKDF built on it. */
export interface HashFunctions {
  readonly name: 'BLAKE2b' | 'SHA256';
  /** HASHLEN: 64 for BLAKE2b, 32 for SHA-256. */
  readonly hashLength: 32 | 64;
  /** HASH(a || b || …). */
  hash(...parts: Uint8Array[]): Buffer;
  /**
   * HKDF(chaining_key, input_key_material, num_outputs) of §4.3: HMAC-HASH over node:crypto's
   * HMAC (which uses the hash's own block length, 128 bytes for BLAKE2b, as RFC 2104 asks).
   */
  hkdf(chainingKey: Uint8Array, inputKeyMaterial: Uint8Array, outputs: 2 | 3): Buffer[];
}

const ONE = Buffer.from([1]);
const TWO = Buffer.from([2]);
const THREE = Buffer.from([3]);

function hashFunctions(
  name: HashFunctions['name'],
  algorithm: string,
  hashLength: 32 | 64,
): HashFunctions {
  const hmac = (key: Uint8Array, a: Uint8Array, b?: Uint8Array): Buffer => {
    const h = createHmac(algorithm, key).update(a);
    if (b !== undefined) h.update(b);
    return h.digest();
  };
  return {
    name,
    hashLength,
    hash(...parts) {
      const h = createHash(algorithm);
      for (const part of parts) h.update(part);
      return h.digest();
    },
    hkdf(chainingKey, inputKeyMaterial, outputs) {
      const tempKey = hmac(chainingKey, inputKeyMaterial);
      const output1 = hmac(tempKey, ONE);
      const output2 = hmac(tempKey, output1, TWO);
      return outputs === 2 ? [output1, output2] : [output1, output2, hmac(tempKey, output2, THREE)];
    },
  };
}

/** BLAKE2b-512: shoal's Noise hash (fast in software, 64-byte chaining key). */
export const BLAKE2B = hashFunctions('BLAKE2b', 'blake2b512', 64);

/** SHA-256: for the test vectors and peers that only speak it. */
export const SHA256 = hashFunctions('SHA256', 'sha256', 32);
