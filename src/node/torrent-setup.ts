import type { Dht } from '../dht/dht.js';
import type { TorrentDeps, TorrentOptions } from '../swarm/options.js';
import type { NodeConfig } from './config.js';
import type { AddTorrentOptions } from './types.js';

/** What the node shares with every torrent but its registry, and the DHT if it runs one. */
export type SharedTorrentParts = Omit<TorrentDeps, 'metrics' | 'dht' | 'localAddress'>;

/**
 * A torrent's dependencies: the node's shared parts, its own child registry, the node's
 * listen address (web seed requests leave from it) and its DHT (BEP 5 port messages; peers
 * that send one are pinged into the routing table).
 */
export function torrentDeps(
  shared: SharedTorrentParts,
  config: NodeConfig,
  dht: Dht | undefined,
  metrics: TorrentDeps['metrics'],
): TorrentDeps {
  return {
    ...shared,
    metrics,
    ...(config.host !== '0.0.0.0' && config.host !== '::' && { localAddress: config.host }),
    ...(dht && {
      dht: {
        port: () => dht.port,
        nodeSeen: (host: string, port: number) =>
          void dht.query({ host, port }, 'ping', {}).catch(() => undefined),
      },
    }),
  };
}

/** A torrent's options: where it lives, what the caller asked, the node's swarm settings. */
export function torrentOptions(
  config: NodeConfig,
  options: AddTorrentOptions,
  place: {
    readonly downloadDir: string;
    readonly resumePath: string;
    readonly filePriorities: readonly number[] | undefined;
  },
): TorrentOptions {
  return {
    downloadDir: place.downloadDir,
    resumePath: place.resumePath,
    ...(options.recheck !== undefined && { recheck: options.recheck }),
    ...(place.filePriorities && { filePriorities: place.filePriorities }),
    ...(options.pickMode && { pickMode: options.pickMode }),
    ...(options.webSeeds !== undefined && { webSeeds: options.webSeeds }),
    ...(options.seedLimits && { seedLimits: options.seedLimits }),
    directWrites: config.directWrites,
    swarm: {
      pex: config.pex,
      maxPeers: config.maxPeersPerTorrent,
      uploadSlots: config.uploadSlots,
      ...options.swarm,
    },
  };
}
