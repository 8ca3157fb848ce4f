import { createTorrent } from '../../metainfo/create.js';
import { Node } from '../../node/node.js';
import { SimError } from '../errors.js';
import { liveHeapBytes } from '../memory.js';
import { DEFAULT_PLAYER, SimPlayer } from '../player.js';
import type { ScenarioDefinition, ScenarioOutcome } from '../scenario.js';
import { createSimRuntime } from '../sim-runtime.js';
import { round } from '../stats.js';
import { kbpsToBytes, randomContent, simNodeConfig, TRACKER_PORT } from './common.js';
import { startVideoWorld } from './video-world.js';

/** Options of the `stream` scenario, with defaults in {@link DEFAULT_STREAM_SCENARIO}. */
export interface StreamScenarioOptions {
  readonly seed: number;
  /** Peers holding the whole file, each limited to `peerUpKbps`. */
  readonly peers: number;
  /** Each peer's upload, kbit/s. */
  readonly peerUpKbps: number;
  /** The media's bitrate, kbit/s. */
  readonly bitrateKbps: number;
  readonly minutes: number;
  readonly pieceKiB: number;
  /** The viewer's download capacity, kbit/s. */
  readonly downKbps: number;
  readonly loss: number;
}

/** A 10-minute 4 Mbit/s stream from 6 peers of 1.2 Mbit/s each (1.8× the bitrate in all). */
export const DEFAULT_STREAM_SCENARIO: StreamScenarioOptions = {
  seed: 1,
  peers: 6,
  peerUpKbps: 1200,
  bitrateKbps: 4000,
  minutes: 10,
  pieceKiB: 256,
  downKbps: 40_000,
  loss: 0.005,
};

/**
 * `stream`: one viewer plays a video from a swarm of rate-limited peers while it downloads: a
 * simulated player (2 s start-up buffer, reading up to 30 s ahead) reads it through the
 * library's piece reader at the bitrate. Reports the share of playing time spent stalled
 * (target ≤ 0.5 %), start-up time, stalls and how much more than the file was downloaded.
 */
export async function streamScenario(
  options: Partial<StreamScenarioOptions> = {},
): Promise<ScenarioOutcome> {
  const o: StreamScenarioOptions = { ...DEFAULT_STREAM_SCENARIO, ...options };
  if (!(o.peers >= 1) || !(o.minutes > 0) || !(o.pieceKiB >= 16) || !(o.bitrateKbps > 0))
    throw new SimError('SIM_OPTIONS', 'stream needs peers ≥ 1, minutes > 0, pieces ≥ 16 KiB');
  const { heapBefore, bytesPerSecond, size, sim, net, pages, hasher, trackerHost } =
    await startVideoWorld(o);
  const content = randomContent(sim, size);
  let torrent: Buffer | undefined;
  for (let i = 0; i < o.peers; i++) {
    const host = net.addHost({
      upBytesPerSecond: kbpsToBytes(o.peerUpKbps),
      downBytesPerSecond: kbpsToBytes(o.downKbps),
    });
    const runtime = createSimRuntime(net, host, pages);
    await runtime.fs.mkdir('/downloads');
    await runtime.fs.writeFileAtomic('/downloads/video.bin', content);
    torrent ??= (
      await sim.runUntilSettled(
        createTorrent('/downloads/video.bin', runtime.fs, hasher, {
          version: 'v1',
          pieceLength: o.pieceKiB * 1024,
          trackers: [`udp://${trackerHost.publicIp}:${TRACKER_PORT}`],
        }),
      )
    ).torrent;
    const node = await sim.runUntilSettled(Node.start(runtime, simNodeConfig(), { hasher }));
    await sim.runUntilSettled(node.add(torrent, { persist: false }));
  }
  const viewerHost = net.addHost({
    upBytesPerSecond: kbpsToBytes(o.peerUpKbps),
    downBytesPerSecond: kbpsToBytes(o.downKbps),
  });
  const viewerRuntime = createSimRuntime(net, viewerHost, pages);
  const viewer = await sim.runUntilSettled(Node.start(viewerRuntime, simNodeConfig(), { hasher }));
  const start = sim.now;
  const t = await sim.runUntilSettled(viewer.add(torrent!, { persist: false }));
  const player = new SimPlayer(t.createReader(0), viewerRuntime.clock, viewerRuntime.timers, {
    ...DEFAULT_PLAYER,
    bytesPerSecond,
  });
  const maxMs = o.minutes * 60_000 * 3;
  let heapBytes = 0;
  await sim.run(start + o.minutes * 30_000, () => player.finished);
  heapBytes = Math.max(0, liveHeapBytes() - heapBefore);
  await sim.run(start + maxMs, () => player.finished);
  const s = t.stats();
  const playMs = o.minutes * 60_000;
  const stalledPercent = (player.stalledMs / playMs) * 100;
  const startup = player.startupMs === undefined ? Number.NaN : player.startupMs / 1000;
  const figures = {
    peers: o.peers,
    peerUpBytesPerSecond: kbpsToBytes(o.peerUpKbps),
    bitrateBytesPerSecond: bytesPerSecond,
    fileBytes: size,
    finished: player.finished,
    startupSeconds: round(startup, 2),
    stalls: player.stalls,
    stalledSeconds: round(player.stalledMs / 1000, 2),
    stalledPercent: round(stalledPercent, 3),
    downloadedOverFile: round(s.downloaded / size, 3),
    simulatedSeconds: round((sim.now - start) / 1000, 1),
  };
  const failures: string[] = [];
  if (!player.finished) failures.push('the player did not reach the end');
  if (!(stalledPercent <= 0.5))
    failures.push(`stalled ${stalledPercent.toFixed(2)} % of the time (target ≤ 0.5 %)`);
  return {
    sim,
    figures,
    charts: [],
    summary: [
      `${o.minutes} min at ${o.bitrateKbps} kbit/s from ${o.peers} peers of ${o.peerUpKbps} kbit/s (${((o.peers * kbpsToBytes(o.peerUpKbps)) / bytesPerSecond).toFixed(2)}× the bitrate)`,
      `started after ${figures.startupSeconds} s; ${player.stalls} stall(s), ${figures.stalledSeconds} s = ${figures.stalledPercent} % of the playing time`,
      `downloaded ${figures.downloadedOverFile} × the file`,
    ],
    ok: failures.length === 0,
    failures,
    nodes: o.peers + 1,
    heapBytes,
  };
}

/** The `stream` scenario for the command line. */
export const streamDefinition: ScenarioDefinition = {
  name: 'stream',
  description: 'a viewer plays a video from rate-limited peers while it downloads; time stalled',
  options: [
    { name: 'peers', flag: 'peers', kind: 'int', description: 'peers with the file (default 6)' },
    {
      name: 'peerUpKbps',
      flag: 'peer-up-kbps',
      kind: 'number',
      description: "each peer's upload, kbit/s (default 1200)",
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
      name: 'downKbps',
      flag: 'down-kbps',
      kind: 'number',
      description:
        'download capacity, kbit/s (default 8000 for swarm, 40000 for stream and offload)',
    },
    {
      name: 'loss',
      flag: 'loss',
      kind: 'number',
      description: 'datagram loss, 0–1 (default 0.005)',
    },
  ],
  run: (options) => streamScenario(options as Partial<StreamScenarioOptions>),
};
