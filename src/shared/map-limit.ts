/**
 * `fn` over every item, at most `limit` at a time, results in the items' order. For work that
 * waits on I/O (10,000 library entries read, 10,000 torrents started): one at a time leaves the
 * disk and the thread pool idle, all at once opens too many files.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
