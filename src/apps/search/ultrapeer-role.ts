import { ContactFlag, type PeerContact } from '../../overlay/contact.js';
import type { LinkDownReason, Links } from '../../overlay/links.js';
import { Overlay, type OverlayEnv } from '../../overlay/overlay.js';
import type { TimerHandle } from '../../runtime/runtime.js';
import { ExpiringCache } from '../../shared/expiring-cache.js';
import { FILTER_BITS, KeywordFilter } from './keyword-filter.js';
import { sample } from './query-strategy.js';
import type { SearchMessage, UltrapeerInfo } from './search-messages.js';
import type { ShareIndex } from './share-index.js';

/** The ultrapeers' own overlay: its channel name. */
export const ULTRAPEER_PROTOCOL = 'shoal/ultrapeers';

/** How ultrapeers are elected and how many connections each side keeps. */
export interface UltrapeerOptions {
  /** Ultrapeers each leaf attaches to. */
  readonly leafUltrapeers: number;
  /** Leaves an ultrapeer takes. */
  readonly maxLeaves: number;
  /** Active and passive view of the ultrapeers' overlay. */
  readonly ultrapeerDegree: number;
  readonly ultrapeerPassive: number;
  /** A capable node becomes eligible after this long up. */
  readonly minUptimeMs: number;
  /** An eligible leaf without any ultrapeer promotes itself after this long (plus up to three times as much again, at random, so that not all promote at once). */
  readonly promoteAfterMs: number;
  /** An ultrapeer with fewer than `minLeaves` leaves for this long steps down (if others have room). */
  readonly demoteAfterMs: number;
  readonly minLeaves: number;
  /** Housekeeping period. */
  readonly checkIntervalMs: number;
  /** How long an attach request may go unanswered, and how long a refusing ultrapeer rests. */
  readonly attachTimeoutMs: number;
  readonly refusedMs: number;
  /** Between requests for ultrapeer lists while a leaf lacks ultrapeers. */
  readonly requestEveryMs: number;
  /** At most one summary to each ultrapeer neighbour per this period. */
  readonly filterEveryMs: number;
}

/** Defaults: 3 ultrapeers per leaf, 100 leaves per ultrapeer, 16 ultrapeer neighbours. */
export const DEFAULT_ULTRAPEER: UltrapeerOptions = {
  leafUltrapeers: 3,
  maxLeaves: 100,
  ultrapeerDegree: 16,
  ultrapeerPassive: 48,
  minUptimeMs: 10 * 60_000,
  promoteAfterMs: 30_000,
  demoteAfterMs: 10 * 60_000,
  minLeaves: 5,
  checkIntervalMs: 5_000,
  attachTimeoutMs: 5_000,
  refusedMs: 60_000,
  requestEveryMs: 10_000,
  filterEveryMs: 5_000,
};

/** What the role needs from the search engine. */
export interface RoleContext {
  readonly links: Links;
  /** The main overlay (its views carry ultrapeer flags; its neighbours give ultrapeer lists). */
  readonly overlay: Overlay;
  readonly env: OverlayEnv;
  readonly index: ShareIndex;
  send(to: PeerContact, message: Exclude<SearchMessage, { type: 'hit' }>): void;
  /** Whether this node could serve as an ultrapeer (reachable, enough capacity). */
  capable(): boolean;
}

interface Leaf {
  readonly contact: PeerContact;
  filter: KeywordFilter;
}

/**
 * Whether a keyword filter is worth routing on: one with more than half its bits set would
 * draw nearly every query (a two-word query tests eight bits), which is how a spammer would
 * attract them all. A leaf sending one is refused; a neighbour's is ignored (it still gets
 * the queries that go out at random).
 */
function plausible(filter: KeywordFilter): boolean {
  return filter.bitCount <= FILTER_BITS / 2;
}

const LEAF_HOLD = 'search/leaf';
const ULTRAPEER_HOLD = 'search/ultrapeer';

/**
 * This node's part in ultrapeer routing (Gnutella 0.6, Kazaa). Every node starts as a leaf and
 * attaches to a few ultrapeers, sending each a keyword filter of what it shares. A capable
 * node (reachable, with capacity) that has been up a while and cannot find an ultrapeer with
 * room promotes itself: it joins the ultrapeers' own overlay, takes leaves, and sends its
 * ultrapeer neighbours one filter OR-ed over its leaves and itself. An ultrapeer left with
 * almost no leaves steps down again. Ultrapeers are found through the flags in overlay
 * contacts, through lists that neighbours and ultrapeers hand out, and through refusals.
 */
export class UltrapeerRole {
  role: 'leaf' | 'ultrapeer' = 'leaf';
  /** Leaf: the ultrapeers we are attached to. */
  private readonly attached = new Map<string, PeerContact>();
  private readonly pendingAttach = new Map<string, number>();
  private readonly refused = new Map<string, number>();
  private readonly known: ExpiringCache<string, UltrapeerInfo>;
  /** Ultrapeer: our leaves and the summaries of our ultrapeer neighbours. */
  private readonly leafMap = new Map<string, Leaf>();
  private tierOverlay: Overlay | undefined;
  private readonly neighborFilters = new Map<string, KeywordFilter>();
  private aggregate: KeywordFilter | undefined;
  private aggregateSentAt = Number.NEGATIVE_INFINITY;
  private aggregateStale = false;
  private sentIndexVersion = -1;
  private lackingSince: number | undefined;
  private readonly promoteDelay: number;
  private lastRequestAt = Number.NEGATIVE_INFINITY;
  private fewLeavesSince: number | undefined;
  private readonly startedAt: number;
  private timer: TimerHandle;
  readonly options: UltrapeerOptions;
  /** Promotions and demotions of this node. */
  promotions = 0;
  demotions = 0;

  constructor(
    private readonly ctx: RoleContext,
    options: Partial<UltrapeerOptions> = {},
  ) {
    this.options = { ...DEFAULT_ULTRAPEER, ...options };
    this.known = new ExpiringCache(64, 10 * 60_000);
    this.startedAt = ctx.env.clock.now();
    this.promoteDelay = this.options.promoteAfterMs * (1 + 3 * ctx.env.random.float());
    const period = this.options.checkIntervalMs;
    this.timer = ctx.env.timers.setTimeout(
      () => this.periodic(),
      period * (0.5 + ctx.env.random.float()),
    );
  }

  /** Leaf: the ultrapeers we are attached to. */
  ultrapeers(): PeerContact[] {
    return [...this.attached.values()];
  }

  /** Ultrapeer: our leaves. */
  leaves(): PeerContact[] {
    return [...this.leafMap.values()].map((l) => l.contact);
  }

  /** Ultrapeer: our neighbours in the ultrapeers' overlay. */
  tierNeighbors(): PeerContact[] {
    return this.tierOverlay?.active() ?? [];
  }

  /** The ultrapeers' overlay, while we are one. */
  get tier(): Overlay | undefined {
    return this.tierOverlay;
  }

  /** Ultrapeer: leaves other than `exceptId` whose filter has every position. */
  matchingLeaves(positions: readonly number[], exceptId: string | undefined): PeerContact[] {
    const out: PeerContact[] = [];
    for (const [id, leaf] of this.leafMap) {
      if (id !== exceptId && leaf.filter.matches(positions)) out.push(leaf.contact);
    }
    return out;
  }

  /** Ultrapeer: neighbours (not in `except`) whose summary has every position. */
  matchingNeighbors(positions: readonly number[], except: ReadonlySet<string>): PeerContact[] {
    return this.tierNeighbors().filter(
      (p) => !except.has(p.id) && this.neighborFilters.get(p.id)?.matches(positions) === true,
    );
  }

  /** Whether `peerId` is one of our leaves. */
  isLeaf(peerId: string): boolean {
    return this.leafMap.has(peerId);
  }

  /** Whether `peerId` is an ultrapeer we are attached to. */
  isUltrapeer(peerId: string): boolean {
    return this.attached.has(peerId);
  }

  /** Whether `peerId` is one of our neighbours in the ultrapeers' overlay. */
  isTierNeighbor(peerId: string): boolean {
    return this.tierOverlay?.membership.isActive(peerId) === true;
  }

  /** Our load: the share of leaf slots in use, percent. */
  load(): number {
    return Math.min(100, Math.round((100 * this.leafMap.size) / this.options.maxLeaves));
  }

  /** Handles the role's messages; true when the message was one of them. */
  receive(from: PeerContact, message: SearchMessage): boolean {
    const now = this.ctx.env.clock.now();
    switch (message.type) {
      case 'attach':
        if (message.contact.id !== from.id) return true;
        this.onAttach(message.contact, message.filter, now);
        return true;
      case 'attach-reply':
        this.onAttachReply(from, message.accepted, message.ultrapeers, now);
        return true;
      case 'filter':
        this.onFilter(from, message.filter);
        return true;
      case 'detach':
        this.learnAll(message.ultrapeers, now);
        if (this.leafMap.delete(from.id)) {
          this.ctx.links.release(from.id, LEAF_HOLD);
          this.aggregateStale = true;
        }
        if (this.attached.delete(from.id)) {
          this.ctx.links.release(from.id, ULTRAPEER_HOLD);
          this.refused.set(from.id, now + this.options.refusedMs);
          this.lackingSince ??= now;
        }
        return true;
      case 'ultrapeer-request':
        this.ctx.send(from, { type: 'ultrapeer-list', ultrapeers: this.offer(from.id, now) });
        return true;
      case 'ultrapeer-list':
        this.learnAll(message.ultrapeers, now);
        return true;
      default:
        return false;
    }
  }

  /** A peer's connection could not be made or was lost. */
  down(peerId: string, reason: LinkDownReason): void {
    const now = this.ctx.env.clock.now();
    let held = false;
    if (this.leafMap.delete(peerId)) {
      this.aggregateStale = true;
      held = true;
    }
    if (this.attached.delete(peerId)) {
      this.lackingSince ??= now;
      held = true;
    }
    if (this.pendingAttach.delete(peerId)) this.refused.set(peerId, now + this.options.refusedMs);
    // An idle connection closing says nothing; a held one lost, or none made, says it is gone.
    if (held || reason === 'unreachable') this.known.delete(peerId);
  }

  /** Stops housekeeping and leaves the ultrapeers' overlay. */
  stop(): void {
    this.timer.cancel();
    this.tierOverlay?.stop();
  }

  // ---- leaf side ----

  private onAttachReply(
    from: PeerContact,
    accepted: boolean,
    list: readonly UltrapeerInfo[],
    now: number,
  ): void {
    this.learnAll(list, now);
    if (!this.pendingAttach.delete(from.id)) return;
    if (!accepted || this.role !== 'leaf' || this.attached.size >= this.options.leafUltrapeers) {
      if (accepted) this.ctx.send(from, { type: 'detach', ultrapeers: [] });
      this.refused.set(from.id, now + this.options.refusedMs);
      return;
    }
    const contact = this.known.get(from.id, now)?.contact ?? from;
    this.attached.set(from.id, contact);
    this.ctx.links.hold(from.id, ULTRAPEER_HOLD);
    if (this.attached.size >= this.options.leafUltrapeers) this.lackingSince = undefined;
  }

  /** Attaches to more ultrapeers, asks for lists, or promotes itself. */
  private leafCheck(now: number): void {
    for (const [id, until] of this.refused) if (until <= now) this.refused.delete(id);
    for (const [id, since] of this.pendingAttach) {
      if (now - since >= this.options.attachTimeoutMs) {
        this.pendingAttach.delete(id);
        this.refused.set(id, now + this.options.refusedMs);
      }
    }
    const version = this.ctx.index.version;
    if (version !== this.sentIndexVersion) {
      this.sentIndexVersion = version;
      const filter = this.ctx.index.filter();
      for (const up of this.attached.values()) this.ctx.send(up, { type: 'filter', filter });
    }
    const missing = this.options.leafUltrapeers - this.attached.size - this.pendingAttach.size;
    if (this.attached.size >= this.options.leafUltrapeers) return;
    this.lackingSince ??= now;
    const candidates = this.candidates(now);
    for (const c of sample(this.ctx.env.random, candidates, Math.max(0, missing))) {
      this.pendingAttach.set(c.contact.id, now);
      this.ctx.send(c.contact, {
        type: 'attach',
        contact: this.ctx.links.self,
        filter: this.ctx.index.filter(),
      });
    }
    if (candidates.length < missing && now - this.lastRequestAt >= this.options.requestEveryMs) {
      this.lastRequestAt = now;
      for (const peer of this.ctx.overlay.active())
        this.ctx.send(peer, { type: 'ultrapeer-request' });
    }
    if (
      this.attached.size === 0 &&
      this.pendingAttach.size === 0 &&
      candidates.length === 0 &&
      this.ctx.capable() &&
      now - this.startedAt >= this.options.minUptimeMs &&
      now - this.lackingSince >= this.promoteDelay
    ) {
      this.promote(now);
    }
  }

  /** Notes the ultrapeers the main overlay's views show (their contacts carry the flag). */
  private harvest(now: number): void {
    for (const peer of [...this.ctx.overlay.active(), ...this.ctx.overlay.passive()]) {
      if ((peer.flags & ContactFlag.ULTRAPEER) !== 0 && !this.known.has(peer.id, now))
        this.known.set(peer.id, { contact: peer, load: 50 }, now);
    }
  }

  /** Known ultrapeers with room we are not attached to and that have not refused us lately. */
  private candidates(now: number): UltrapeerInfo[] {
    const me = this.ctx.links.self.id;
    const out: UltrapeerInfo[] = [];
    for (const info of this.known.values(now)) {
      const id = info.contact.id;
      if (id === me || info.load >= 100 || this.attached.has(id) || this.pendingAttach.has(id))
        continue;
      const until = this.refused.get(id);
      if (until !== undefined && until > now) continue;
      out.push(info);
    }
    return out;
  }

  // ---- ultrapeer side ----

  private onAttach(leaf: PeerContact, filter: KeywordFilter, now: number): void {
    const room =
      this.role === 'ultrapeer' && this.leafMap.size < this.options.maxLeaves && plausible(filter);
    const accepted = this.leafMap.has(leaf.id) || room;
    if (accepted && !this.leafMap.has(leaf.id)) {
      this.leafMap.set(leaf.id, { contact: leaf, filter });
      this.ctx.links.hold(leaf.id, LEAF_HOLD);
      this.aggregateStale = true;
    }
    this.ctx.send(leaf, { type: 'attach-reply', accepted, ultrapeers: this.offer(leaf.id, now) });
  }

  private onFilter(from: PeerContact, filter: KeywordFilter): void {
    const leaf = this.leafMap.get(from.id);
    if (leaf !== undefined) {
      leaf.filter = plausible(filter) ? filter : KeywordFilter.empty();
      this.aggregateStale = true;
    } else if (this.tierOverlay?.membership.isActive(from.id)) {
      if (plausible(filter)) this.neighborFilters.set(from.id, filter);
      else this.neighborFilters.delete(from.id);
    }
  }

  private promote(now: number): void {
    this.role = 'ultrapeer';
    this.promotions++;
    this.ctx.links.setFlags(this.ctx.links.self.flags | ContactFlag.ULTRAPEER);
    this.fewLeavesSince = now;
    this.aggregateStale = true;
    this.lackingSince = undefined;
    for (const up of this.attached.values()) {
      this.ctx.send(up, { type: 'detach', ultrapeers: [] });
      this.ctx.links.release(up.id, ULTRAPEER_HOLD);
    }
    this.attached.clear();
    this.pendingAttach.clear();
    const tier = new Overlay(this.ctx.links, this.ctx.env, {
      protocol: ULTRAPEER_PROTOCOL,
      gossipProtocol: undefined,
      membership: {
        activeSize: this.options.ultrapeerDegree,
        passiveSize: this.options.ultrapeerPassive,
      },
    });
    tier.onNeighbor((peer, up) => {
      if (!up) {
        this.neighborFilters.delete(peer.id);
        return;
      }
      this.ctx.send(peer, { type: 'filter', filter: this.summary() });
    });
    this.tierOverlay = tier;
    tier.join(this.knownUltrapeers(now));
  }

  private demote(now: number): void {
    const offer = this.offer(undefined, now);
    for (const leaf of this.leafMap.values()) {
      this.ctx.send(leaf.contact, { type: 'detach', ultrapeers: offer });
      this.ctx.links.release(leaf.contact.id, LEAF_HOLD);
    }
    this.leafMap.clear();
    this.tierOverlay?.stop();
    this.tierOverlay = undefined;
    this.neighborFilters.clear();
    this.role = 'leaf';
    this.demotions++;
    this.ctx.links.setFlags(this.ctx.links.self.flags & ~ContactFlag.ULTRAPEER);
    this.lackingSince = now;
    this.sentIndexVersion = -1;
  }

  private ultrapeerCheck(now: number): void {
    const tier = this.tierOverlay;
    if (tier !== undefined) {
      const others = this.knownUltrapeers(now);
      if (tier.active().length === 0 && others.length > 0) tier.join(others);
      else tier.learn(others);
      // Too few ultrapeer neighbours: ask the main overlay's neighbours whom they know.
      if (
        tier.active().length < this.options.ultrapeerDegree / 2 &&
        now - this.lastRequestAt >= this.options.requestEveryMs
      ) {
        this.lastRequestAt = now;
        for (const peer of this.ctx.overlay.active())
          this.ctx.send(peer, { type: 'ultrapeer-request' });
      }
    }
    if (this.aggregateStale && now - this.aggregateSentAt >= this.options.filterEveryMs) {
      this.aggregateStale = false;
      this.aggregate = undefined;
      this.aggregateSentAt = now;
      const filter = this.summary();
      for (const peer of this.tierNeighbors()) this.ctx.send(peer, { type: 'filter', filter });
    }
    if (this.leafMap.size >= this.options.minLeaves) {
      this.fewLeavesSince = undefined;
      return;
    }
    this.fewLeavesSince ??= now;
    const roomElsewhere = this.knownUltrapeers(now).length;
    if (
      now - this.fewLeavesSince >= this.options.demoteAfterMs &&
      roomElsewhere >= this.options.leafUltrapeers
    ) {
      this.demote(now);
    }
  }

  /** The OR of our leaves' filters and our own: what we tell ultrapeer neighbours. */
  private summary(): KeywordFilter {
    this.aggregate ??= KeywordFilter.union([
      this.ctx.index.filter(),
      ...[...this.leafMap.values()].map((l) => l.filter),
    ]);
    return this.aggregate;
  }

  // ---- both ----

  private periodic(): void {
    const now = this.ctx.env.clock.now();
    const settled =
      this.role === 'leaf' &&
      this.attached.size >= this.options.leafUltrapeers &&
      this.ctx.index.version === this.sentIndexVersion;
    if (!settled) {
      this.harvest(now);
      if (this.role === 'leaf') this.leafCheck(now);
      else this.ultrapeerCheck(now);
    }
    // A leaf with all its ultrapeers has little to do: it looks three times less often.
    const period = this.options.checkIntervalMs * (settled ? 3 : 1);
    this.timer = this.ctx.env.timers.setTimeout(
      () => this.periodic(),
      period * (0.75 + 0.5 * this.ctx.env.random.float()),
    );
  }

  /** Known ultrapeers other than us with room (load under 100). */
  private knownUltrapeers(now: number): PeerContact[] {
    const me = this.ctx.links.self.id;
    return [...this.known.values(now)]
      .filter((u) => u.contact.id !== me && u.load < 100)
      .map((u) => u.contact);
  }

  /** Ultrapeers to tell someone about: us (if one), our ultrapeers or neighbours, others known. */
  private offer(exceptId: string | undefined, now: number): UltrapeerInfo[] {
    const out: UltrapeerInfo[] = [];
    const seen = new Set<string>(exceptId === undefined ? [] : [exceptId]);
    const add = (info: UltrapeerInfo) => {
      if (seen.has(info.contact.id) || out.length >= 8) return;
      seen.add(info.contact.id);
      out.push(info);
    };
    if (this.role === 'ultrapeer') add({ contact: this.ctx.links.self, load: this.load() });
    for (const p of this.tierNeighbors())
      add(this.known.get(p.id, now) ?? { contact: p, load: 50 });
    for (const p of this.attached.values())
      add(this.known.get(p.id, now) ?? { contact: p, load: 50 });
    for (const info of this.known.values(now)) if (info.load < 100) add(info);
    return out;
  }

  private learnAll(list: readonly UltrapeerInfo[], now: number): void {
    const me = this.ctx.links.self.id;
    for (const info of list) {
      if (info.contact.id === me) continue;
      const flagged = {
        contact: { ...info.contact, flags: info.contact.flags | ContactFlag.ULTRAPEER },
        load: info.load,
      };
      this.known.set(info.contact.id, flagged, now);
    }
    this.tierOverlay?.learn(list.map((u) => u.contact).filter((c) => c.id !== me));
  }
}
