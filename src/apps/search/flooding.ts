import type { PeerContact } from '../../overlay/contact.js';
import { firstQuery, type QueryStrategy, type StrategyContext } from './query-strategy.js';
import { type QueryMessage, QueryMode } from './search-messages.js';
import type { SearchSession } from './search-session.js';

/** Flooding's one setting. */
export interface FloodOptions {
  /** Hops a query travels (Gnutella's TTL). */
  readonly ttl: number;
}

/** Default: five hops (over active views of five, most of a 10,000-node overlay). */
export const DEFAULT_FLOOD: FloodOptions = { ttl: 5 };

/**
 * Gnutella 0.4's flooding: the origin sends the query to every neighbour, and each node that
 * sees it for the first time passes it to all its other neighbours while the TTL lasts.
 * Answers go straight to the origin over a secure connection (so the origin knows who
 * answered: no relay can present answers under keys it made up). Finds almost anything within
 * reach, at the price of a message over nearly every link within the TTL.
 */
export class Flooding implements QueryStrategy {
  readonly mode = QueryMode.flood;

  constructor(
    private readonly ctx: StrategyContext,
    readonly options: FloodOptions = DEFAULT_FLOOD,
  ) {}

  start(session: SearchSession): void {
    for (const peer of this.ctx.neighbors()) {
      this.ctx.send(
        peer,
        firstQuery(session, this.mode, {
          ttl: this.options.ttl,
          walker: 0,
          origin: this.ctx.self(),
        }),
      );
    }
  }

  relay(from: PeerContact, query: QueryMessage, firstVisit: boolean): void {
    if (!firstVisit || query.ttl <= 1) return;
    for (const peer of this.ctx.neighbors()) {
      if (peer.id === from.id) continue;
      this.ctx.send(peer, { ...query, ttl: query.ttl - 1, hops: query.hops + 1 });
    }
  }
}
