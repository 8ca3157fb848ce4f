import type { PeerContact } from '../../overlay/contact.js';
import type { RandomSource } from '../../runtime/runtime.js';
import { type QueryMessage, type QueryMode, Scope, type SearchMessage } from './search-messages.js';
import type { SearchSession } from './search-session.js';

/** What a strategy may do: send search messages, see the overlay neighbours, draw at random. */
export interface StrategyContext {
  readonly random: RandomSource;
  /** Sends a search message (counted against its query, if it belongs to one). */
  send(to: PeerContact, message: Exclude<SearchMessage, { type: 'hit' }>): void;
  /** The main overlay's active view. */
  neighbors(): PeerContact[];
  /** Our own contact. */
  self(): PeerContact;
}

/**
 * One way of routing keyword queries through the overlay. The engine does what every strategy
 * shares (duplicate suppression, per-peer rate limits, answering from the local index, routing
 * answers back); a strategy decides where a query goes first and where a node passes it on.
 */
export interface QueryStrategy {
  readonly mode: QueryMode;
  /** Sends the first messages of our own query. */
  start(session: SearchSession): void;
  /**
   * A query of this mode arrived from `from` and was answered locally; `firstVisit` is false
   * when this node had seen it before (only walks pass such a query on).
   */
  relay(from: PeerContact, query: QueryMessage, firstVisit: boolean): void;
  /** Strategy-specific messages (walk check replies); true when handled. */
  receive?(from: PeerContact, message: SearchMessage): boolean;
  /** Drops timers and state. */
  stop?(): void;
}

/** Up to `count` distinct random entries of `list`. */
export function sample<T>(random: RandomSource, list: readonly T[], count: number): T[] {
  const pool = [...list];
  const n = Math.min(count, pool.length);
  for (let i = 0; i < n; i++) {
    const j = i + random.int(pool.length - i);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, n);
}

/** Our own query as it leaves us: no hop taken, at the entry scope, `ttl` hops to go. */
export function firstQuery(
  session: SearchSession,
  mode: QueryMode,
  fields: {
    readonly ttl: number;
    readonly walker: number;
    readonly origin: PeerContact | undefined;
  },
): QueryMessage {
  return {
    type: 'query',
    id: session.id,
    words: session.words,
    mode,
    ttl: fields.ttl,
    hops: 0,
    scope: Scope.entry,
    walker: fields.walker,
    origin: fields.origin,
  };
}
