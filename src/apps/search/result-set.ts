import type { IdentityKey } from '../../crypto/identity.js';
import type { PeerAddress } from '../../metainfo/magnet.js';
import { keywords } from './keywords.js';
import { recordMagnet, type SearchRecord } from './record.js';

/** One verified answer to a query: who answered, where to reach it, what it shares. */
export interface Hit {
  readonly responder: IdentityKey;
  readonly responderId: string;
  /** Where the responder takes BitTorrent connections (magnet `x.pe` hints). */
  readonly peers: readonly PeerAddress[];
  /** Records it signed, each verified. */
  readonly records: readonly SearchRecord[];
}

/** A torrent found by a search, merged over every node that answered with it. */
export interface SearchResult {
  /** Its info-hashes, hex, "v1/v2". */
  readonly torrentKey: string;
  readonly infoHashV1?: Buffer;
  readonly infoHashV2?: Buffer;
  readonly name: string;
  readonly size: number;
  readonly files: number;
  readonly tags: readonly string[];
  /** Distinct nodes that answered with it (each shares it). */
  readonly sources: number;
  /** Highest seeders count a publisher claimed (shown only; claims are not ranked on). */
  readonly seedersClaimed: number;
  /** Share of the query's keywords found in the name and tags, 0–1. */
  readonly match: number;
  /** The vote the ranking uses (see {@link ResultSet}). */
  readonly support: number;
  /** A magnet link with the answering nodes as peers to try. */
  readonly magnet: string;
  /** Milliseconds from the start of the search to the first answer naming it. */
  readonly foundAfterMs: number;
}

/** Settings of the ranking. */
export interface RankingOptions {
  /** The most support all never-seen answering keys together give one torrent. */
  readonly freshCap: number;
  /** Torrents kept (the rest are dropped as they come). */
  readonly maxResults: number;
  /** Peers kept per torrent for its magnet link. */
  readonly maxPeers: number;
}

/** Defaults: fresh keys count as two votes at most; 200 results; 8 peers per magnet. */
export const DEFAULT_RANKING: RankingOptions = { freshCap: 2, maxResults: 200, maxPeers: 8 };

interface Group {
  record: SearchRecord;
  /** Responders that returned it, by id. */
  readonly responders: Set<string>;
  readonly peers: PeerAddress[];
  seeders: number;
  readonly foundAfterMs: number;
  readonly match: number;
}

/**
 * The results of one search, merged and ranked so that spam cannot push honest answers off
 * the first page. Ranking, in order:
 *
 * 1. **Match**: the share of the query's keywords in the record's name and tags (a spammer can
 *    echo every query, so this alone decides nothing between echoes and honest names).
 * 2. **Support**: every answering node has one vote per query, split evenly over the torrents
 *    it answered with, so a node answering with fifty junk records gives each 1/50. Votes of
 *    keys this node had never seen before (fresh keys: free to make by the thousand) count
 *    together at most {@link RankingOptions.freshCap} for one torrent; keys known for a while
 *    count in full. One node answering every query under fresh keys thus adds at most one
 *    vote per query in total, while a torrent shared by several honest nodes gathers several.
 * 3. **Sources**: distinct answering nodes.
 * 4. Earlier answers first; then the info-hash, so the order is total.
 *
 * Publishers' claims (seeders) are never ranked on.
 */
export class ResultSet {
  private readonly groups = new Map<string, Group>();
  /** Per responder, the torrents it answered with (its vote is split over them). */
  private readonly byResponder = new Map<string, Set<string>>();
  private readonly words: readonly string[];
  readonly options: RankingOptions;
  /** Hits ignored because the result set was full. */
  dropped = 0;

  constructor(
    queryWords: readonly string[],
    /** Whether a key was known before this search (not fresh). */
    private readonly known: (peerId: string) => boolean,
    options: Partial<RankingOptions> = {},
  ) {
    this.words = queryWords;
    this.options = { ...DEFAULT_RANKING, ...options };
  }

  /** Distinct torrents found. */
  get size(): number {
    return this.groups.size;
  }

  /** Merges a hit; returns the torrents it added (new results, in arrival order). */
  add(hit: Hit, elapsedMs: number): SearchResult[] {
    const added: string[] = [];
    for (const record of hit.records) {
      if (record.publisherId !== hit.responderId) continue;
      let g = this.groups.get(record.torrentKey);
      if (g === undefined) {
        if (this.groups.size >= this.options.maxResults) {
          this.dropped++;
          continue;
        }
        g = {
          record,
          responders: new Set(),
          peers: [],
          seeders: 0,
          foundAfterMs: elapsedMs,
          match: this.matchOf(record),
        };
        this.groups.set(record.torrentKey, g);
        added.push(record.torrentKey);
      }
      g.responders.add(hit.responderId);
      g.seeders = Math.max(g.seeders, record.seeders);
      for (const p of hit.peers) {
        if (g.peers.length >= this.options.maxPeers) break;
        if (!g.peers.some((q) => q.host === p.host && q.port === p.port)) g.peers.push(p);
      }
      const answered = this.byResponder.get(hit.responderId) ?? new Set();
      answered.add(record.torrentKey);
      this.byResponder.set(hit.responderId, answered);
    }
    return added.map((key) => this.resultOf(key));
  }

  /** The result for one torrent, now. */
  result(torrentKey: string): SearchResult | undefined {
    return this.groups.has(torrentKey) ? this.resultOf(torrentKey) : undefined;
  }

  /** Every result, best first. */
  ranked(): SearchResult[] {
    return [...this.groups.keys()].map((k) => this.resultOf(k)).sort(compareResults);
  }

  private supportOf(g: Group): number {
    let knownVotes = 0;
    let freshVotes = 0;
    for (const r of g.responders) {
      const share = 1 / (this.byResponder.get(r)?.size ?? 1);
      if (this.known(r)) knownVotes += share;
      else freshVotes += share;
    }
    return knownVotes + Math.min(freshVotes, this.options.freshCap);
  }

  private matchOf(record: SearchRecord): number {
    if (this.words.length === 0) return 0;
    const have = new Set([...keywords(record.name), ...record.tags.flatMap((t) => keywords(t))]);
    return this.words.filter((w) => have.has(w)).length / this.words.length;
  }

  private resultOf(key: string): SearchResult {
    const g = this.groups.get(key)!;
    const r = g.record;
    return {
      torrentKey: key,
      ...(r.infoHashV1 !== undefined && { infoHashV1: r.infoHashV1 }),
      ...(r.infoHashV2 !== undefined && { infoHashV2: r.infoHashV2 }),
      name: r.name,
      size: r.size,
      files: r.files,
      tags: r.tags,
      sources: g.responders.size,
      seedersClaimed: g.seeders,
      match: g.match,
      support: this.supportOf(g),
      magnet: recordMagnet(r, g.peers),
      foundAfterMs: g.foundAfterMs,
    };
  }
}

/** The ranking order (best first). */
export function compareResults(a: SearchResult, b: SearchResult): number {
  return (
    b.match - a.match ||
    b.support - a.support ||
    b.sources - a.sources ||
    a.foundAfterMs - b.foundAfterMs ||
    (a.torrentKey < b.torrentKey ? -1 : a.torrentKey > b.torrentKey ? 1 : 0)
  );
}
