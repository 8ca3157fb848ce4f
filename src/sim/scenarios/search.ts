import type { StrategyName } from '../../apps/search/search-engine.js';
import { ChurnModel } from '../churn.js';
import { DhtModel } from '../dht-model.js';
import { SimError } from '../errors.js';
import { liveHeapBytes } from '../memory.js';
import { type ChartSpec, cdfPoints } from '../report.js';
import type { Figure, ScenarioDefinition, ScenarioOutcome } from '../scenario.js';
import { type CatalogueItem, type SearchNode, SearchWorld } from '../search-world.js';
import { EventKind, Simulator } from '../simulator.js';
import { mean, percentiles, round } from '../stats.js';
import { largestComponentShare, searchOptionSpecs } from './search-support.js';

/** Options of the `search` scenario, with defaults in {@link DEFAULT_SEARCH_SCENARIO}. */
export interface SearchScenarioOptions {
  readonly seed: number;
  readonly nodes: number;
  /** Queries per strategy in each phase (and as many exact-key DHT lookups). */
  readonly queries: number;
  /** Catalogue size, the most popular item's share of nodes, Zipf exponent. */
  readonly items: number;
  readonly topShare: number;
  readonly zipf: number;
  /** Share of nodes that could be ultrapeers. */
  readonly capable: number;
  /** Initial nodes arrive within this window (0: 30 s + 5 ms per node). */
  readonly joinSeconds: number;
  readonly settleSeconds: number;
  /** Uptime before a capable node may become an ultrapeer. */
  readonly minUptimeSeconds: number;
  /** Leave out the churn phase (median session, length). */
  readonly skipChurn: boolean;
  readonly medianSessionMin: number;
  readonly churnSeconds: number;
  /** Leave out the failure phase (this share of nodes crash at once). */
  readonly skipFailure: boolean;
  readonly failShare: number;
  readonly floodTtl: number;
  readonly walkers: number;
}

/** Defaults of the `search` scenario. */
export const DEFAULT_SEARCH_SCENARIO: SearchScenarioOptions = {
  seed: 1,
  nodes: 1000,
  queries: 200,
  items: 1000,
  topShare: 0.2,
  zipf: 1,
  capable: 0.15,
  joinSeconds: 0,
  settleSeconds: 240,
  minUptimeSeconds: 60,
  skipChurn: false,
  medianSessionMin: 30,
  churnSeconds: 300,
  skipFailure: false,
  failShare: 0.3,
  floodTtl: 5,
  walkers: 16,
};

const STRATEGIES: readonly StrategyName[] = ['ultrapeer', 'flood', 'walk'];
/** Items held by at least this share of nodes are "popular enough" for the recall target. */
const TARGET_SHARE = 0.005;
const QUERY_TIMEOUT_MS = 10_000;

/** An item a query should find: how widely it was held when asked, whether it was found. */
interface Wanted {
  readonly share: number;
  found: boolean;
}

/** What one query (or lookup) came to. */
interface QueryRecord {
  readonly phase: string;
  readonly strategy: StrategyName | 'dht';
  readonly startedAt: number;
  /** Every live item matching the query's words (for a lookup: the one item). */
  readonly wanted: Wanted[];
  firstMs: number | undefined;
  lastMs: number | undefined;
  messages: number;
  done: boolean;
}

/**
 * `search`: N shoal nodes (the real overlay and search engines over message-level links) form
 * the HyParView overlay and elect ultrapeers; a catalogue of torrents with Zipf popularity is
 * shared; random nodes search for items by two of their keywords with each strategy (ultrapeer
 * routing, flooding, random walks), and look the same items up by exact info-hash in a
 * Kademlia model (the structured reference). Measured in a steady network, under churn, and
 * right after a share of the nodes crash at once: recall, messages per query, time to the first
 * and last result, and the overlay's largest component.
 */
export async function searchScenario(
  options: Partial<SearchScenarioOptions> = {},
): Promise<ScenarioOutcome> {
  const o: SearchScenarioOptions = { ...DEFAULT_SEARCH_SCENARIO, ...options };
  if (!(o.nodes >= 20) || !(o.queries >= 1) || !(o.items >= 1))
    throw new SimError('SIM_OPTIONS', 'search needs nodes ≥ 20, queries ≥ 1, items ≥ 1');
  const heapBefore = liveHeapBytes();
  const sim = new Simulator(o.seed);
  const world = new SearchWorld(sim, {
    capableShare: o.capable,
    items: o.items,
    topShare: o.topShare,
    zipf: o.zipf,
    vocabulary: Math.max(200, o.items * 2),
    detectMs: 10_000,
    search: {
      flood: { ttl: o.floodTtl },
      walk: {
        walkers: o.walkers,
        ttl: 1024,
        checkEvery: 4,
        checkTimeoutMs: 3_000,
        enoughSources: 4,
        maxHeld: 256,
      },
      ultrapeer: { minUptimeMs: o.minUptimeSeconds * 1000, promoteAfterMs: 20_000 },
      timeoutMs: QUERY_TIMEOUT_MS,
    },
  });
  const dht = new DhtModel(
    sim,
    (a, b) => world.network.oneWayMs(world.network.hosts[a]!, world.network.hosts[b]!),
    (n) => world.network.hosts[n]?.alive === true,
  );

  // ---------------------------------------------------------------- the initial network
  const joinMs = (o.joinSeconds > 0 ? o.joinSeconds : 30 + o.nodes * 0.005) * 1000;
  const holdings = new Map<number, number[]>();
  for (const item of world.catalogue) {
    const holders = Math.max(1, Math.round(item.share * o.nodes));
    const chosen = new Set<number>();
    while (chosen.size < Math.min(holders, o.nodes)) chosen.add(sim.random.int(o.nodes));
    for (const h of chosen) holdings.set(h, [...(holdings.get(h) ?? []), item.index]);
  }
  for (let i = 0; i < o.nodes; i++) {
    const at = i === 0 ? 0 : 1000 + sim.random.float() * joinMs;
    sim.at(
      at,
      () => {
        const node = world.addNode(true);
        for (const item of holdings.get(i) ?? []) world.give(node, world.catalogue[item]!);
      },
      undefined,
      EventKind.churn,
    );
  }
  await sim.run(1000 + joinMs + o.settleSeconds * 1000);
  const heapBytes = Math.max(0, liveHeapBytes() - heapBefore);
  const nodesAtSettle = world.live.length;
  const ultrapeersAtSettle = world.live.filter((n) => n.engine.role.role === 'ultrapeer').length;

  const records: QueryRecord[] = [];
  const settleDht = () => {
    dht.build(world.live.map((n) => ({ index: n.index, key: n.identity.publicKey.bytes })));
    dht.announceAll(
      world.catalogue.map((c) => ({
        infoHash: c.item.infoHashV1!,
        holders: [...c.holders].filter((h) => world.nodes[h]!.host.alive),
      })),
    );
  };

  /** Schedules `count` queries per strategy (and DHT lookups) evenly over a window. */
  const queriesIn = (phase: string, fromMs: number, windowMs: number) => {
    const total = o.queries * (STRATEGIES.length + 1);
    for (let i = 0; i < total; i++) {
      const strategy = i % (STRATEGIES.length + 1);
      sim.at(
        fromMs + (i * windowMs) / total,
        () => startQuery(phase, strategy < STRATEGIES.length ? STRATEGIES[strategy]! : 'dht'),
        undefined,
        EventKind.scenario,
      );
    }
  };

  const startQuery = (phase: string, strategy: StrategyName | 'dht') => {
    const origin = world.randomLive();
    if (origin === undefined) return;
    const target = world.catalogue[world.popularItem()]!;
    const share = liveShare(world, target, origin);
    if (share === 0) return;
    const record: QueryRecord = {
      phase,
      strategy,
      startedAt: sim.now,
      wanted: [],
      firstMs: undefined,
      lastMs: undefined,
      messages: 0,
      done: false,
    };
    records.push(record);
    if (strategy === 'dht') {
      const wanted = { share, found: false };
      record.wanted.push(wanted);
      void dht.lookup(origin.index, target.item.infoHashV1!).then((r) => {
        wanted.found = r.found;
        record.firstMs = r.firstMs;
        record.lastMs = r.firstMs;
        record.messages = r.messages;
        record.done = true;
      });
      return;
    }
    const words = pickWords(world, target);
    const keys = new Map<string, Wanted>();
    for (const i of world.relevant(words)) {
      const item = world.catalogue[i]!;
      const itemShare = liveShare(world, item, origin);
      if (itemShare === 0) continue;
      const wanted = { share: itemShare, found: false };
      record.wanted.push(wanted);
      keys.set(item.key, wanted);
    }
    const session = origin.engine.search(words.join(' '), { strategy });
    session.onResult((result) => {
      const wanted = keys.get(result.torrentKey);
      if (wanted === undefined || wanted.found) return;
      wanted.found = true;
      const elapsed = sim.now - record.startedAt;
      record.firstMs ??= elapsed;
      record.lastMs = elapsed;
    });
    session.onClose(() => {
      record.messages = world.queryMessages.get(session.idHex) ?? 0;
      record.done = true;
    });
  };

  // ---------------------------------------------------------------- steady
  settleDht();
  const steadyWindow = Math.max(30_000, o.queries * 100);
  queriesIn('steady', sim.now + 1000, steadyWindow);
  await sim.run(sim.now + 1000 + steadyWindow + QUERY_TIMEOUT_MS + 5_000);

  // ---------------------------------------------------------------- churn
  if (!o.skipChurn) {
    settleDht();
    const start = sim.now;
    const model = new ChurnModel(sim.random, {
      medianSessionMs: o.medianSessionMin * 60_000,
      shape: 0.5,
    });
    world.startChurn(model, o.nodes, start + o.churnSeconds * 1000);
    const window = Math.max(30_000, o.churnSeconds * 500);
    queriesIn('churn', start + o.churnSeconds * 1000 - window, window);
    await sim.run(start + o.churnSeconds * 1000 + QUERY_TIMEOUT_MS + 5_000);
  }

  // ---------------------------------------------------------------- failure
  const components: [number, number][] = [];
  let componentBefore = 1;
  let componentAfter = 1;
  let survivors = 0;
  if (!o.skipFailure) {
    settleDht();
    componentBefore = largestComponentShare(world);
    const victims = [...world.live];
    for (let i = victims.length - 1; i > 0; i--) {
      const j = sim.random.int(i + 1);
      [victims[i], victims[j]] = [victims[j]!, victims[i]!];
    }
    const start = sim.now;
    for (const v of victims.slice(0, Math.round(victims.length * o.failShare))) world.crash(v);
    survivors = world.live.length;
    for (const t of [0, 5, 10, 15, 20, 30, 45, 60, 90]) {
      sim.at(
        start + t * 1000,
        () => components.push([t, largestComponentShare(world)]),
        undefined,
        EventKind.scenario,
      );
    }
    queriesIn('failure', start + 10_000, 60_000);
    await sim.run(start + 90_000 + QUERY_TIMEOUT_MS);
    componentAfter = components.find(([t]) => t === 30)?.[1] ?? 0;
  }

  // ---------------------------------------------------------------- figures
  const figures: Record<string, Figure> = {
    nodes: o.nodes,
    nodesAtSettle,
    ultrapeersAtSettle,
    items: o.items,
    queriesPerStrategyPerPhase: o.queries,
  };
  const phases = [
    'steady',
    ...(o.skipChurn ? [] : ['churn']),
    ...(o.skipFailure ? [] : ['failure']),
  ];
  const summary: string[] = [
    `${o.nodes} nodes (${ultrapeersAtSettle} ultrapeers after settling), ${o.items} items (top item on ${o.topShare * 100} % of nodes, Zipf ${o.zipf}), ${o.queries} queries per strategy and phase`,
  ];
  for (const phase of phases) {
    for (const strategy of [...STRATEGIES, 'dht' as const]) {
      const done = records.filter((r) => r.phase === phase && r.strategy === strategy && r.done);
      const f = phaseFigures(done);
      for (const [k, v] of Object.entries(f)) figures[`${phase}_${strategy}_${k}`] = v;
      summary.push(
        `${phase.padEnd(7)} ${strategy.padEnd(9)} recall ${pct(f.recallPopular)} (items on ≥ 0.5 % of nodes), ${pct(f.recallRare)} (rarer); ${f.messagesMean} messages/query (p90 ${f.messagesP90}); first result p50 ${f.firstMsP50} ms p90 ${f.firstMsP90} ms; last p50 ${f.lastMsP50} ms`,
      );
    }
  }
  if (!o.skipFailure) {
    figures.survivors = survivors;
    figures.largestComponentBeforeFailure = round(componentBefore, 4);
    for (const [t, share] of components) figures[`largestComponentAt${t}s`] = round(share, 4);
    summary.push(
      `after ${o.failShare * 100} % crashed: largest component ${components.map(([t, s]) => `${t}s ${pct(s)}`).join(', ')} of ${survivors} survivors`,
    );
  }
  figures.messagesCarried = world.net.counters.messages;
  figures.connectionsOpened = world.net.counters.connections;
  figures.simulatedSeconds = round(sim.now / 1000);

  const failures: string[] = [];
  const up = (phase: string, k: string) => figures[`${phase}_ultrapeer_${k}`] as number | null;
  const check = (ok: boolean, text: string) => {
    if (!ok) failures.push(text);
  };
  check(
    (up('steady', 'recallPopular') ?? 0) >= 0.95,
    `ultrapeer recall ${up('steady', 'recallPopular')} < 0.95`,
  );
  check(
    (up('steady', 'firstMsP50') ?? Infinity) <= 300,
    `ultrapeer first result p50 ${up('steady', 'firstMsP50')} ms > 300`,
  );
  check(
    (up('steady', 'messagesMean') ?? Infinity) <= 50,
    `ultrapeer ${up('steady', 'messagesMean')} messages/query > 50`,
  );
  if (!o.skipFailure) {
    check(
      componentAfter >= 0.99,
      `largest component 30 s after the failure ${componentAfter} < 0.99`,
    );
    check(
      (up('failure', 'recallPopular') ?? 0) >= 0.9,
      `ultrapeer recall after the failure ${up('failure', 'recallPopular')} < 0.9`,
    );
  }

  return {
    sim,
    figures,
    charts: charts(records, components, phases),
    summary,
    ok: failures.length === 0,
    failures,
    nodes: nodesAtSettle,
    heapBytes,
  };
}

/** Share of live nodes other than `origin` holding `item`. */
function liveShare(world: SearchWorld, item: CatalogueItem, origin: SearchNode): number {
  let n = 0;
  for (const h of item.holders) if (h !== origin.index && world.nodes[h]!.host.alive) n++;
  return n / Math.max(1, world.live.length);
}

/** Two distinct words of the item's name (not its extension), as a user would type. */
function pickWords(world: SearchWorld, item: CatalogueItem): string[] {
  const words = item.words.filter((w) => w !== 'mkv');
  const a = world.sim.random.int(words.length);
  let b = world.sim.random.int(words.length - 1);
  if (b >= a) b++;
  return [words[a]!, words[b]!];
}

/** The share of a query's wanted items it found. */
function queryRecall(r: QueryRecord): number {
  return r.wanted.length === 0 ? 1 : r.wanted.filter((w) => w.found).length / r.wanted.length;
}

function phaseFigures(done: readonly QueryRecord[]) {
  const recallOf = (wanted: readonly Wanted[]) =>
    wanted.length === 0 ? null : round(wanted.filter((w) => w.found).length / wanted.length, 4);
  const all = done.flatMap((r) => r.wanted);
  const popular = all.filter((w) => w.share >= TARGET_SHARE);
  const rare = all.filter((w) => w.share < TARGET_SHARE);
  const firsts = done.filter((r) => r.firstMs !== undefined).map((r) => r.firstMs!);
  const lasts = done.filter((r) => r.lastMs !== undefined).map((r) => r.lastMs!);
  const msgs = done.map((r) => r.messages);
  const first = percentiles(firsts);
  const last = percentiles(lasts);
  const m = percentiles(msgs);
  return {
    queries: done.length,
    recall: done.length === 0 ? null : round(mean(done.map(queryRecall)), 4),
    recallPopular: recallOf(popular),
    recallRare: recallOf(rare),
    popularItemsAsked: popular.length,
    messagesMean: round(mean(msgs)),
    messagesP50: round(m.p50),
    messagesP90: round(m.p90),
    firstMsP50: round(first.p50),
    firstMsP90: round(first.p90),
    lastMsP50: round(last.p50),
    lastMsP90: round(last.p90),
  };
}

function pct(v: number | null): string {
  return v === null ? 'n/a' : `${(v * 100).toFixed(1)} %`;
}

function charts(
  records: readonly QueryRecord[],
  components: readonly [number, number][],
  phases: readonly string[],
): ChartSpec[] {
  const names = [...STRATEGIES, 'dht' as const];
  const steady = (s: string) =>
    records.filter((r) => r.phase === 'steady' && r.strategy === s && r.done);
  const out: ChartSpec[] = [
    {
      title: 'Time to the first result (steady network)',
      xLabel: 'milliseconds (log scale)',
      yLabel: 'fraction of queries',
      logX: true,
      yMax: 1,
      series: names.map((s) => ({
        name: s === 'dht' ? 'DHT exact-key lookup' : s,
        points: cdfPoints(
          steady(s)
            .filter((r) => r.firstMs !== undefined)
            .map((r) => r.firstMs!),
        ),
        step: true,
      })),
      markers: [{ label: '300 ms', value: 300, axis: 'x' }],
    },
    {
      title: 'Messages per query (steady network)',
      xLabel: 'messages (log scale)',
      yLabel: 'fraction of queries',
      logX: true,
      yMax: 1,
      series: names.map((s) => ({
        name: s === 'dht' ? 'DHT exact-key lookup' : s,
        points: cdfPoints(steady(s).map((r) => Math.max(1, r.messages))),
        step: true,
      })),
      markers: [{ label: '50', value: 50, axis: 'x' }],
    },
  ];
  // Recall by how widely the target is held (log-spaced buckets), per phase.
  for (const phase of phases) {
    const bucketOf = (share: number) => Math.floor(Math.log10(Math.max(share, 1e-5)) * 4) / 4;
    out.push({
      title: `Recall by the share of nodes holding the item (${phase})`,
      xLabel: 'share of nodes holding the item, % (log scale)',
      yLabel: 'recall',
      logX: true,
      yMax: 1,
      series: names.map((s) => {
        const byBucket = new Map<number, number[]>();
        for (const r of records) {
          if (r.phase !== phase || r.strategy !== s || !r.done) continue;
          for (const w of r.wanted) {
            const b = bucketOf(w.share);
            const list = byBucket.get(b) ?? [];
            list.push(w.found ? 1 : 0);
            byBucket.set(b, list);
          }
        }
        return {
          name: s === 'dht' ? 'DHT exact-key lookup' : s,
          points: [...byBucket.entries()]
            .sort((a, b) => a[0] - b[0])
            .map(([b, v]) => [100 * 10 ** b, mean(v)] as [number, number]),
        };
      }),
      markers: [{ label: '0.5 %', value: 0.5, axis: 'x' }],
    });
  }
  if (components.length > 0) {
    const fail = records.filter((r) => r.phase === 'failure' && r.done);
    const t0 = Math.min(...fail.map((r) => r.startedAt)) - 10_000;
    out.push({
      title: 'After the failure: recall (10 s windows) and the largest component',
      xLabel: 'seconds after the failure',
      yLabel: 'share',
      yMax: 1,
      series: [
        ...names.map((s) => {
          const byWindow = new Map<number, number[]>();
          for (const r of fail) {
            if (r.strategy !== s) continue;
            const w = Math.floor((r.startedAt - t0) / 10_000) * 10 + 5;
            const list = byWindow.get(w) ?? [];
            list.push(queryRecall(r));
            byWindow.set(w, list);
          }
          return {
            name: `recall, ${s === 'dht' ? 'DHT' : s}`,
            points: [...byWindow.entries()]
              .sort((a, b) => a[0] - b[0])
              .map(([w, v]) => [w, mean(v)] as [number, number]),
          };
        }),
        {
          name: 'largest component / survivors',
          points: components.map(([t, s]) => [t, s] as [number, number]),
        },
      ],
    });
  }
  return out;
}

/** The `search` scenario for the command line. */
export const searchDefinition: ScenarioDefinition = {
  name: 'search',
  description:
    'keyword search over the shoal overlay: ultrapeer routing, flooding and random walks against exact-key DHT lookups, steady, under churn and after 30 % fail',
  options: searchOptionSpecs(DEFAULT_SEARCH_SCENARIO),
  run: (options) => searchScenario(options as Partial<SearchScenarioOptions>),
};
