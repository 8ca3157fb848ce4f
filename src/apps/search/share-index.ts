import { KeywordFilter } from './keyword-filter.js';
import { keywords } from './keywords.js';

/** Something this node shares, as the search index sees it. */
export interface SharedItem {
  readonly infoHashV1?: Buffer;
  readonly infoHashV2?: Buffer;
  /** The torrent's name. */
  readonly name: string;
  /** Total bytes. */
  readonly size: number;
  /** Paths of its files (their names are searchable too); their count goes in records. */
  readonly files: readonly string[];
  readonly tags?: readonly string[];
  /** Seeders seen lately, if known. */
  readonly seeders?: number;
}

/** Files whose names are indexed per torrent (a torrent of 100,000 files is not 100,000 keywords). */
const MAX_INDEXED_FILES = 256;

/** The identity of an item: its info-hashes in hex, "v1/v2". */
export function itemKey(item: Pick<SharedItem, 'infoHashV1' | 'infoHashV2'>): string {
  return `${item.infoHashV1?.toString('hex') ?? ''}/${item.infoHashV2?.toString('hex') ?? ''}`;
}

/**
 * What this node shares, indexed by keyword: names, file names and tags go through
 * {@link keywords}; a query matches the items that have every one of its keywords. It also
 * gives the keyword filter a leaf sends its ultrapeers, rebuilt only after a change.
 */
export class ShareIndex {
  private readonly items = new Map<string, SharedItem>();
  private readonly byKeyword = new Map<string, Set<string>>();
  private readonly keywordsOf = new Map<string, string[]>();
  private cachedFilter: KeywordFilter | undefined;
  /** Bumped by every change, so summaries know when to be sent again. */
  version = 0;

  /** Items shared. */
  get size(): number {
    return this.items.size;
  }

  /** Adds (or replaces) an item. */
  add(item: SharedItem): void {
    const key = itemKey(item);
    this.remove(key);
    const words = new Set<string>([
      ...keywords(item.name),
      ...item.files.slice(0, MAX_INDEXED_FILES).flatMap((f) => keywords(f)),
      ...(item.tags ?? []).flatMap((t) => keywords(t)),
    ]);
    this.items.set(key, item);
    this.keywordsOf.set(key, [...words]);
    for (const w of words) {
      const set = this.byKeyword.get(w) ?? new Set();
      set.add(key);
      this.byKeyword.set(w, set);
    }
    this.changed();
  }

  /** Removes the item with key `key` (see {@link itemKey}). */
  remove(key: string): void {
    const words = this.keywordsOf.get(key);
    if (words === undefined) return;
    for (const w of words) {
      const set = this.byKeyword.get(w);
      set?.delete(key);
      if (set?.size === 0) this.byKeyword.delete(w);
    }
    this.keywordsOf.delete(key);
    this.items.delete(key);
    this.changed();
  }

  /** The item with key `key`. */
  get(key: string): SharedItem | undefined {
    return this.items.get(key);
  }

  /** Items having every keyword of `words` (already normalised), at most `limit`. */
  match(words: readonly string[], limit: number): SharedItem[] {
    if (words.length === 0) return [];
    const sets = words.map((w) => this.byKeyword.get(w));
    if (sets.some((s) => s === undefined)) return [];
    const sorted = (sets as Set<string>[]).sort((a, b) => a.size - b.size);
    const out: SharedItem[] = [];
    for (const key of sorted[0]!) {
      if (sorted.every((s) => s.has(key))) out.push(this.items.get(key)!);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** The keyword filter of everything shared. */
  filter(): KeywordFilter {
    this.cachedFilter ??= KeywordFilter.of(this.byKeyword.keys());
    return this.cachedFilter;
  }

  private changed(): void {
    this.cachedFilter = undefined;
    this.version++;
  }
}
