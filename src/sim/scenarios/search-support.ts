import type { OptionSpec } from '../scenario.js';
import type { SearchWorld } from '../search-world.js';
import type { SearchScenarioOptions } from './search.js';

/**
 * The share of live nodes in the largest connected component of the overlay (active views,
 * either direction, between live nodes only).
 */
export function largestComponentShare(world: SearchWorld): number {
  const live = world.live;
  if (live.length === 0) return 0;
  const indexOf = new Map<string, number>();
  live.forEach((n, i) => {
    indexOf.set(n.links.self.id, i);
  });
  const adjacency: number[][] = live.map(() => []);
  live.forEach((n, i) => {
    for (const p of n.overlay.active()) {
      const j = indexOf.get(p.id);
      if (j === undefined) continue;
      adjacency[i]!.push(j);
      adjacency[j]!.push(i);
    }
  });
  const seen = new Uint8Array(live.length);
  let best = 0;
  for (let s = 0; s < live.length; s++) {
    if (seen[s]) continue;
    seen[s] = 1;
    const stack = [s];
    let size = 0;
    while (stack.length > 0) {
      const at = stack.pop()!;
      size++;
      for (const next of adjacency[at]!) {
        if (!seen[next]) {
          seen[next] = 1;
          stack.push(next);
        }
      }
    }
    best = Math.max(best, size);
  }
  return best / live.length;
}

/** The command-line flags of the `search` scenario, with their defaults in the descriptions. */
export function searchOptionSpecs(d: SearchScenarioOptions): OptionSpec[] {
  return [
    { name: 'nodes', flag: 'nodes', kind: 'int', description: `nodes (default ${d.nodes})` },
    {
      name: 'queries',
      flag: 'queries',
      kind: 'int',
      description: `queries per strategy and phase (default ${d.queries})`,
    },
    {
      name: 'items',
      flag: 'items',
      kind: 'int',
      description: `catalogue items (default ${d.items})`,
    },
    {
      name: 'topShare',
      flag: 'top-share',
      kind: 'number',
      description: `share of nodes holding the most popular item (default ${d.topShare})`,
    },
    {
      name: 'zipf',
      flag: 'zipf',
      kind: 'number',
      description: `Zipf exponent of popularity (default ${d.zipf})`,
    },
    {
      name: 'capable',
      flag: 'capable',
      kind: 'number',
      description: `share of nodes able to be ultrapeers (default ${d.capable})`,
    },
    {
      name: 'joinSeconds',
      flag: 'join-seconds',
      kind: 'number',
      description: 'join window (default 30 s + 5 ms per node)',
    },
    {
      name: 'settleSeconds',
      flag: 'settle-seconds',
      kind: 'number',
      description: `settling time after the joins (default ${d.settleSeconds})`,
    },
    {
      name: 'minUptimeSeconds',
      flag: 'min-uptime-seconds',
      kind: 'number',
      description: `uptime before a node may become an ultrapeer (default ${d.minUptimeSeconds})`,
    },
    {
      name: 'skipChurn',
      flag: 'skip-churn',
      kind: 'boolean',
      description: 'leave out the churn phase',
    },
    {
      name: 'medianSessionMin',
      flag: 'median-session-min',
      kind: 'number',
      description: `median session in the churn phase, minutes (default ${d.medianSessionMin})`,
    },
    {
      name: 'churnSeconds',
      flag: 'churn-seconds',
      kind: 'number',
      description: `length of the churn phase (default ${d.churnSeconds})`,
    },
    {
      name: 'skipFailure',
      flag: 'skip-failure',
      kind: 'boolean',
      description: 'leave out the failure phase',
    },
    {
      name: 'failShare',
      flag: 'fail-share',
      kind: 'number',
      description: `share of nodes that crash at once (default ${d.failShare})`,
    },
    {
      name: 'floodTtl',
      flag: 'flood-ttl',
      kind: 'int',
      description: `flooding TTL (default ${d.floodTtl})`,
    },
    {
      name: 'walkers',
      flag: 'walkers',
      kind: 'int',
      description: `random walkers (default ${d.walkers})`,
    },
  ];
}
