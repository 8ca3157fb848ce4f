import { InlineHasher } from '../../crypto/inline-hasher.js';
import { TrackerServer } from '../../tracker/server.js';
import type { SimHost } from '../host.js';
import { PageStore } from '../memfs.js';
import { liveHeapBytes } from '../memory.js';
import { Network } from '../network.js';
import { createSimRuntime } from '../sim-runtime.js';
import { Simulator } from '../simulator.js';
import { TRACKER_PORT } from './common.js';

/** The world the video scenarios (`stream`, `offload`) start from. */
export interface VideoWorld {
  /** Live heap before the run, for the per-node memory figure. */
  readonly heapBefore: number;
  /** The video's bitrate in bytes per second, and its size. */
  readonly bytesPerSecond: number;
  readonly size: number;
  readonly sim: Simulator;
  readonly net: Network;
  readonly pages: PageStore;
  readonly hasher: InlineHasher;
  /** The host of the UDP tracker (on {@link TRACKER_PORT}) that introduces the peers. */
  readonly trackerHost: SimHost;
}

/** A simulator and network for a video of `minutes` at `bitrateKbps`, its tracker running. */
export async function startVideoWorld(o: {
  readonly seed: number;
  readonly loss: number;
  readonly bitrateKbps: number;
  readonly minutes: number;
}): Promise<VideoWorld> {
  const heapBefore = liveHeapBytes();
  const bytesPerSecond = (o.bitrateKbps * 1000) / 8;
  const size = Math.round(bytesPerSecond * o.minutes * 60);
  const sim = new Simulator(o.seed);
  const net = new Network(sim, { udpLoss: o.loss });
  const pages = new PageStore();
  const hasher = new InlineHasher();
  const trackerHost = net.addHost({ upBytesPerSecond: 1e9, downBytesPerSecond: 1e9 });
  await sim.runUntilSettled(
    TrackerServer.start(createSimRuntime(net, trackerHost, pages), { udpPort: TRACKER_PORT }),
  );
  return { heapBefore, bytesPerSecond, size, sim, net, pages, hasher, trackerHost };
}
