import type { Identity } from '../../crypto/identity.js';
import { ShoalError } from '../../errors.js';
import type { PeerAddress } from '../../metainfo/magnet.js';
import type { PeerContact } from '../../overlay/contact.js';
import { OverlayMessageError } from '../../overlay/errors.js';
import type { Links } from '../../overlay/links.js';
import type { Overlay, OverlayEnv } from '../../overlay/overlay.js';
import { ExpiringCache } from '../../shared/expiring-cache.js';
import { IpRateLimiter } from '../../shared/ip-rate-limiter.js';
import { DEFAULT_FLOOD, Flooding, type FloodOptions } from './flooding.js';
import { keywords } from './keywords.js';
import type { QueryStrategy, StrategyContext } from './query-strategy.js';
import { DEFAULT_WALK, RandomWalk, type WalkOptions } from './random-walk.js';
import { type SearchRecord, signRecord, verifyRecord } from './record.js';
import type { RankingOptions } from './result-set.js';
import {
  decodeSearch,
  encodeSearch,
  HIT_TYPE,
  type HitMessage,
  MAX_HIT_RECORDS,
  MAX_QUERY_WORDS,
  makeHit,
  QUERY_ID_BYTES,
  type QueryMessage,
  QueryMode,
  SEARCH_PROTOCOL,
  type SearchMessage,
  verifyHit,
} from './search-messages.js';
import { SearchSession } from './search-session.js';
import { itemKey, type SharedItem, ShareIndex } from './share-index.js';
import { type UltrapeerOptions, UltrapeerRole } from './ultrapeer-role.js';
import {
  DEFAULT_ULTRAPEER_ROUTING,
  UltrapeerRouting,
  type UltrapeerRoutingOptions,
} from './ultrapeer-routing.js';

/** A search's strategy by name. */
export type StrategyName = 'flood' | 'walk' | 'ultrapeer';

/** Everything the search engine can be told. */
export interface SearchEngineOptions {
  /** How our own queries travel unless a search says otherwise. */
  readonly strategy: StrategyName;
  readonly flood: FloodOptions;
  readonly walk: WalkOptions;
  readonly routing: UltrapeerRoutingOptions;
  readonly ultrapeer: Partial<UltrapeerOptions>;
  readonly ranking: Partial<RankingOptions>;
  /** How long a search collects answers. */
  readonly timeoutMs: number;
  /** Hits a search takes (more are ignored unverified). */
  readonly maxHitsPerSearch: number;
  /** Hits a relay passes back for one query, and from any one link (a leaf: one, its own). */
  readonly maxRelayedHits: number;
  readonly maxHitsPerLink: number;
  /** Queries each peer may send us per second (sustained) and in a burst. */
  readonly queriesPerSecond: number;
  readonly queryBurst: number;
  /** How long a relay remembers where a query came from, and how many such routes. */
  readonly routeMs: number;
  readonly maxRoutes: number;
  /** A key is "known" (not fresh) once we have seen it this long. */
  readonly knownAfterMs: number;
  /** Records are signed again after this long. */
  readonly resignAfterMs: number;
}

/** Defaults. */
export const DEFAULT_SEARCH: SearchEngineOptions = {
  strategy: 'ultrapeer',
  flood: DEFAULT_FLOOD,
  walk: DEFAULT_WALK,
  routing: DEFAULT_ULTRAPEER_ROUTING,
  ultrapeer: {},
  ranking: {},
  timeoutMs: 10_000,
  maxHitsPerSearch: 200,
  maxRelayedHits: 64,
  maxHitsPerLink: 24,
  queriesPerSecond: 5,
  queryBurst: 20,
  routeMs: 60_000,
  maxRoutes: 20_000,
  knownAfterMs: 10 * 60_000,
  resignAfterMs: 6 * 3_600_000,
};

/** What the engine learns from its node besides links and overlay. */
export interface SearchHooks {
  /** Whether this node could be an ultrapeer (reachable, capacity); default: no. */
  capable?(): boolean;
  /** Where we take BitTorrent connections, for the magnet links of our answers. */
  peers?(): PeerAddress[];
  /** Called for every search message this node sends that belongs to a query (for measurement). */
  onQueryMessage?(queryIdHex: string): void;
}

/** What the engine counts. */
export interface SearchCounters {
  queries: number;
  duplicates: number;
  rateLimited: number;
  hitsSent: number;
  hitsRelayed: number;
  badHits: number;
}

/** A search with no keyword left once stop words and punctuation are dropped. */
export class SearchQueryError extends ShoalError {
  constructor(text: string) {
    super('SEARCH_QUERY_INVALID', `"${text.slice(0, 80)}" has no keyword to search for`);
  }
}

/** Where a query came from, and what was passed back for it. */
interface Route {
  readonly prev: PeerContact | undefined;
  relayed: number;
  /** Hits passed on, by the link they came from. */
  readonly perLink: Map<string, number>;
}

/** A record lives this long (30 days) and may come this far (1 hour) from the future. */
const RECORD_MAX_AGE_S = 30 * 86_400;
const RECORD_MAX_AHEAD_S = 3_600;
const MAX_KNOWN_KEYS = 8_192;

/**
 * Keyword search over the overlay: the node's index of what it shares, its answers (signed
 * records in a signed hit), its part in routing other nodes' queries (duplicate suppression,
 * per-peer rate limits, answers passed back along the path, caps on what is relayed), its
 * ultrapeer role, and its own searches with their three strategies (flooding, random walks,
 * ultrapeer routing). It speaks one channel protocol, `shoal/search`, over the node's links.
 */
export class SearchEngine {
  readonly index = new ShareIndex();
  readonly role: UltrapeerRole;
  readonly options: SearchEngineOptions;
  readonly counters: SearchCounters = {
    queries: 0,
    duplicates: 0,
    rateLimited: 0,
    hitsSent: 0,
    hitsRelayed: 0,
    badHits: 0,
  };
  private readonly strategies = new Map<QueryMode, QueryStrategy>();
  private readonly sessions = new Map<string, SearchSession>();
  private readonly routes: ExpiringCache<string, Route>;
  private readonly limiter: IpRateLimiter;
  private readonly knownSince = new Map<string, number>();
  private readonly records = new Map<string, SearchRecord>();
  private stopped = false;

  constructor(
    private readonly links: Links,
    private readonly overlay: Overlay,
    private readonly env: OverlayEnv & { readonly identity: Identity },
    options: Partial<SearchEngineOptions> = {},
    private readonly hooks: SearchHooks = {},
  ) {
    this.options = { ...DEFAULT_SEARCH, ...options };
    this.routes = new ExpiringCache(this.options.maxRoutes, this.options.routeMs);
    this.limiter = new IpRateLimiter(
      env.clock,
      this.options.queriesPerSecond,
      this.options.queryBurst,
      4_096,
    );
    const ctx: StrategyContext = {
      random: env.random,
      send: (to, message) => this.send(to, message),
      neighbors: () => overlay.active(),
      self: () => links.self,
    };
    this.role = new UltrapeerRole(
      {
        links,
        overlay,
        env,
        index: this.index,
        send: (to, message) => this.send(to, message),
        capable: () => hooks.capable?.() ?? false,
      },
      this.options.ultrapeer,
    );
    this.strategies.set(QueryMode.flood, new Flooding(ctx, this.options.flood));
    this.strategies.set(QueryMode.walk, new RandomWalk(ctx, env.timers, this.options.walk));
    this.strategies.set(
      QueryMode.ultrapeer,
      new UltrapeerRouting(ctx, this.role, this.options.routing),
    );
    overlay.onNeighbor((peer, up) => {
      if (up) this.noteKey(peer.id);
    });
    links.listen(SEARCH_PROTOCOL, {
      message: (from, type, payload) => this.onMessage(from, type, payload),
      down: (peerId, reason) => this.role.down(peerId, reason),
    });
  }

  /** Shares an item: it is indexed and answered for from now on. */
  share(item: SharedItem): void {
    this.index.add(item);
  }

  /** Stops sharing the item with key `key` (see {@link itemKey}). */
  unshare(key: string): void {
    this.index.remove(key);
    this.records.delete(key);
  }

  /**
   * Searches the network for `text` (see {@link keywords}); results arrive on the returned
   * session (listeners, or `for await`) until `timeoutMs`. Throws {@link SearchQueryError}
   * when the text has no keyword.
   */
  search(
    text: string,
    options: { strategy?: StrategyName; timeoutMs?: number } = {},
  ): SearchSession {
    const words = keywords(text).slice(0, MAX_QUERY_WORDS);
    if (words.length === 0) throw new SearchQueryError(text);
    const now = this.env.clock.now();
    for (const p of [...this.overlay.active(), ...this.overlay.passive()]) this.noteKey(p.id);
    const mode = QueryMode[options.strategy ?? this.options.strategy];
    const id = this.env.random.bytes(QUERY_ID_BYTES);
    const session = new SearchSession(
      id,
      words,
      mode,
      now,
      (peerId) => this.isKnown(peerId),
      this.options.ranking,
    );
    this.sessions.set(session.idHex, session);
    this.routes.set(session.idHex, { prev: undefined, relayed: 0, perLink: new Map() }, now);
    const timer = this.env.timers.setTimeout(
      () => session.close(),
      options.timeoutMs ?? this.options.timeoutMs,
    );
    session.onClose(() => {
      timer.cancel();
      this.sessions.delete(session.idHex);
    });
    this.strategies.get(mode)!.start(session);
    return session;
  }

  /** Stops the role, the strategies and every search. */
  stop(): void {
    this.stopped = true;
    this.role.stop();
    for (const s of this.strategies.values()) s.stop?.();
    for (const s of [...this.sessions.values()]) s.close();
  }

  // ---- messages ----

  private onMessage(from: PeerContact, type: number, payload: Buffer): void {
    if (this.stopped) return;
    let message: SearchMessage;
    try {
      message = decodeSearch(type, payload);
    } catch (error) {
      if (!(error instanceof OverlayMessageError)) throw error;
      this.links.penalise(from.id, error.message);
      return;
    }
    switch (message.type) {
      case 'query':
        this.onQuery(from, message);
        return;
      case 'hit':
        this.onHit(from, message);
        return;
      case 'check': {
        const session = this.sessions.get(message.id.toString('hex'));
        const go =
          session !== undefined &&
          !session.closed &&
          session.sources < this.options.walk.enoughSources;
        this.send(from, { type: 'check-reply', id: message.id, walker: message.walker, go });
        return;
      }
      default:
        if (this.strategies.get(QueryMode.walk)!.receive?.(from, message)) return;
        this.role.receive(from, message);
    }
  }

  private onQuery(from: PeerContact, query: QueryMessage): void {
    if (!this.limiter.allow(from.id)) {
      this.counters.rateLimited++;
      return;
    }
    const now = this.env.clock.now();
    const idHex = query.id.toString('hex');
    if (this.sessions.has(idHex)) return; // our own query, come back
    const firstVisit = !this.routes.has(idHex, now);
    if (firstVisit) {
      this.counters.queries++;
      this.routes.set(idHex, { prev: from, relayed: 0, perLink: new Map() }, now);
      this.answer(from, query);
    } else if (query.mode !== QueryMode.walk) {
      this.counters.duplicates++;
      return;
    }
    this.strategies.get(query.mode)?.relay(from, query, firstVisit);
  }

  /** Answers from our index, if anything matches: one signed hit. */
  private answer(from: PeerContact, query: QueryMessage): void {
    const words = keywords(query.words.join(' '));
    const items = this.index.match(words, MAX_HIT_RECORDS);
    if (items.length === 0) return;
    // Flooding and walks answer the origin directly; ultrapeer routing back along the path.
    const to = query.mode === QueryMode.ultrapeer ? from : query.origin;
    if (to === undefined) return;
    const records = items.map((item) => this.recordOf(item));
    const { type, payload } = makeHit(
      this.env.identity,
      query.id,
      this.hooks.peers?.() ?? [],
      records,
    );
    this.counters.hitsSent++;
    this.hooks.onQueryMessage?.(query.id.toString('hex'));
    this.links.send(to, SEARCH_PROTOCOL, type, payload);
  }

  private onHit(from: PeerContact, hit: HitMessage): void {
    const idHex = hit.id.toString('hex');
    const session = this.sessions.get(idHex);
    if (session !== undefined) {
      this.take(from, session, hit);
      return;
    }
    const now = this.env.clock.now();
    const route = this.routes.get(idHex, now);
    if (route?.prev === undefined || route.relayed >= this.options.maxRelayedHits) return;
    // Bind answers to links: a leaf answers only for itself, a neighbour ultrapeer for itself
    // and the few leaves it asked; anything beyond is made up and not passed on.
    const isLeaf = this.role.isLeaf(from.id);
    if (isLeaf && hit.responderId !== from.id) {
      this.counters.badHits++;
      this.links.penalise(from.id, 'a leaf answered under another key');
      return;
    }
    const fromLink = route.perLink.get(from.id) ?? 0;
    if (fromLink >= (isLeaf ? 1 : this.options.maxHitsPerLink)) return;
    route.perLink.set(from.id, fromLink + 1);
    route.relayed++;
    this.counters.hitsRelayed++;
    this.hooks.onQueryMessage?.(idHex);
    this.links.send(route.prev, SEARCH_PROTOCOL, HIT_TYPE, hit.encoded);
  }

  /** A hit for our own search: verified, then merged. */
  private take(from: PeerContact, session: SearchSession, hit: HitMessage): void {
    if (session.closed) return;
    if (session.hits + session.refused >= this.options.maxHitsPerSearch) {
      session.refused++;
      return;
    }
    const direct = from.id === hit.responderId;
    // Who answered must be who delivered, unless an ultrapeer relayed it: ours, or (when we
    // are one) a neighbour ultrapeer; each checked its leaves' answers.
    const viaUltrapeer =
      session.mode === QueryMode.ultrapeer &&
      (this.role.isUltrapeer(from.id) || this.role.isTierNeighbor(from.id));
    if (!direct && !viaUltrapeer) {
      session.refused++;
      return;
    }
    if (!verifyHit(hit)) {
      session.refused++;
      this.counters.badHits++;
      if (direct) this.links.penalise(from.id, 'a hit with a bad signature');
      return;
    }
    const nowS = Math.floor(this.env.clock.wallTime() / 1000);
    const records = hit.records.filter(
      (r) =>
        r.publisherId === hit.responderId &&
        r.timestamp <= nowS + RECORD_MAX_AHEAD_S &&
        r.timestamp >= nowS - RECORD_MAX_AGE_S &&
        verifyRecord(r),
    );
    if (records.length < hit.records.length) this.counters.badHits++;
    const now = this.env.clock.now();
    session.add(
      { responder: hit.responder, responderId: hit.responderId, peers: hit.peers, records },
      now,
    );
    this.noteKey(hit.responderId);
  }

  private send(to: PeerContact, message: Exclude<SearchMessage, { type: 'hit' }>): void {
    if ('id' in message && message.id !== undefined)
      this.hooks.onQueryMessage?.(message.id.toString('hex'));
    const { type, payload } = encodeSearch(message);
    this.links.send(to, SEARCH_PROTOCOL, type, payload);
  }

  // ---- records and keys ----

  private recordOf(item: SharedItem): SearchRecord {
    const key = itemKey(item);
    const nowS = Math.floor(this.env.clock.wallTime() / 1000);
    const cached = this.records.get(key);
    if (
      cached !== undefined &&
      nowS - cached.timestamp < this.options.resignAfterMs / 1000 &&
      cached.seeders === (item.seeders ?? 0)
    )
      return cached;
    const record = signRecord(this.env.identity, {
      ...(item.infoHashV1 !== undefined && { infoHashV1: item.infoHashV1 }),
      ...(item.infoHashV2 !== undefined && { infoHashV2: item.infoHashV2 }),
      name: item.name,
      size: item.size,
      files: item.files.length,
      seeders: item.seeders ?? 0,
      timestamp: nowS,
      tags: (item.tags ?? []).slice(0, 8),
    });
    this.records.set(key, record);
    return record;
  }

  /** Remembers when we first saw a key (bounded: the oldest are forgotten). */
  private noteKey(peerId: string): void {
    if (this.knownSince.has(peerId)) return;
    this.knownSince.set(peerId, this.env.clock.now());
    if (this.knownSince.size > MAX_KNOWN_KEYS) {
      const oldest = this.knownSince.keys().next().value;
      if (oldest !== undefined) this.knownSince.delete(oldest);
    }
  }

  private isKnown(peerId: string): boolean {
    const since = this.knownSince.get(peerId);
    return since !== undefined && this.env.clock.now() - since >= this.options.knownAfterMs;
  }
}
