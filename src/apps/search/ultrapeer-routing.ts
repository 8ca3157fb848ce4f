import type { PeerContact } from '../../overlay/contact.js';
import { pickOne } from '../../shared/pick.js';
import { keywordPositions } from './keyword-filter.js';
import { firstQuery, type QueryStrategy, type StrategyContext, sample } from './query-strategy.js';
import { type QueryMessage, QueryMode, Scope } from './search-messages.js';
import type { SearchSession } from './search-session.js';
import type { UltrapeerRole } from './ultrapeer-role.js';

/** How widely an ultrapeer passes a query on. */
export interface UltrapeerRoutingOptions {
  /** Matching leaves of the entry ultrapeer that get the query. */
  readonly leafFanout: number;
  /** Matching leaves of a neighbour ultrapeer that get it. */
  readonly remoteLeafFanout: number;
  /** Neighbour ultrapeers whose summary matched that get it. */
  readonly ultrapeerFanout: number;
  /** Random neighbour ultrapeers that get it when no summary matched (they look one further). */
  readonly expandFanout: number;
  /** Without an ultrapeer, a leaf floods this far instead. */
  readonly fallbackTtl: number;
}

/** Defaults: 4 of our leaves; 6 matching neighbours, 2 leaves each; 4 random ones when nothing matched. */
export const DEFAULT_ULTRAPEER_ROUTING: UltrapeerRoutingOptions = {
  leafFanout: 4,
  remoteLeafFanout: 2,
  ultrapeerFanout: 6,
  expandFanout: 4,
  fallbackTtl: 3,
};

/**
 * Ultrapeer routing: a leaf gives its query to one of its ultrapeers (the entry). The entry
 * passes it to a few of its leaves whose keyword filter matches, and — when those are not
 * enough — to the neighbour ultrapeers whose summary (the OR of their leaves' filters) matches,
 * each passing it to a few of its own matching leaves. A query whose words no summary within
 * reach holds goes to a few random neighbour ultrapeers, which look one ultrapeer further.
 * Filters only say "maybe", so a query goes only where an answer is likely: a few dozen
 * messages find what thousands of flooded ones would. Answers go back along the path.
 */
export class UltrapeerRouting implements QueryStrategy {
  readonly mode = QueryMode.ultrapeer;

  constructor(
    private readonly ctx: StrategyContext,
    private readonly role: UltrapeerRole,
    readonly options: UltrapeerRoutingOptions = DEFAULT_ULTRAPEER_ROUTING,
  ) {}

  start(session: SearchSession): void {
    const query = firstQuery(session, this.mode, { ttl: 0, walker: 0, origin: undefined });
    if (this.role.role === 'ultrapeer') {
      this.route(undefined, query);
      return;
    }
    const ups = this.role.ultrapeers();
    const entry = pickOne(this.ctx.random, ups);
    if (entry !== undefined) {
      this.ctx.send(entry, query);
      return;
    }
    // No ultrapeer yet: a short flood, answered by the ultrapeer-less way.
    for (const peer of this.ctx.neighbors()) {
      this.ctx.send(peer, {
        ...query,
        mode: QueryMode.flood,
        ttl: this.options.fallbackTtl,
        origin: this.ctx.self(),
      });
    }
  }

  relay(from: PeerContact, query: QueryMessage, firstVisit: boolean): void {
    if (!firstVisit || this.role.role !== 'ultrapeer' || query.scope === Scope.leaf) return;
    this.route(from, query);
  }

  private route(from: PeerContact | undefined, query: QueryMessage): void {
    const positions = query.words.flatMap((w) => keywordPositions(w));
    const forward = (peers: readonly PeerContact[], scope: Scope) => {
      for (const peer of peers) this.ctx.send(peer, { ...query, scope, hops: query.hops + 1 });
    };
    const leaves = this.role.matchingLeaves(positions, from?.id);
    const except = new Set(from === undefined ? [] : [from.id]);
    switch (query.scope) {
      case Scope.entry: {
        forward(sample(this.ctx.random, leaves, this.options.leafFanout), Scope.leaf);
        if (leaves.length >= this.options.leafFanout) return;
        const neighbors = this.role.matchingNeighbors(positions, except);
        forward(sample(this.ctx.random, neighbors, this.options.ultrapeerFanout), Scope.neighbor);
        if (leaves.length > 0 || neighbors.length > 0) return;
        const others = this.role.tierNeighbors().filter((p) => !except.has(p.id));
        forward(sample(this.ctx.random, others, this.options.expandFanout), Scope.expand);
        return;
      }
      case Scope.neighbor:
        forward(sample(this.ctx.random, leaves, this.options.remoteLeafFanout), Scope.leaf);
        return;
      case Scope.expand: {
        forward(sample(this.ctx.random, leaves, this.options.remoteLeafFanout), Scope.leaf);
        const neighbors = this.role.matchingNeighbors(positions, except);
        forward(sample(this.ctx.random, neighbors, this.options.ultrapeerFanout), Scope.neighbor);
        return;
      }
    }
  }
}
