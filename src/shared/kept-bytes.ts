/** Bytes of each slab {@link keepBytes} packs into. */
const SLAB_BYTES = 4096;
let slab = Buffer.allocUnsafeSlow(0);
let used = 0;

/**
 * A copy of `bytes` (at most a few dozen) for keeping a long time: node ids in routing tables,
 * secrets. A small buffer decoded from a packet or drawn at random is a view of Node's shared
 * 8 KiB pool, and one kept view keeps the whole slab alive — in the simulator's DHT that was
 * 40 % of the heap. Kept bytes are packed into slabs of their own instead.
 */
export function keepBytes(bytes: Uint8Array): Buffer {
  if (bytes.length > SLAB_BYTES / 16) return Buffer.from(bytes);
  if (used + bytes.length > slab.length) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    used = 0;
  }
  const kept = slab.subarray(used, used + bytes.length);
  kept.set(bytes);
  used += bytes.length;
  return kept;
}
