import { sha256, sha256Pair } from './hash.js';

/** The v2 merkle leaf size: every file is hashed in 16 KiB blocks (BEP 52). */
export const MERKLE_BLOCK_BYTES = 16 * 1024;
/** Bytes in one SHA-256 hash. */
export const HASH_BYTES = 32;

/** A leaf beyond the end of a file hashes to 32 zero bytes (BEP 52). */
const ZERO_LEAF = Buffer.alloc(HASH_BYTES);

/** Smallest power of two ≥ n (and ≥ 1). */
export function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Root of a perfect tree of `leafCount` zero leaves (`leafCount` a power of two). */
export function zeroSubtreeRoot(leafCount: number): Buffer {
  let h: Buffer = ZERO_LEAF;
  for (let w = leafCount; w > 1; w /= 2) h = sha256Pair(h, h);
  return h;
}

/**
 * Merkle root over `hashes` (concatenated 32-byte nodes) completed on the right with `pad`
 * nodes to `width` (a power of two ≥ the node count). `pad` is the value of a missing node at
 * the level of `hashes` — a zero leaf, or the root of a zero subtree for piece layers.
 */
export function merkleRoot(hashes: Uint8Array, width: number, pad: Uint8Array = ZERO_LEAF): Buffer {
  if (hashes.length === 0) return Buffer.from(zeroSubtreeRootFrom(pad, width));
  let layer = Buffer.from(hashes.buffer, hashes.byteOffset, hashes.byteLength);
  let padNode: Uint8Array = pad;
  for (let w = width; w > 1; w /= 2) {
    layer = parentLevel(layer, padNode);
    padNode = sha256Pair(padNode, padNode);
  }
  return Buffer.from(layer.subarray(0, HASH_BYTES));
}

function zeroSubtreeRootFrom(pad: Uint8Array, width: number): Uint8Array {
  let h = pad;
  for (let w = width; w > 1; w /= 2) h = sha256Pair(h, h);
  return h;
}

/** SHA-256 of each 16 KiB block of `data` (the last block may be short), concatenated. */
export function blockHashes(data: Uint8Array): Buffer {
  const count = Math.ceil(data.length / MERKLE_BLOCK_BYTES);
  const out = Buffer.allocUnsafe(count * HASH_BYTES);
  for (let i = 0; i < count; i++) {
    const block = data.subarray(i * MERKLE_BLOCK_BYTES, (i + 1) * MERKLE_BLOCK_BYTES);
    sha256(block).copy(out, i * HASH_BYTES);
  }
  return out;
}

/**
 * The level above `level` (32-byte hashes): each parent is the SHA-256 of a pair, an odd last
 * node paired with `padNode` (the hash of an all-padding subtree of that level's height).
 */
export function parentLevel(level: Buffer, padNode: Uint8Array): Buffer {
  const count = level.length / HASH_BYTES;
  const parents = Math.ceil(count / 2);
  const next = Buffer.allocUnsafe(parents * HASH_BYTES);
  for (let i = 0; i < parents; i++) {
    // A whole pair is 64 contiguous bytes: one-shot hashing skips a Hash object per node.
    const parent =
      2 * i + 1 < count
        ? sha256(level.subarray(2 * i * HASH_BYTES, (2 * i + 2) * HASH_BYTES))
        : sha256Pair(level.subarray(2 * i * HASH_BYTES, (2 * i + 1) * HASH_BYTES), padNode);
    parent.copy(next, i * HASH_BYTES);
  }
  return next;
}
