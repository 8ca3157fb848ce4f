import type { RandomSource } from '../runtime/runtime.js';
import { pickOne } from '../shared/pick.js';
import { type PeerContact, withFlags } from './contact.js';
import type { LinkDownReason } from './links.js';
import type { MembershipMessage } from './membership-messages.js';

/** HyParView's parameters; the defaults are the paper's for networks of about 10,000 nodes. */
export interface MembershipOptions {
  /** Active view: open connections, the neighbours broadcasts and queries use (fanout + 1). */
  readonly activeSize: number;
  /** Passive view: known keys kept as replacements. */
  readonly passiveSize: number;
  /** Active random walk length (ARWL): how far a join's walks go. */
  readonly activeWalk: number;
  /** Passive random walk length (PRWL): the hop of a join walk that keeps the newcomer as passive. */
  readonly passiveWalk: number;
  /** Active peers (k_a) and passive peers (k_p) a shuffle carries. */
  readonly shuffleActive: number;
  readonly shufflePassive: number;
  /** How far a shuffle walks before someone answers it. */
  readonly shuffleWalk: number;
  /** Mean time between our shuffles (each is drawn within ±50 %). */
  readonly shuffleIntervalMs: number;
  /** How long a `neighbor` request may go unanswered. */
  readonly neighborTimeoutMs: number;
  /** How long a peer that refused or failed is not asked again. */
  readonly retryAfterMs: number;
  /** Between join attempts while we have no neighbour at all. */
  readonly joinRetryMs: number;
}

/** Defaults from the paper (active 5, passive 30, ARWL 6, PRWL 3, k_a 3, k_p 4). */
export const DEFAULT_MEMBERSHIP: MembershipOptions = {
  activeSize: 5,
  passiveSize: 30,
  activeWalk: 6,
  passiveWalk: 3,
  shuffleActive: 3,
  shufflePassive: 4,
  shuffleWalk: 6,
  shuffleIntervalMs: 30_000,
  neighborTimeoutMs: 5_000,
  retryAfterMs: 30_000,
  joinRetryMs: 10_000,
};

/** Where the membership core's decisions go: messages to send, neighbours gained and lost. */
export interface MembershipSink {
  send(to: PeerContact, message: MembershipMessage): void;
  /** `peer` entered the active view: keep its connection open. */
  up(peer: PeerContact): void;
  /** `peer` left the active view. */
  down(peer: PeerContact): void;
}

/** Shuffles whose answer we still wait for (their samples, to evict first). */
const MAX_OPEN_SHUFFLES = 8;

/**
 * HyParView membership as a sans-I/O state machine: messages, link failures and time go in
 * (with `now`), messages and view changes come out through the sink. It keeps a small active
 * view (symmetric: each active link is an open connection both ends count) and a larger passive
 * view of keys, and repairs the first from the second as soon as a neighbour fails, which is
 * what keeps the graph connected when many nodes fail at once. It never touches a socket, clock
 * or timer: the driver calls `tick` at `nextWake()`.
 */
export class Membership {
  private readonly activeView = new Map<string, PeerContact>();
  private readonly passiveView = new Map<string, PeerContact>();
  /** `neighbor` requests awaiting an answer, by peer, with the time they were sent. */
  private readonly pending = new Map<string, { contact: PeerContact; since: number }>();
  /** Peers not to ask again before the time given. */
  private readonly cooldown = new Map<string, number>();
  private readonly openShuffles = new Map<number, readonly PeerContact[]>();
  private joinContacts: PeerContact[] = [];
  private nextJoinAt = Number.POSITIVE_INFINITY;
  private nextShuffleAt: number;
  private shuffleSeq = 0;
  private stopped = false;
  readonly options: MembershipOptions;

  constructor(
    /** Our own contact as it is now (flags may change). */
    private readonly self: () => PeerContact,
    private readonly random: RandomSource,
    private readonly sink: MembershipSink,
    now: number,
    options: Partial<MembershipOptions> = {},
    /** Peers we refuse (penalised); never put in a view. */
    private readonly banned: (peerId: string) => boolean = () => false,
  ) {
    this.options = { ...DEFAULT_MEMBERSHIP, ...options };
    this.nextShuffleAt = now + this.shuffleDelay();
  }

  /** The active view, in no particular order. */
  active(): PeerContact[] {
    return [...this.activeView.values()];
  }

  /** The passive view. */
  passive(): PeerContact[] {
    return [...this.passiveView.values()];
  }

  /** Whether `peerId` is an active neighbour. */
  isActive(peerId: string): boolean {
    return this.activeView.has(peerId);
  }

  /**
   * Joins through one of `contacts` (known peers, LSD, the DHT's overlay key): sends `join`
   * to one at random; the others are tried in turn while we have no neighbour.
   */
  join(contacts: readonly PeerContact[], now: number): void {
    const me = this.self().id;
    this.joinContacts = contacts.filter((c) => c.id !== me && !this.banned(c.id));
    this.nextJoinAt = now;
    this.tick(now);
  }

  /** Offers peers learnt elsewhere (e.g. from the DHT) as passive candidates. */
  learn(contacts: readonly PeerContact[]): void {
    for (const c of contacts) this.addPassive(c, undefined);
  }

  /** Leaves: tells every neighbour, which will not keep us as a passive peer. */
  leave(): void {
    for (const peer of this.activeView.values()) {
      this.sink.send(peer, { type: 'disconnect', leaving: true });
      this.sink.down(peer);
    }
    this.activeView.clear();
    this.stopped = true;
  }

  /** A message arrived from `from` (whose key the link proved). */
  receive(from: PeerContact, message: MembershipMessage, now: number): void {
    if (this.banned(from.id)) return;
    if (this.stopped) {
      // We left: whoever still takes us for a neighbour should stop.
      if (message.type !== 'disconnect')
        this.sink.send(from, { type: 'disconnect', leaving: true });
      return;
    }
    switch (message.type) {
      case 'join':
        if (message.contact.id !== from.id) return;
        this.onJoin(message.contact);
        break;
      case 'forward-join':
        this.onForwardJoin(from, message.contact, message.ttl);
        break;
      case 'connect':
        if (message.contact.id !== from.id) return;
        this.addActive(message.contact);
        break;
      case 'neighbor':
        if (message.contact.id !== from.id) return;
        this.onNeighbor(message.contact, message.high);
        break;
      case 'neighbor-reply':
        if (message.contact.id !== from.id) return;
        this.onNeighborReply(message.contact, message.accepted, now);
        break;
      case 'disconnect':
        this.onDisconnect(from, message.leaving, now);
        break;
      case 'shuffle':
        this.onShuffle(from, message.id, message.origin, message.contacts, message.ttl);
        break;
      case 'shuffle-reply': {
        const sent = this.openShuffles.get(message.id);
        this.openShuffles.delete(message.id);
        const evict = new Set((sent ?? []).map((c) => c.id));
        for (const c of message.contacts) this.addPassive(c, evict);
        break;
      }
    }
    this.fill(now);
  }

  /** The connection to `peerId` could not be made or was lost: replace it if it was active. */
  linkDown(peerId: string, reason: LinkDownReason, now: number): void {
    if (this.stopped) return;
    const active = this.activeView.get(peerId);
    if (active !== undefined) {
      this.activeView.delete(peerId);
      this.sink.down(active);
    }
    if (this.pending.delete(peerId) || reason === 'unreachable' || active !== undefined) {
      this.passiveView.delete(peerId);
      this.cooldown.set(peerId, now + this.options.retryAfterMs);
    }
    this.fill(now);
  }

  /** Runs what is due: timed-out requests, shuffles, refilling, joining again. */
  tick(now: number): void {
    if (this.stopped) return;
    for (const [id, p] of this.pending) {
      if (now - p.since >= this.options.neighborTimeoutMs) {
        this.pending.delete(id);
        this.cooldown.set(id, now + this.options.retryAfterMs);
      }
    }
    for (const [id, until] of this.cooldown) if (until <= now) this.cooldown.delete(id);
    if (now >= this.nextShuffleAt) {
      this.nextShuffleAt = now + this.shuffleDelay();
      this.shuffle();
    }
    this.fill(now);
    if (this.activeView.size === 0 && this.pending.size === 0 && now >= this.nextJoinAt) {
      this.nextJoinAt = now + this.options.joinRetryMs;
      const candidates = this.joinContacts.filter((c) => !this.cooldown.has(c.id));
      const contact = pickOne(this.random, candidates);
      if (contact !== undefined) {
        this.sink.send(contact, { type: 'join', contact: this.self() });
        this.addActive(contact);
      }
    }
  }

  /** When `tick` should next run. */
  nextWake(): number {
    if (this.stopped) return Number.POSITIVE_INFINITY;
    let at = this.nextShuffleAt;
    for (const p of this.pending.values())
      at = Math.min(at, p.since + this.options.neighborTimeoutMs);
    if (this.activeView.size < this.options.activeSize) {
      for (const until of this.cooldown.values()) at = Math.min(at, until);
      if (this.activeView.size === 0) at = Math.min(at, this.nextJoinAt);
    }
    return at;
  }

  // ---- the protocol ----

  private onJoin(newcomer: PeerContact): void {
    this.addActive(newcomer);
    for (const peer of this.activeView.values()) {
      if (peer.id === newcomer.id) continue;
      this.sink.send(peer, {
        type: 'forward-join',
        contact: newcomer,
        ttl: this.options.activeWalk,
      });
    }
  }

  private onForwardJoin(from: PeerContact, newcomer: PeerContact, ttl: number): void {
    const me = this.self();
    if (newcomer.id === me.id || this.banned(newcomer.id)) return;
    if (ttl === 0 || this.activeView.size <= 1) {
      this.acceptWalker(newcomer);
      return;
    }
    if (ttl === this.options.passiveWalk) this.addPassive(newcomer, undefined);
    const next = this.pick([...this.activeView.values()], [from.id, newcomer.id]);
    if (next === undefined) this.acceptWalker(newcomer);
    else this.sink.send(next, { type: 'forward-join', contact: newcomer, ttl: ttl - 1 });
  }

  /** A join walk ended here: the newcomer becomes our neighbour, and we tell it so. */
  private acceptWalker(newcomer: PeerContact): void {
    if (this.activeView.has(newcomer.id)) return;
    this.addActive(newcomer);
    this.sink.send(newcomer, { type: 'connect', contact: this.self() });
  }

  private onNeighbor(peer: PeerContact, high: boolean): void {
    const accepted =
      this.activeView.has(peer.id) || high || this.activeView.size < this.options.activeSize;
    if (accepted) this.addActive(peer);
    this.sink.send(peer, { type: 'neighbor-reply', contact: this.self(), accepted });
  }

  private onNeighborReply(peer: PeerContact, accepted: boolean, now: number): void {
    if (!this.pending.delete(peer.id)) return;
    if (accepted) this.addActive(peer);
    else this.cooldown.set(peer.id, now + this.options.retryAfterMs);
  }

  private onDisconnect(from: PeerContact, leaving: boolean, now: number): void {
    const peer = this.activeView.get(from.id);
    if (peer === undefined) return;
    this.activeView.delete(from.id);
    this.sink.down(peer);
    if (leaving) {
      this.passiveView.delete(from.id);
      this.cooldown.set(from.id, now + this.options.retryAfterMs);
    } else {
      this.addPassive(peer, undefined);
      // It dropped us to make room: do not ask it straight back.
      this.cooldown.set(from.id, now + this.options.retryAfterMs);
    }
  }

  private shuffle(): void {
    const target = this.pick([...this.activeView.values()], []);
    if (target === undefined) return;
    const sample = [
      ...this.sample([...this.activeView.values()], this.options.shuffleActive, [target.id]),
      ...this.sample([...this.passiveView.values()], this.options.shufflePassive, [target.id]),
    ];
    const id = this.shuffleSeq++ >>> 0;
    this.openShuffles.set(id, sample);
    if (this.openShuffles.size > MAX_OPEN_SHUFFLES) {
      const oldest = this.openShuffles.keys().next().value;
      if (oldest !== undefined) this.openShuffles.delete(oldest);
    }
    this.sink.send(target, {
      type: 'shuffle',
      id,
      origin: this.self(),
      contacts: sample,
      ttl: this.options.shuffleWalk,
    });
  }

  private onShuffle(
    from: PeerContact,
    id: number,
    origin: PeerContact,
    contacts: readonly PeerContact[],
    ttl: number,
  ): void {
    const me = this.self();
    if (origin.id === me.id || this.banned(origin.id)) return;
    const left = ttl - 1;
    if (left > 0 && this.activeView.size > 1) {
      const next = this.pick([...this.activeView.values()], [from.id, origin.id]);
      if (next !== undefined) {
        this.sink.send(next, { type: 'shuffle', id, origin, contacts, ttl: left });
        return;
      }
    }
    const reply = this.sample([...this.passiveView.values()], contacts.length + 1, [origin.id]);
    this.sink.send(origin, { type: 'shuffle-reply', id, contacts: reply });
    const evict = new Set(reply.map((c) => c.id));
    this.addPassive(origin, evict);
    for (const c of contacts) this.addPassive(c, evict);
  }

  /** Asks passive peers to become active until the active view (with pending asks) is full. */
  private fill(now: number): void {
    if (this.stopped) return;
    while (this.activeView.size + this.pending.size < this.options.activeSize) {
      const candidates = [...this.passiveView.values()].filter(
        (c) => !this.pending.has(c.id) && !this.cooldown.has(c.id),
      );
      const peer = pickOne(this.random, candidates);
      if (peer === undefined) return;
      this.pending.set(peer.id, { contact: peer, since: now });
      this.sink.send(peer, {
        type: 'neighbor',
        contact: this.self(),
        high: this.activeView.size === 0,
      });
    }
  }

  // ---- the views ----

  private addActive(peer: PeerContact): void {
    const me = this.self();
    if (peer.id === me.id || this.banned(peer.id)) return;
    const known = this.activeView.get(peer.id);
    if (known !== undefined) {
      this.activeView.set(peer.id, peer.addresses.length > 0 ? peer : withFlags(known, peer.flags));
      return;
    }
    if (this.activeView.size >= this.options.activeSize) {
      const dropped = this.pick([...this.activeView.values()], []);
      if (dropped !== undefined) {
        this.activeView.delete(dropped.id);
        this.sink.send(dropped, { type: 'disconnect', leaving: false });
        this.sink.down(dropped);
        this.addPassive(dropped, undefined);
      }
    }
    this.passiveView.delete(peer.id);
    this.pending.delete(peer.id);
    this.cooldown.delete(peer.id);
    this.activeView.set(peer.id, peer);
    this.sink.up(peer);
  }

  private addPassive(peer: PeerContact, evictFirst: ReadonlySet<string> | undefined): void {
    const me = this.self();
    if (peer.id === me.id || this.activeView.has(peer.id) || this.banned(peer.id)) return;
    const known = this.passiveView.get(peer.id);
    if (known !== undefined) {
      if (peer.addresses.length > 0 || peer.flags !== known.flags)
        this.passiveView.set(peer.id, peer);
      return;
    }
    if (this.passiveView.size >= this.options.passiveSize) {
      let victim: string | undefined;
      if (evictFirst !== undefined) {
        for (const id of evictFirst) {
          if (this.passiveView.has(id) && !this.pending.has(id)) {
            victim = id;
            break;
          }
        }
      }
      victim ??= this.pick([...this.passiveView.values()], [...this.pending.keys()])?.id;
      if (victim === undefined) return;
      this.passiveView.delete(victim);
    }
    this.passiveView.set(peer.id, peer);
  }

  private pick(from: readonly PeerContact[], exclude: readonly string[]): PeerContact | undefined {
    const candidates = exclude.length > 0 ? from.filter((c) => !exclude.includes(c.id)) : from;
    return pickOne(this.random, candidates);
  }

  /** Up to `count` distinct random entries of `from`, skipping `exclude`. */
  private sample(
    from: readonly PeerContact[],
    count: number,
    exclude: readonly string[],
  ): PeerContact[] {
    const pool = from.filter((c) => !exclude.includes(c.id));
    for (let i = pool.length - 1; i > 0; i--) {
      const j = this.random.int(i + 1);
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    return pool.slice(0, count);
  }

  private shuffleDelay(): number {
    return this.options.shuffleIntervalMs * (0.5 + this.random.float());
  }
}
