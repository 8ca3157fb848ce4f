/**
 * Inserting into and removing from the middle of an array in place. `Array.prototype.splice`
 * allocates an array of what it removed on every call, even for an insert; on the simulator's
 * hottest lists (routing table buckets, address groups: tens of entries, changed for most
 * datagrams at 100,000 nodes) that allocation and the call cost more than moving the entries.
 */

/** Puts `item` at `index` (0…length), moving later entries up one. */
export function insertAt<T>(list: T[], index: number, item: T): void {
  let i = list.length;
  list.push(item);
  for (; i > index; i--) list[i] = list[i - 1]!;
  list[index] = item;
}

/** Takes the entry at `index` out, moving later entries down one; returns it. */
export function removeAt<T>(list: T[], index: number): T | undefined {
  if (index < 0 || index >= list.length) return undefined;
  const item = list[index];
  for (let i = index + 1; i < list.length; i++) list[i - 1] = list[i]!;
  list.pop();
  return item;
}
