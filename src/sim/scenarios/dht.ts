import { Dht } from '../../dht/dht.js';
import { nodeIdForIp } from '../../dht/node-id.js';
import type { MetricsSnapshot } from '../../metrics/exposition.js';
import { createMetricsRegistry } from '../../metrics/registry.js';
import { ChurnModel } from '../churn.js';
import { SimError } from '../errors.js';
import type { SimHost } from '../host.js';
import { PageStore } from '../memfs.js';
import { liveHeapBytes } from '../memory.js';
import { histogramMean, sumSeries } from '../metrics-report.js';
import { NAT_TYPES, type NatType } from '../nat.js';
import { Network } from '../network.js';
import { cdfPoints } from '../report.js';
import type { ScenarioDefinition, ScenarioOutcome } from '../scenario.js';
import { createSimRuntime } from '../sim-runtime.js';
import { EventKind, Simulator } from '../simulator.js';
import { mean, percentiles, round } from '../stats.js';

/** Options of the `dht` scenario, with defaults in {@link DEFAULT_DHT_SCENARIO}. */
export interface DhtScenarioOptions {
  readonly seed: number;
  /** Nodes in the network (besides the bootstrap routers). */
  readonly nodes: number;
  /** get_peers lookups to run, from random nodes, for info-hashes announced by live nodes. */
  readonly lookups: number;
  /** Info-hashes announced (each by one live node, re-announced every 15 minutes). */
  readonly infoHashes: number;
  /** Nodes come and go: Weibull sessions, Poisson arrivals keeping the population near `nodes`. */
  readonly churn: boolean;
  readonly medianSessionMin: number;
  readonly sessionShape: number;
  /** The initial nodes join at random times within this window. */
  readonly joinSeconds: number;
  /** Quiet time after the last join, before announces and lookups. */
  readonly settleSeconds: number;
  /** Lookups are spread evenly over this window. */
  readonly lookupSeconds: number;
  /** Long-lived bootstrap nodes every node starts from (like router.bittorrent.com). */
  readonly routers: number;
  /** Share of nodes behind a NAT (types mixed: 25 % full cone, 25 % restricted, 35 % port-restricted, 15 % symmetric). */
  readonly nat: number;
  /** Datagram loss probability. */
  readonly loss: number;
}

/** Defaults of the `dht` scenario; join and settle times scale with the size. */
export const DEFAULT_DHT_SCENARIO: DhtScenarioOptions = {
  seed: 1,
  nodes: 1000,
  lookups: 1000,
  infoHashes: 100,
  churn: false,
  medianSessionMin: 60,
  sessionShape: 0.5,
  joinSeconds: 0, // 0: 60 s + 20 ms per node
  settleSeconds: 1200, // past the first 15-minute bucket refresh, which fills the far buckets
  lookupSeconds: 600,
  routers: 4,
  nat: 0,
  loss: 0.005,
};

const NAT_MIX: readonly [NatType, number][] = [
  ['full-cone', 0.25],
  ['restricted', 0.25],
  ['port-restricted', 0.35],
  ['symmetric', 0.15],
];
const DHT_PORT = 6881;
const REANNOUNCE_MS = 15 * 60_000;

interface Member {
  readonly host: SimHost;
  readonly router: boolean;
  dht: Dht | undefined;
  ready: boolean;
  /** Position in `live` (for O(1) removal). */
  slot: number;
}

interface Announced {
  readonly infoHash: Buffer;
  announcer: Member | undefined;
  /** When the current announcer's announce finished (undefined until then). */
  announcedAt: number | undefined;
}

interface LookupRecord {
  readonly startedAt: number;
  foundAt: number | undefined;
  completedAt: number | undefined;
  hops: number;
  queried: number;
}

/**
 * `dht`: N mainline DHT nodes (the real `Dht` engine) join through a few routers, settle, then
 * some announce info-hashes and random nodes look them up. A lookup succeeds when get_peers
 * finds the live node that announced the info-hash. Reports success, hops, time to find (and to
 * finish), queries per lookup and routing-table health; with `churn`, nodes leave after Weibull
 * sessions and newcomers keep the population steady.
 */
export async function dhtScenario(
  options: Partial<DhtScenarioOptions> = {},
): Promise<ScenarioOutcome> {
  const o: DhtScenarioOptions = { ...DEFAULT_DHT_SCENARIO, ...options };
  if (!(o.nodes >= 2) || !(o.lookups >= 1) || !(o.infoHashes >= 1) || !(o.routers >= 1))
    throw new SimError(
      'SIM_OPTIONS',
      'dht needs nodes ≥ 2, lookups ≥ 1, info-hashes ≥ 1, routers ≥ 1',
    );
  const joinMs = (o.joinSeconds > 0 ? o.joinSeconds : 60 + o.nodes * 0.02) * 1000;
  const heapBefore = liveHeapBytes();
  const sim = new Simulator(o.seed);
  const net = new Network(sim, { udpLoss: o.loss });
  const pages = new PageStore();
  const churn = new ChurnModel(sim.random, {
    medianSessionMs: o.medianSessionMin * 60_000,
    shape: o.sessionShape,
  });
  // Every node counts into one registry: the report reads the network's totals from it.
  const metrics = createMetricsRegistry();
  const live: Member[] = [];
  const routers: { host: string; port: number }[] = [];
  let departures = 0;
  let arrivals = 0;
  const announced: Announced[] = [];

  const pickNat = (): NatType | undefined => {
    if (o.nat <= 0 || sim.random.float() >= o.nat) return undefined;
    let x = sim.random.float();
    for (const [type, share] of NAT_MIX) {
      if (x < share) return type;
      x -= share;
    }
    return NAT_TYPES[0];
  };

  const spawn = (router: boolean, sessionMs: number): Member => {
    const nat = router ? undefined : pickNat();
    const host = net.addHost(nat ? { nat } : {});
    const runtime = createSimRuntime(net, host, pages);
    const m: Member = { host, router, dht: undefined, ready: false, slot: live.length };
    live.push(m);
    const bootstrap = routers.filter((r) => r.host !== host.publicIp);
    if (router) routers.push({ host: host.publicIp, port: DHT_PORT });
    void Dht.start(runtime, {
      port: DHT_PORT,
      metrics,
      bootstrap,
      id: nodeIdForIp(host.publicIp, sim.random),
    }).then((dht) => {
      m.dht = dht;
      void dht.bootstrap().then(() => {
        m.ready = true;
      });
    });
    if (Number.isFinite(sessionMs))
      sim.after(sessionMs, () => depart(m), undefined, EventKind.churn);
    return m;
  };

  const depart = (m: Member) => {
    if (!m.host.alive) return;
    departures++;
    net.kill(m.host);
    const last = live.pop()!;
    if (last !== m) {
      live[m.slot] = last;
      last.slot = m.slot;
    }
    m.dht = undefined;
    for (const a of announced) if (a.announcer === m) assignAnnouncer(a);
  };

  const randomReady = (exclude?: Member): Member | undefined => {
    for (let tries = 0; tries < 1000; tries++) {
      const m = live[sim.random.int(live.length)]!;
      if (!m.router && m.ready && m.dht && m !== exclude) return m;
    }
    return undefined;
  };

  const announceNow = (a: Announced, m: Member) => {
    const dht = m.dht;
    if (!dht || a.announcer !== m) return;
    void dht.announce(a.infoHash, DHT_PORT).then(() => {
      if (a.announcer === m && m.host.alive) a.announcedAt ??= sim.now;
    });
  };

  const assignAnnouncer = (a: Announced) => {
    const m = randomReady();
    a.announcer = m;
    a.announcedAt = undefined;
    if (!m) return;
    announceNow(a, m);
    sim.every(REANNOUNCE_MS, () => announceNow(a, m), m.host);
  };

  // Routers first, then the initial population at random times in the join window.
  for (let i = 0; i < o.routers; i++) spawn(true, Number.POSITIVE_INFINITY);
  for (let i = 0; i < o.nodes; i++) {
    sim.at(
      1000 + sim.random.float() * joinMs,
      () => {
        arrivals++;
        spawn(false, o.churn ? churn.residualSessionMs() : Number.POSITIVE_INFINITY);
      },
      undefined,
      EventKind.churn,
    );
  }
  if (o.churn) {
    const arrive = () => {
      arrivals++;
      spawn(false, churn.freshSessionMs());
      sim.after(churn.nextArrivalMs(o.nodes), arrive, undefined, EventKind.churn);
    };
    sim.at(1000 + joinMs + churn.nextArrivalMs(o.nodes), arrive, undefined, EventKind.churn);
  }

  const settledAt = 1000 + joinMs + o.settleSeconds * 1000;
  await sim.run(settledAt);
  const heapBytes = Math.max(0, liveHeapBytes() - heapBefore);
  const nodesAtSettle = live.length;

  for (let i = 0; i < o.infoHashes; i++) {
    const a: Announced = {
      infoHash: sim.random.bytes(20),
      announcer: undefined,
      announcedAt: undefined,
    };
    announced.push(a);
    assignAnnouncer(a);
  }
  await sim.run(sim.now + 60_000);

  const records: LookupRecord[] = [];
  let skipped = 0;
  const lookupStart = sim.now;
  const spacing = (o.lookupSeconds * 1000) / o.lookups;
  for (let i = 0; i < o.lookups; i++) {
    sim.at(
      lookupStart + i * spacing,
      () => {
        const ready = announced.filter(
          (a) => a.announcer?.host.alive && a.announcedAt !== undefined,
        );
        const target = ready[sim.random.int(ready.length)];
        const from = target && randomReady(target.announcer);
        if (!target || !from?.dht) {
          skipped++;
          return;
        }
        const want = target.announcer!.host.publicIp;
        const r: LookupRecord = {
          startedAt: sim.now,
          foundAt: undefined,
          completedAt: undefined,
          hops: 0,
          queried: 0,
        };
        records.push(r);
        void from.dht
          .getPeers(target.infoHash, (peers) => {
            if (r.foundAt === undefined && peers.some((p) => p.host === want)) r.foundAt = sim.now;
          })
          .then((res) => {
            r.completedAt = sim.now;
            r.hops = res.hops;
            r.queried = res.queried;
          });
      },
      undefined,
      EventKind.scenario,
    );
  }
  const lookupEnd = lookupStart + o.lookups * spacing;
  await sim.run(lookupEnd);
  // Let the last lookups finish (a lookup's own timeouts bound it), without waiting forever.
  await sim.run(lookupEnd + 120_000, () => records.every((r) => r.completedAt !== undefined));

  // ---------------------------------------------------------------- figures
  const finished = records.filter((r) => r.completedAt !== undefined);
  const found = finished.filter((r) => r.foundAt !== undefined);
  const successRate = finished.length > 0 ? found.length / finished.length : 0;
  const findMs = found.map((r) => r.foundAt! - r.startedAt);
  const completeMs = finished.map((r) => r.completedAt! - r.startedAt);
  const hops = found.map((r) => r.hops);
  const queried = finished.map((r) => r.queried);
  const rtt = net.medianRttMs();
  const find = percentiles(findMs);
  const complete = percentiles(completeMs);
  const hop = percentiles(hops);
  const q = percentiles(queried);

  let entries = 0;
  let deadEntries = 0;
  let good = 0;
  let questionable = 0;
  let bad = 0;
  let tables = 0;
  for (const m of live) {
    if (m.router || !m.dht) continue;
    tables++;
    const h = m.dht.table.health();
    good += h.good;
    questionable += h.questionable;
    bad += h.bad;
    for (const n of m.dht.table.all()) {
      entries++;
      if (net.hostAt(n.host) === undefined) deadEntries++;
    }
  }
  const c = net.counters;
  const figures = {
    nodes: o.nodes,
    liveNodesAtEnd: live.length - o.routers,
    churn: o.churn,
    medianSessionMin: o.churn ? o.medianSessionMin : null,
    natShare: o.nat,
    lookups: finished.length,
    lookupsUnfinished: records.length - finished.length,
    lookupsSkipped: skipped,
    successRate: round(successRate, 4),
    hopsP50: hop.p50,
    hopsP99: hop.p99,
    lookupMsP50: round(find.p50),
    lookupMsP90: round(find.p90),
    lookupMsP99: round(find.p99),
    lookupCompleteMsP50: round(complete.p50),
    lookupCompleteMsP99: round(complete.p99),
    rttMsP50: round(rtt),
    lookupP50OverRtt: round(find.p50 / rtt, 2),
    queriesPerLookup: round(mean(queried)),
    ...dhtMetrics(metrics.snapshot()),
    queriesPerLookupP50: q.p50,
    queriesPerLookupP99: q.p99,
    routingTableSizeMean: round(entries / Math.max(1, tables)),
    routingTableGoodShare: round(good / Math.max(1, good + questionable + bad), 3),
    routingTableQuestionableShare: round(questionable / Math.max(1, good + questionable + bad), 3),
    routingTableBadShare: round(bad / Math.max(1, good + questionable + bad), 3),
    routingTableDeadEntryShare: round(deadEntries / Math.max(1, entries), 3),
    arrivals,
    departures,
    datagramsSent: c.udpSent,
    datagramsLost: c.udpLost,
    datagramsFiltered: c.udpFiltered,
    simulatedSeconds: round(sim.now / 1000),
  };
  const target = o.churn ? 0.98 : 0.995;
  const failures: string[] = [];
  if (successRate < target)
    failures.push(`lookup success ${(successRate * 100).toFixed(2)} % < ${target * 100} %`);
  if (finished.length < o.lookups * 0.9)
    failures.push(`only ${finished.length} of ${o.lookups} lookups finished`);
  const summary = [
    `${o.nodes} nodes${o.churn ? `, churn (median session ${o.medianSessionMin} min)` : ''}${o.nat > 0 ? `, ${o.nat * 100} % behind NAT` : ''}; ${finished.length} lookups`,
    `success ${(successRate * 100).toFixed(2)} %; hops p50 ${hop.p50} p99 ${hop.p99}; ${figures.queriesPerLookup} queries per lookup`,
    `time to find p50 ${figures.lookupMsP50} ms, p90 ${figures.lookupMsP90} ms, p99 ${figures.lookupMsP99} ms (${figures.lookupP50OverRtt} × the median RTT of ${figures.rttMsP50} ms); to finish p50 ${figures.lookupCompleteMsP50} ms`,
    `routing tables: ${figures.routingTableSizeMean} entries on average, ${pct(figures.routingTableGoodShare)} good, ${pct(figures.routingTableDeadEntryShare)} pointing at departed nodes`,
  ];
  return {
    sim,
    figures,
    charts: [
      {
        title: `DHT lookups: ${o.nodes} nodes${o.churn ? ', churn' : ''}`,
        xLabel: 'milliseconds (log scale)',
        yLabel: 'fraction of lookups',
        logX: true,
        yMax: 1,
        series: [
          { name: 'time to find the announcer', points: cdfPoints(findMs), step: true },
          { name: 'time to finish the lookup', points: cdfPoints(completeMs), step: true },
        ],
        markers: [
          { label: `median RTT ${Math.round(rtt)} ms`, value: rtt, axis: 'x' },
          { label: '2 × median RTT', value: 2 * rtt, axis: 'x', color: '#999' },
        ],
      },
    ],
    summary,
    ok: failures.length === 0,
    failures,
    nodes: nodesAtSettle,
    heapBytes,
  };
}

function pct(share: number | null): string {
  return `${((share ?? 0) * 100).toFixed(1)} %`;
}

/** The `dht` scenario for the command line. */
export const dhtDefinition: ScenarioDefinition = {
  name: 'dht',
  description: 'N DHT nodes bootstrap, announce and look up info-hashes (optionally with churn)',
  options: [
    {
      name: 'nodes',
      flag: 'nodes',
      kind: 'int',
      description: `nodes (default ${DEFAULT_DHT_SCENARIO.nodes})`,
    },
    { name: 'lookups', flag: 'lookups', kind: 'int', description: 'lookups (default 1000)' },
    {
      name: 'infoHashes',
      flag: 'info-hashes',
      kind: 'int',
      description: 'info-hashes announced (default 100)',
    },
    {
      name: 'churn',
      flag: 'churn',
      kind: 'boolean',
      description: 'nodes leave and arrive (Weibull sessions)',
    },
    {
      name: 'medianSessionMin',
      flag: 'median-session-min',
      kind: 'number',
      description: 'median session, minutes (default 60)',
    },
    {
      name: 'sessionShape',
      flag: 'session-shape',
      kind: 'number',
      description: 'Weibull shape of sessions (default 0.5)',
    },
    {
      name: 'joinSeconds',
      flag: 'join-seconds',
      kind: 'number',
      description: 'join window (default 60 s + 20 ms/node)',
    },
    {
      name: 'settleSeconds',
      flag: 'settle-seconds',
      kind: 'number',
      description: 'settling time after the last join (default 1200)',
    },
    {
      name: 'lookupSeconds',
      flag: 'lookup-seconds',
      kind: 'number',
      description: 'window for the lookups (default 600)',
    },
    { name: 'routers', flag: 'routers', kind: 'int', description: 'bootstrap routers (default 4)' },
    {
      name: 'nat',
      flag: 'nat',
      kind: 'number',
      description: 'share of nodes behind NAT, 0–1 (default 0)',
    },
    {
      name: 'loss',
      flag: 'loss',
      kind: 'number',
      description: 'datagram loss, 0–1 (default 0.005)',
    },
  ],
  run: (options) => dhtScenario(options as Partial<DhtScenarioOptions>),
};

/** The network's DHT totals, read from the registry every node counts into. */
function dhtMetrics(snapshot: MetricsSnapshot) {
  const lookups = histogramMean(snapshot, 'shoal_dht_lookup_queries', { type: 'get_peers' });
  const hops = histogramMean(snapshot, 'shoal_dht_lookup_hops', { type: 'get_peers' });
  return {
    queriesSent: sumSeries(snapshot, 'shoal_dht_queries_total', { direction: 'out' }),
    queryTimeouts: sumSeries(snapshot, 'shoal_dht_responses_total', { result: 'timeout' }),
    getPeersLookups: lookups.count,
    getPeersQueriesMean: round(lookups.mean, 1),
    getPeersHopsMean: round(hops.mean, 2),
    refreshLookups: sumSeries(snapshot, 'shoal_dht_lookups_total', { type: 'refresh' }),
  };
}
