import { createHash, hash } from 'node:crypto';

/** SHA-1 of `data`: v1 piece hashes and the v1 info-hash (BEP 3). */
export function sha1(data: Uint8Array): Buffer {
  // The one-shot `hash` skips the Hash object and is ~30% faster on 16 KiB–1 MiB inputs.
  return hash('sha1', data, 'buffer');
}

/** SHA-256 of `data`: v2 block hashes, merkle nodes and the v2 info-hash (BEP 52). */
export function sha256(data: Uint8Array): Buffer {
  return hash('sha256', data, 'buffer');
}

const PAIR_HALF = 32;
const pair = Buffer.allocUnsafe(2 * PAIR_HALF);

/** SHA-256 of two 32-byte hashes side by side: one merkle tree node. */
export function sha256Pair(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== PAIR_HALF || right.length !== PAIR_HALF) {
    return createHash('sha256').update(left).update(right).digest();
  }
  // Side by side in a scratch buffer, one-shot hashing skips a Hash object (~4× faster here).
  pair.set(left, 0);
  pair.set(right, PAIR_HALF);
  return hash('sha256', pair, 'buffer');
}
