import { ID_BYTES } from './node-id.js';

/**
 * A node id as a 20-character latin1 string: how routing tables keep ids. A string costs 32
 * bytes of heap against ~120 for a `Buffer` (its object, its bytes, and often a pinned pool
 * slab), and tables of a 100,000-node simulation hold tens of millions of ids.
 */
export type IdKey = string;

/** The key of a 20-byte id. */
export function idKey(id: Uint8Array): IdKey {
  if (Buffer.isBuffer(id)) return id.toString('latin1', 0, ID_BYTES);
  return Buffer.from(id.buffer, id.byteOffset, ID_BYTES).toString('latin1');
}

/** The id a key stands for (a fresh copy). */
export function keyBytes(key: IdKey): Buffer {
  return Buffer.from(key, 'latin1');
}

/** The first 30 bits of a key (a small integer, kept unboxed): the coarse part of a distance. */
export function keyHead(key: IdKey): number {
  return (
    (key.charCodeAt(0) << 22) |
    (key.charCodeAt(1) << 14) |
    (key.charCodeAt(2) << 6) |
    (key.charCodeAt(3) >> 2)
  );
}

/** {@link keyHead} of an id given as bytes. */
export function idHead(id: Uint8Array): number {
  return (id[0]! << 22) | (id[1]! << 14) | (id[2]! << 6) | (id[3]! >> 2);
}

/** Negative when key `a` is closer to `target` (by XOR) than key `b`. */
export function compareKeyDistance(target: Uint8Array, a: IdKey, b: IdKey): number {
  for (let i = 0; i < ID_BYTES; i++) {
    const t = target[i]!;
    const da = a.charCodeAt(i) ^ t;
    const db = b.charCodeAt(i) ^ t;
    if (da !== db) return da - db;
  }
  return 0;
}

/** Number of leading bits id `a` and key `b` share (0..160). */
export function keyPrefixBits(a: Uint8Array, b: IdKey): number {
  for (let i = 0; i < ID_BYTES; i++) {
    const x = a[i]! ^ b.charCodeAt(i);
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return ID_BYTES * 8;
}
