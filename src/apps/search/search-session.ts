import { type Hit, type RankingOptions, ResultSet, type SearchResult } from './result-set.js';
import type { QueryMode } from './search-messages.js';

/**
 * One search of ours: its id, keywords and strategy, the results merged so far, and the
 * results as they arrive — to listeners and as an async iterator that ends when the search
 * does (timeout or `close`). `ranked()` gives the whole list in ranking order at any time.
 */
export class SearchSession implements AsyncIterable<SearchResult> {
  readonly idHex: string;
  readonly results: ResultSet;
  /** Hits taken (verified), and refused (bad signature, over the cap). */
  hits = 0;
  refused = 0;
  /** When the first and latest new result arrived (the engine's clock). */
  firstResultAt: number | undefined;
  lastResultAt: number | undefined;
  closed = false;
  private readonly responders = new Set<string>();
  private readonly listeners: ((result: SearchResult) => void)[] = [];
  private readonly closeListeners: (() => void)[] = [];
  private readonly queue: SearchResult[] = [];
  private waiter: ((next: IteratorResult<SearchResult>) => void) | undefined;

  constructor(
    readonly id: Buffer,
    readonly words: readonly string[],
    readonly mode: QueryMode,
    readonly startedAt: number,
    known: (peerId: string) => boolean,
    ranking: Partial<RankingOptions> = {},
  ) {
    this.idHex = id.toString('hex');
    this.results = new ResultSet(words, known, ranking);
  }

  /** Distinct nodes that answered. */
  get sources(): number {
    return this.responders.size;
  }

  /** Merges a verified hit at time `now`; new results go to listeners and the iterator. */
  add(hit: Hit, now: number): void {
    if (this.closed) return;
    this.hits++;
    this.responders.add(hit.responderId);
    for (const result of this.results.add(hit, now - this.startedAt)) {
      this.firstResultAt ??= now;
      this.lastResultAt = now;
      for (const l of this.listeners) l(result);
      if (this.waiter !== undefined) {
        const w = this.waiter;
        this.waiter = undefined;
        w({ value: result, done: false });
      } else {
        this.queue.push(result);
      }
    }
  }

  /** Calls `listener` with each new result. */
  onResult(listener: (result: SearchResult) => void): void {
    this.listeners.push(listener);
  }

  /** Calls `listener` when the search ends. */
  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  /** Every result so far, best first. */
  ranked(): SearchResult[] {
    return this.results.ranked();
  }

  /** Ends the search: late answers are ignored, the iterator finishes. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const l of this.closeListeners) l();
    if (this.waiter !== undefined) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: undefined, done: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<SearchResult> {
    return {
      next: () => {
        const value = this.queue.shift();
        if (value !== undefined) return Promise.resolve({ value, done: false });
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.waiter = resolve;
        });
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
