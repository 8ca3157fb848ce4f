import { compareKeyDistance, type IdKey, idHead } from './id-key.js';

/** Room for a node's index below the 30-bit distance head in {@link visitByDistance}'s keys. */
const INDEX_BITS = 2 ** 12;

/** {@link visitByDistance}'s heap: one typed array for every query (allocating one was the cost). */
let scratch = new Float64Array(1024);

/**
 * Shows `nodes` to `visit`, closest to `target` first, until it returns false. Ordering up to
 * 512 entries per query was the simulator's hottest code, and a caller takes only the first
 * few: each node gets one number — the first 30 bits of its distance, then its index — in a
 * typed-array min-heap (built in linear time, popped only as far as the caller reads); the rare
 * nodes whose distances tie in those bits are ordered by their full distance.
 */
export function visitByDistance<T extends { readonly key: IdKey }>(
  target: Uint8Array,
  nodes: readonly T[],
  heads: readonly number[],
  visit: (n: T) => boolean,
): void {
  const byKey = (a: T, b: T) => compareKeyDistance(target, a.key, b.key);
  if (nodes.length >= INDEX_BITS) {
    for (const n of [...nodes].sort(byKey)) if (!visit(n)) return;
    return;
  }
  if (scratch.length < nodes.length) scratch = new Float64Array(INDEX_BITS);
  const heap = scratch;
  const head = idHead(target);
  for (let i = 0; i < nodes.length; i++) heap[i] = (heads[i]! ^ head) * INDEX_BITS + i;
  let size = nodes.length;
  for (let i = (size >> 1) - 1; i >= 0; i--) siftDown(heap, i, size);
  const pop = (): T => {
    const top = heap[0]!;
    heap[0] = heap[--size]!;
    siftDown(heap, 0, size);
    return nodes[top % INDEX_BITS]!;
  };
  const distanceHead = (key: number) => Math.floor(key / INDEX_BITS);
  while (size > 0) {
    const tie = distanceHead(heap[0]!);
    const first = pop();
    if (size === 0 || distanceHead(heap[0]!) !== tie) {
      if (!visit(first)) return;
      continue;
    }
    const run = [first];
    while (size > 0 && distanceHead(heap[0]!) === tie) run.push(pop());
    for (const n of run.sort(byKey)) if (!visit(n)) return;
  }
}

/** Restores the min-heap order of `heap[0, size)` below `i`. */
function siftDown(heap: Float64Array, i: number, size: number): void {
  const value = heap[i]!;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= size) break;
    if (child + 1 < size && heap[child + 1]! < heap[child]!) child++;
    if (heap[child]! >= value) break;
    heap[i] = heap[child]!;
    i = child;
  }
  heap[i] = value;
}
