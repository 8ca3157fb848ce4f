import { createTorrent } from '../../metainfo/create.js';
import { Node } from '../../node/node.js';
import type { Torrent } from '../../swarm/torrent.js';
import { SimError } from '../errors.js';
import { startHttpOrigin } from '../http-origin.js';
import { liveHeapBytes } from '../memory.js';
import { DEFAULT_PLAYER, SimPlayer } from '../player.js';
import type { ScenarioDefinition, ScenarioOutcome } from '../scenario.js';
import { createSimRuntime } from '../sim-runtime.js';
import { EventKind } from '../simulator.js';
import { percentiles, round } from '../stats.js';
import { kbpsToBytes, randomContent, simNodeConfig, TRACKER_PORT } from './common.js';
import { startVideoWorld } from './video-world.js';

/** Options of the `offload` scenario, with defaults in {@link DEFAULT_OFFLOAD_SCENARIO}. */
export interface OffloadScenarioOptions {
  readonly seed: number;
  readonly viewers: number;
  /** Viewers arrive at random within this many seconds. */
  readonly joinSeconds: number;
  readonly bitrateKbps: number;
  readonly minutes: number;
  readonly pieceKiB: number;
  /** Each viewer's upload and download capacity, kbit/s. */
  readonly viewerUpKbps: number;
  readonly downKbps: number;
  /** The origin's upload capacity, kbit/s. */
  readonly originUpKbps: number;
  readonly loss: number;
}

/** 50 viewers of a 2-minute 4 Mbit/s video joining over a minute, the origin a web seed. */
export const DEFAULT_OFFLOAD_SCENARIO: OffloadScenarioOptions = {
  seed: 1,
  viewers: 50,
  joinSeconds: 60,
  bitrateKbps: 4000,
  minutes: 2,
  pieceKiB: 64,
  viewerUpKbps: 8000,
  downKbps: 40_000,
  originUpKbps: 80_000,
  loss: 0.005,
};

const ORIGIN_PORT = 80;

/**
 * `offload`: a video's origin is an HTTP server named in the torrent as a web seed (BEP 19),
 * and viewers joining over a minute are each other's peers (a UDP tracker introduces them).
 * Each viewer plays the video from the start with a simulated player. Reports the share of all
 * bytes the origin served (target ≤ 20 %), each viewer's start-up time (target ≤ 5 s for all)
 * and the time spent stalled.
 */
export async function offloadScenario(
  options: Partial<OffloadScenarioOptions> = {},
): Promise<ScenarioOutcome> {
  const o: OffloadScenarioOptions = { ...DEFAULT_OFFLOAD_SCENARIO, ...options };
  if (!(o.viewers >= 1) || !(o.minutes > 0) || !(o.pieceKiB >= 16) || !(o.bitrateKbps > 0))
    throw new SimError('SIM_OPTIONS', 'offload needs viewers ≥ 1, minutes > 0, pieces ≥ 16 KiB');
  const { heapBefore, bytesPerSecond, size, sim, net, pages, hasher, trackerHost } =
    await startVideoWorld(o);
  const originHost = net.addHost({
    upBytesPerSecond: kbpsToBytes(o.originUpKbps),
    downBytesPerSecond: 1e9,
  });
  const originRuntime = createSimRuntime(net, originHost, pages);
  await originRuntime.fs.mkdir('/www');
  await originRuntime.fs.writeFileAtomic('/www/video.bin', randomContent(sim, size));
  const origin = await sim.runUntilSettled(
    startHttpOrigin(originRuntime, {
      port: ORIGIN_PORT,
      files: new Map([['/video.bin', '/www/video.bin']]),
    }),
  );
  const { torrent } = await sim.runUntilSettled(
    createTorrent('/www/video.bin', originRuntime.fs, hasher, {
      version: 'v1',
      pieceLength: o.pieceKiB * 1024,
      trackers: [`udp://${trackerHost.publicIp}:${TRACKER_PORT}`],
      webSeeds: [`http://${originHost.publicIp}:${ORIGIN_PORT}/`],
    }),
  );

  const players: SimPlayer[] = [];
  const torrents: Torrent[] = [];
  const start = sim.now;
  for (let i = 0; i < o.viewers; i++) {
    const host = net.addHost({
      upBytesPerSecond: kbpsToBytes(o.viewerUpKbps),
      downBytesPerSecond: kbpsToBytes(o.downKbps),
    });
    const runtime = createSimRuntime(net, host, pages);
    sim.at(
      start + sim.random.float() * o.joinSeconds * 1000,
      () => {
        void Node.start(runtime, simNodeConfig(), { hasher })
          .then((node) => node.add(torrent, { persist: false }))
          .then((t) => {
            torrents.push(t);
            players.push(
              new SimPlayer(t.createReader(0), runtime.clock, runtime.timers, {
                ...DEFAULT_PLAYER,
                bytesPerSecond,
              }),
            );
          });
      },
      undefined,
      EventKind.scenario,
    );
  }
  const maxMs = (o.joinSeconds + o.minutes * 60 * 3) * 1000;
  const allDone = () => players.length === o.viewers && players.every((p) => p.finished);
  await sim.run(start + o.joinSeconds * 1000 + o.minutes * 30_000, allDone);
  const heapBytes = Math.max(0, liveHeapBytes() - heapBefore);
  await sim.run(start + maxMs, allDone);

  let downloaded = 0;
  let fromWebSeeds = 0;
  for (const t of torrents) {
    const s = t.stats();
    downloaded += s.downloaded;
    fromWebSeeds += s.downloadedFromWebSeeds;
  }
  const startups = players.map((p) => (p.startupMs ?? Number.POSITIVE_INFINITY) / 1000);
  const p = percentiles(startups);
  const maxStartup = Math.max(...startups);
  const stalledMs = players.reduce((a, x) => a + x.stalledMs, 0);
  const share = downloaded > 0 ? origin.bytesServed / downloaded : Number.NaN;
  const stalledPercent = (stalledMs / (o.viewers * o.minutes * 60_000)) * 100;
  const figures = {
    viewers: o.viewers,
    finished: players.filter((x) => x.finished).length,
    fileBytes: size,
    originBytes: origin.bytesServed,
    originRequests: origin.requests,
    viewersDownloadedBytes: downloaded,
    webSeedShare: round(share, 4),
    webSeedCopies: round(origin.bytesServed / size, 2),
    webSeedBytesCounted: fromWebSeeds,
    startupSecondsP50: round(p.p50, 2),
    startupSecondsP90: round(p.p90, 2),
    startupSecondsMax: round(maxStartup, 2),
    stalledPercent: round(stalledPercent, 3),
    simulatedSeconds: round((sim.now - start) / 1000, 1),
  };
  const failures: string[] = [];
  if (figures.finished < o.viewers)
    failures.push(`${o.viewers - figures.finished} of ${o.viewers} viewers did not finish`);
  if (!(share <= 0.2))
    failures.push(`the origin served ${(share * 100).toFixed(1)} % of the bytes (target ≤ 20 %)`);
  if (!(maxStartup <= 5))
    failures.push(`a viewer started after ${maxStartup.toFixed(1)} s (target ≤ 5 s)`);
  return {
    sim,
    figures,
    charts: [
      {
        title: `Start-up times: ${o.viewers} viewers`,
        xLabel: 'viewers, in order of start-up time',
        yLabel: 'seconds',
        series: [
          {
            name: 'start-up',
            points: [...startups]
              .sort((a, b) => a - b)
              .map((s, i) => [i + 1, s] as [number, number]),
          },
        ],
        markers: [{ label: 'target 5 s', value: 5, axis: 'y', color: '#d62728' }],
      },
    ],
    summary: [
      `${o.viewers} viewers over ${o.joinSeconds} s of a ${o.minutes} min ${o.bitrateKbps} kbit/s video; ${figures.finished} finished`,
      `the origin served ${figures.webSeedCopies} copies = ${(share * 100).toFixed(1)} % of the ${(downloaded / 1e6).toFixed(0)} MB viewers received`,
      `start-up p50 ${figures.startupSecondsP50} s, p90 ${figures.startupSecondsP90} s, max ${figures.startupSecondsMax} s; stalled ${figures.stalledPercent} % of playing time`,
    ],
    ok: failures.length === 0,
    failures,
    nodes: o.viewers + 2,
    heapBytes,
  };
}

/** The `offload` scenario for the command line. */
export const offloadDefinition: ScenarioDefinition = {
  name: 'offload',
  description: 'viewers join a video whose origin is a web seed; share of bytes from the origin',
  options: [
    { name: 'viewers', flag: 'viewers', kind: 'int', description: 'viewers (default 50)' },
    {
      name: 'joinSeconds',
      flag: 'join-seconds',
      kind: 'number',
      description: 'viewers arrive within (default 60 s)',
    },
    {
      name: 'bitrateKbps',
      flag: 'bitrate-kbps',
      kind: 'number',
      description: 'media bitrate, kbit/s (default 4000)',
    },
    {
      name: 'minutes',
      flag: 'minutes',
      kind: 'number',
      description: 'media length, minutes (stream 10, offload 2)',
    },
    {
      name: 'pieceKiB',
      flag: 'piece-kib',
      kind: 'int',
      description: 'piece size, KiB (default 256 for stream, 64 for offload)',
    },
    {
      name: 'viewerUpKbps',
      flag: 'viewer-up-kbps',
      kind: 'number',
      description: "each viewer's upload, kbit/s (default 8000)",
    },
    {
      name: 'downKbps',
      flag: 'down-kbps',
      kind: 'number',
      description:
        'download capacity, kbit/s (default 8000 for swarm, 40000 for stream and offload)',
    },
    {
      name: 'originUpKbps',
      flag: 'origin-up-kbps',
      kind: 'number',
      description: "the origin's upload, kbit/s (default 80000)",
    },
    {
      name: 'loss',
      flag: 'loss',
      kind: 'number',
      description: 'datagram loss, 0–1 (default 0.005)',
    },
  ],
  run: (options) => offloadScenario(options as Partial<OffloadScenarioOptions>),
};
