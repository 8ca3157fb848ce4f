import { InlineHasher } from '../../crypto/inline-hasher.js';
import { createTorrent } from '../../metainfo/create.js';
import { choosePieceLength } from '../../metainfo/piece-length.js';
import type { MetricsSnapshot } from '../../metrics/exposition.js';
import { createMetricsRegistry } from '../../metrics/registry.js';
import { Node } from '../../node/node.js';
import { TrackerServer } from '../../tracker/server.js';
import { SimError } from '../errors.js';
import type { SimHost } from '../host.js';
import { PageStore } from '../memfs.js';
import { liveHeapBytes } from '../memory.js';
import { sumSeries } from '../metrics-report.js';
import { Network } from '../network.js';
import type { ScenarioDefinition, ScenarioOutcome } from '../scenario.js';
import { createSimRuntime } from '../sim-runtime.js';
import { EventKind, Simulator } from '../simulator.js';
import { mean, percentiles, round } from '../stats.js';
import { kbpsToBytes, randomContent, simNodeConfig, TRACKER_PORT } from './common.js';

/** Options of the `swarm` scenario, with defaults in {@link DEFAULT_SWARM_SCENARIO}. */
export interface SwarmScenarioOptions {
  readonly seed: number;
  readonly leechers: number;
  readonly fileMiB: number;
  /** 0: what `shoal create` picks for the file (32 KiB for the default 32 MiB). */
  readonly pieceKiB: number;
  /** Upload capacity of the seeder and (when homogeneous) of every leecher, kbit/s. */
  readonly upKbps: number;
  /** The seeder's upload, kbit/s; 0: `upKbps`. */
  readonly seedUpKbps: number;
  /** Download capacity of every leecher, kbit/s. */
  readonly downKbps: number;
  /**
   * Leecher upload capacities drawn from a mix (40 % ½×, 30 % 1×, 20 % 2×, 10 % 8× `upKbps`,
   * download 8× upload) instead of all equal.
   */
  readonly heterogeneous: boolean;
  /** Leechers arrive at random within this many seconds (a flash crowd by default). */
  readonly arrivalSeconds: number;
  /** Give up after this much virtual time, seconds (default: 20 × the lower bound). */
  readonly maxSeconds: number;
  readonly loss: number;
}

/**
 * Defaults: 100 leechers, a 32 MiB file in the pieces `shoal create` would cut (32 KiB),
 * 1 Mbit/s up for everyone, 8 Mbit/s down.
 */
export const DEFAULT_SWARM_SCENARIO: SwarmScenarioOptions = {
  seed: 1,
  leechers: 100,
  fileMiB: 32,
  pieceKiB: 0,
  upKbps: 1000,
  seedUpKbps: 0, // 0: same as upKbps
  downKbps: 8000,
  heterogeneous: false,
  arrivalSeconds: 5,
  maxSeconds: 0,
  loss: 0.005,
};

const SAMPLE_MS = 5000;
/**
 * Each node's cache of whole pieces read for uploading (8 MiB by default). Reads cost no
 * virtual time here, so a small cache changes nothing but the memory a thousand nodes take
 * (4 MiB had been half of each node's heap).
 */
const SIM_PIECE_CACHE_BYTES = 512 * 1024;

/**
 * `swarm`: one seeder and N leechers (the real `Node` and `Torrent` engines, a real UDP
 * tracker) share one file over the simulated network. Each leecher's completion time is set
 * against the Kumar–Ross lower bound T_min = max(F/u_s, F/d_min, N·F/(u_s + Σu_i)), and the
 * swarm's upload utilisation is sampled over time.
 */
export async function swarmScenario(
  options: Partial<SwarmScenarioOptions> = {},
): Promise<ScenarioOutcome> {
  const given: SwarmScenarioOptions = { ...DEFAULT_SWARM_SCENARIO, ...options };
  const F = Math.round(given.fileMiB * 1024 * 1024);
  const o: SwarmScenarioOptions = {
    ...given,
    pieceKiB: given.pieceKiB === 0 ? choosePieceLength(F) / 1024 : given.pieceKiB,
  };
  if (!(o.leechers >= 1) || !(o.fileMiB > 0) || !(o.pieceKiB >= 16) || !(o.upKbps > 0))
    throw new SimError(
      'SIM_OPTIONS',
      'swarm needs leechers ≥ 1, file > 0, pieces ≥ 16 KiB, up > 0',
    );
  const heapBefore = liveHeapBytes();
  const sim = new Simulator(o.seed);
  const net = new Network(sim, { udpLoss: o.loss });
  const pages = new PageStore();
  const hasher = new InlineHasher();
  const seedUp = kbpsToBytes(o.seedUpKbps > 0 ? o.seedUpKbps : o.upKbps);

  const trackerHost = net.addHost({ upBytesPerSecond: 1e9, downBytesPerSecond: 1e9 });
  await sim.runUntilSettled(
    TrackerServer.start(createSimRuntime(net, trackerHost, pages), { udpPort: TRACKER_PORT }),
  );

  const seedHost = net.addHost({
    upBytesPerSecond: seedUp,
    downBytesPerSecond: kbpsToBytes(o.downKbps),
  });
  const seedRuntime = createSimRuntime(net, seedHost, pages);
  await seedRuntime.fs.mkdir('/downloads');
  await seedRuntime.fs.writeFileAtomic('/downloads/content.bin', randomContent(sim, F));
  const { torrent } = await sim.runUntilSettled(
    createTorrent('/downloads/content.bin', seedRuntime.fs, hasher, {
      version: 'v1',
      pieceLength: o.pieceKiB * 1024,
      trackers: [`udp://${trackerHost.publicIp}:${TRACKER_PORT}`],
    }),
  );
  // One registry for the whole swarm, a child per host: the report reads the totals from it.
  const metrics = createMetricsRegistry();
  const seeder = await sim.runUntilSettled(
    Node.start(seedRuntime, simNodeConfig(), {
      hasher,
      metrics: metrics.child({ host: seedHost.publicIp }),
    }),
  );
  await sim.runUntilSettled(
    seeder.add(torrent, { persist: false, swarm: { pieceCacheBytes: SIM_PIECE_CACHE_BYTES } }),
  );

  const hosts: SimHost[] = [seedHost];
  const capacities: number[] = [seedUp];
  const downs: number[] = [];
  const completion = new Map<number, number>();
  const leecherStats: (() => { downloaded: number; wasted: number })[] = [];
  const start = sim.now;
  for (let i = 0; i < o.leechers; i++) {
    let up = kbpsToBytes(o.upKbps);
    if (o.heterogeneous) {
      const x = sim.random.float();
      up *= x < 0.4 ? 0.5 : x < 0.7 ? 1 : x < 0.9 ? 2 : 8;
    }
    const down = o.heterogeneous ? up * 8 : kbpsToBytes(o.downKbps);
    const host = net.addHost({ upBytesPerSecond: up, downBytesPerSecond: down });
    hosts.push(host);
    capacities.push(up);
    downs.push(down);
    const runtime = createSimRuntime(net, host, pages);
    sim.at(
      start + sim.random.float() * o.arrivalSeconds * 1000,
      () => {
        void Node.start(runtime, simNodeConfig(), {
          hasher,
          metrics: metrics.child({ host: host.publicIp }),
        })
          .then((node) =>
            node.add(torrent, {
              persist: false,
              swarm: { pieceCacheBytes: SIM_PIECE_CACHE_BYTES },
            }),
          )
          .then((t) => {
            leecherStats.push(() => t.stats());
            t.once('done', () => completion.set(i, sim.now - start));
          });
      },
      undefined,
      EventKind.scenario,
    );
  }

  const sumUp = capacities.reduce((a, b) => a + b, 0);
  const dMin = Math.min(...downs);
  const tmin = Math.max(F / seedUp, F / dMin, (o.leechers * F) / sumUp);
  const maxMs = (o.maxSeconds > 0 ? o.maxSeconds : Math.max(600, 20 * tmin)) * 1000;

  // Upload utilisation: bytes sent by everyone over what their uplinks could have sent.
  const utilisation: [number, number][] = [];
  const seederUtilisation: [number, number][] = [];
  let lastBytes = hosts.map((h) => h.up.bytes);
  let lastSeed = seedHost.up.bytes;
  const sampler = sim.every(SAMPLE_MS, () => {
    const now = hosts.map((h) => h.up.bytes);
    let sent = 0;
    for (let i = 0; i < now.length; i++) sent += now[i]! - lastBytes[i]!;
    lastBytes = now;
    const t = (sim.now - start) / 1000;
    utilisation.push([t, sent / ((sumUp * SAMPLE_MS) / 1000)]);
    seederUtilisation.push([t, (seedHost.up.bytes - lastSeed) / ((seedUp * SAMPLE_MS) / 1000)]);
    lastSeed = seedHost.up.bytes;
  });
  // Memory is measured when half the leechers are done: every node is busy then.
  await sim.run(start + maxMs, () => completion.size >= Math.ceil(o.leechers / 2));
  const heapBytes = Math.max(0, liveHeapBytes() - heapBefore);
  await sim.run(start + maxMs, () => completion.size === o.leechers);
  sampler.cancel();

  const times = [...completion.values()].map((ms) => ms / 1000);
  const last = times.length === o.leechers ? Math.max(...times) : Number.NaN;
  const p = percentiles(times);
  const untilLast = utilisation.filter(([t]) => t <= (Number.isNaN(last) ? Infinity : last));
  const meanUtil = mean(untilLast.map(([, u]) => u));
  const seedCopies = seeder.list()[0]!.stats().uploaded / F;
  let downloaded = 0;
  let wasted = 0;
  for (const s of leecherStats.map((f) => f())) {
    downloaded += s.downloaded;
    wasted += s.wasted;
  }
  const figures = {
    leechers: o.leechers,
    completed: times.length,
    fileBytes: F,
    pieceBytes: o.pieceKiB * 1024,
    seedUpBytesPerSecond: seedUp,
    heterogeneous: o.heterogeneous,
    tminSeconds: round(tmin, 2),
    lastCompletionSeconds: round(last, 2),
    lastCompletionOverTmin: round(last / tmin, 3),
    completionSecondsP50: round(p.p50, 2),
    completionSecondsP90: round(p.p90, 2),
    meanCompletionSeconds: round(mean(times), 2),
    uploadUtilisationMean: round(meanUtil, 3),
    seederCopiesUploaded: round(seedCopies, 3),
    /** Payload received by leechers over what they needed (duplicates from endgame, late cancels). */
    downloadedOverNeeded: round(downloaded / (o.leechers * F), 3),
    wastedBytes: wasted,
    tcpConnects: net.counters.tcpConnects,
    ...swarmMetrics(metrics.snapshot()),
    simulatedSeconds: round((sim.now - start) / 1000, 1),
  };
  const failures: string[] = [];
  if (times.length < o.leechers)
    failures.push(`${o.leechers - times.length} of ${o.leechers} leechers did not complete`);
  const summary = [
    `${o.leechers} leechers, ${o.fileMiB} MiB in ${o.pieceKiB} KiB pieces, ${o.heterogeneous ? 'mixed' : 'equal'} capacities; ${times.length} completed`,
    `T_min ${figures.tminSeconds} s; last completion ${figures.lastCompletionSeconds} s = ${figures.lastCompletionOverTmin} × T_min; median ${figures.completionSecondsP50} s`,
    `upload utilisation ${(meanUtil * 100).toFixed(1)} % until the last completion; the seeder uploaded ${figures.seederCopiesUploaded} copies; leechers received ${figures.downloadedOverNeeded} × what they needed`,
  ];
  const sorted = [...times].sort((a, b) => a - b);
  return {
    sim,
    figures,
    charts: [
      {
        title: `Completion times: ${o.leechers} leechers`,
        xLabel: 'leechers, in order of completion',
        yLabel: 'seconds',
        series: [
          {
            name: 'completion time',
            points: sorted.map((t, i) => [i + 1, t] as [number, number]),
          },
        ],
        markers: [
          { label: `T_min = ${tmin.toFixed(1)} s`, value: tmin, axis: 'y', color: '#d62728' },
        ],
      },
      {
        title: 'Upload utilisation',
        xLabel: 'seconds',
        yLabel: 'share of upload capacity used',
        yMax: 1.1,
        series: [
          { name: 'all nodes', points: utilisation },
          { name: 'seeder', points: seederUtilisation },
        ],
        markers: Number.isNaN(last) ? [] : [{ label: 'last completion', value: last, axis: 'x' }],
      },
    ],
    summary,
    ok: failures.length === 0,
    failures,
    nodes: o.leechers + 1,
    heapBytes,
  };
}

/** The `swarm` scenario for the command line. */
export const swarmDefinition: ScenarioDefinition = {
  name: 'swarm',
  description:
    '1 seeder + N leechers download a file; completion times against the Kumar–Ross bound',
  options: [
    { name: 'leechers', flag: 'leechers', kind: 'int', description: 'leechers (default 100)' },
    {
      name: 'fileMiB',
      flag: 'file-mib',
      kind: 'number',
      description: 'file size, MiB (default 32)',
    },
    {
      name: 'pieceKiB',
      flag: 'piece-kib',
      kind: 'int',
      description: 'piece size, KiB (default: what `shoal create` picks, 32 for 32 MiB)',
    },
    {
      name: 'upKbps',
      flag: 'up-kbps',
      kind: 'number',
      description: 'upload capacity, kbit/s (default 1000 = 1 Mbit/s)',
    },
    {
      name: 'seedUpKbps',
      flag: 'seed-up-kbps',
      kind: 'number',
      description: "seeder's upload, kbit/s (default: --up-kbps)",
    },
    {
      name: 'downKbps',
      flag: 'down-kbps',
      kind: 'number',
      description:
        'download capacity, kbit/s (default 8000 for swarm, 40000 for stream and offload)',
    },
    {
      name: 'heterogeneous',
      flag: 'heterogeneous',
      kind: 'boolean',
      description: 'mixed leecher capacities',
    },
    {
      name: 'arrivalSeconds',
      flag: 'arrival-seconds',
      kind: 'number',
      description: 'leechers arrive within (default 5 s)',
    },
    {
      name: 'maxSeconds',
      flag: 'max-seconds',
      kind: 'number',
      description: 'give up after (default 20 × T_min)',
    },
    {
      name: 'loss',
      flag: 'loss',
      kind: 'number',
      description: 'datagram loss, 0–1 (default 0.005)',
    },
  ],
  run: (options) => swarmScenario(options as Partial<SwarmScenarioOptions>),
};

/** The swarm's totals, read from its metrics registry (every host's series added up). */
function swarmMetrics(snapshot: MetricsSnapshot) {
  return {
    piecesVerified: sumSeries(snapshot, 'shoal_torrent_pieces_checked_total', {
      result: 'verified',
    }),
    piecesFailed: sumSeries(snapshot, 'shoal_torrent_pieces_checked_total', { result: 'failed' }),
    payloadBytesSent: sumSeries(snapshot, 'shoal_payload_bytes_total', { direction: 'out' }),
    requestsSent: sumSeries(snapshot, 'shoal_peer_messages_total', {
      direction: 'out',
      type: 'request',
    }),
    rejectsSent: sumSeries(snapshot, 'shoal_peer_messages_total', {
      direction: 'out',
      type: 'reject',
    }),
    cancelsSent: sumSeries(snapshot, 'shoal_peer_messages_total', {
      direction: 'out',
      type: 'cancel',
    }),
    dials: sumSeries(snapshot, 'shoal_connections_total', {
      direction: 'outbound',
      outcome: 'dialled',
    }),
    encryptedDialsClosed: sumSeries(snapshot, 'shoal_outbound_encryption_total', {
      result: 'refused_by_peer',
    }),
    acceptedConnections: sumSeries(snapshot, 'shoal_connections_total', {
      direction: 'inbound',
      outcome: 'accepted',
    }),
    ...messagesByType(snapshot),
  };
}

/**
 * Messages sent by all nodes, by type: `sentHave`, `sentPiece`, `sentExtended` (PEX and the
 * extended handshake), `sentKeepAlive`, ….
 */
function messagesByType(snapshot: MetricsSnapshot): Record<string, number> {
  const byType: Record<string, number> = {};
  const metric = snapshot.shoal_peer_messages_total;
  if (metric?.type !== 'counter') return byType;
  for (const s of metric.series) {
    const type = s.labels.type;
    if (s.labels.direction !== 'out' || type === undefined) continue;
    const name = `sent-${type}`.replace(/-(.)/g, (_, c: string) => c.toUpperCase());
    byType[name] = (byType[name] ?? 0) + s.value;
  }
  return byType;
}
