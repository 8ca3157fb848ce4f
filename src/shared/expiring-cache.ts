/**
 * A map whose entries expire `ttlMs` after they were set and that never holds more than
 * `maxEntries` (the oldest go first). Time comes in with each call, so it needs no timer.
 * Engines use it for what a hostile peer could otherwise grow without bound: seen message
 * ids, query routes, per-peer state.
 */
export class ExpiringCache<K, V> {
  private readonly entries = new Map<K, { value: V; expires: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
  ) {}

  /** Entries held now (expired ones included until the next call that prunes). */
  get size(): number {
    return this.entries.size;
  }

  /** The value, if present and not expired at `now`. */
  get(key: K, now: number): V | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (e.expires <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  /** Whether `key` is present and not expired. */
  has(key: K, now: number): boolean {
    return this.get(key, now) !== undefined;
  }

  /** Sets `key` (its life starts again), pruning expired and excess entries. */
  set(key: K, value: V, now: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expires: now + this.ttlMs });
    this.prune(now);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as K;
      this.entries.delete(oldest);
    }
  }

  /** Removes `key`. */
  delete(key: K): void {
    this.entries.delete(key);
  }

  /** Drops expired entries (oldest first; stops at the first live one). */
  prune(now: number): void {
    for (const [key, e] of this.entries) {
      if (e.expires > now) break;
      this.entries.delete(key);
    }
  }

  /** Live values, oldest first. */
  *values(now: number): IterableIterator<V> {
    for (const e of this.entries.values()) if (e.expires > now) yield e.value;
  }
}
