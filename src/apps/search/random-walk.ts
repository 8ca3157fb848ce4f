import type { PeerContact } from '../../overlay/contact.js';
import type { TimerHandle, Timers } from '../../runtime/runtime.js';
import { pickOne } from '../../shared/pick.js';
import { firstQuery, type QueryStrategy, type StrategyContext, sample } from './query-strategy.js';
import { type QueryMessage, QueryMode, type SearchMessage } from './search-messages.js';
import type { SearchSession } from './search-session.js';

/** Settings of random walks (Lv, Cao, Cohen, Li, Shenker: "Search and replication in unstructured peer-to-peer networks", 2002). */
export interface WalkOptions {
  /** Walkers the origin sends out. */
  readonly walkers: number;
  /** Longest walk, in hops. */
  readonly ttl: number;
  /** Every this many hops a walker asks the origin whether to go on. */
  readonly checkEvery: number;
  /** How long a walker waits for the origin's answer before it dies. */
  readonly checkTimeoutMs: number;
  /** The origin stops walkers once this many nodes have answered. */
  readonly enoughSources: number;
  /** Walkers held at once, waiting for the origin (the rest are dropped). */
  readonly maxHeld: number;
}

/** Defaults: 16 walkers, up to 1024 hops, checking back every 4. */
export const DEFAULT_WALK: WalkOptions = {
  walkers: 16,
  ttl: 1024,
  checkEvery: 4,
  checkTimeoutMs: 3_000,
  enoughSources: 4,
  maxHeld: 256,
};

interface Held {
  readonly query: QueryMessage;
  readonly from: PeerContact;
  readonly timer: TimerHandle;
}

/**
 * k random walkers: each node a walker reaches answers (once per query, straight to the
 * origin) and passes the walker to one random neighbour other than the one it came from. Every
 * `checkEvery` hops the node holding a walker asks the origin whether to go on, so walkers die
 * soon after the origin has enough answers instead of running their whole TTL. Far fewer
 * messages than flooding for popular items; slower, and rare items take long walks.
 */
export class RandomWalk implements QueryStrategy {
  readonly mode = QueryMode.walk;
  private readonly held = new Map<string, Held>();

  constructor(
    private readonly ctx: StrategyContext,
    private readonly timers: Timers,
    readonly options: WalkOptions = DEFAULT_WALK,
  ) {}

  start(session: SearchSession): void {
    const neighbors = this.ctx.neighbors();
    if (neighbors.length === 0) return;
    const order = sample(this.ctx.random, neighbors, neighbors.length);
    for (let w = 0; w < this.options.walkers; w++) {
      this.ctx.send(
        order[w % order.length]!,
        firstQuery(session, this.mode, {
          ttl: this.options.ttl,
          walker: w,
          origin: this.ctx.self(),
        }),
      );
    }
  }

  relay(from: PeerContact, query: QueryMessage): void {
    if (query.ttl <= 1 || query.origin === undefined) return;
    const next: QueryMessage = { ...query, ttl: query.ttl - 1, hops: query.hops + 1 };
    if (next.hops % this.options.checkEvery !== 0) {
      this.step(from, next);
      return;
    }
    const key = `${query.id.toString('hex')}/${query.walker}`;
    if (this.held.has(key) || this.held.size >= this.options.maxHeld) return;
    const timer = this.timers.setTimeout(() => this.held.delete(key), this.options.checkTimeoutMs);
    this.held.set(key, { query: next, from, timer });
    this.ctx.send(query.origin, {
      type: 'check',
      id: query.id,
      walker: query.walker,
      hops: next.hops,
    });
  }

  receive(from: PeerContact, message: SearchMessage): boolean {
    if (message.type !== 'check-reply') return false;
    const key = `${message.id.toString('hex')}/${message.walker}`;
    const held = this.held.get(key);
    if (held === undefined || held.query.origin?.id !== from.id) return true;
    this.held.delete(key);
    held.timer.cancel();
    if (message.go) this.step(held.from, held.query);
    return true;
  }

  stop(): void {
    for (const h of this.held.values()) h.timer.cancel();
    this.held.clear();
  }

  /** Passes the walker to a random neighbour other than the one it came from. */
  private step(from: PeerContact, query: QueryMessage): void {
    const neighbors = this.ctx.neighbors();
    const others = neighbors.filter((p) => p.id !== from.id && p.id !== query.origin?.id);
    const pool = others.length > 0 ? others : neighbors;
    const next = pickOne(this.ctx.random, pool);
    if (next !== undefined) this.ctx.send(next, query);
  }
}
