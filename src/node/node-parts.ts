import type { EventEmitter } from 'node:events';
import { HashPool } from '../crypto/hash-pool.js';
import type { Identity } from '../crypto/identity.js';
import { createMetricsRegistry, type MetricsRegistry } from '../metrics/registry.js';
import { ConnectionManager } from '../net/connection-manager.js';
import type { Dialer } from '../net/dialer.js';
import type { InboundDemux } from '../net/inbound-demux.js';
import { declarePeerMetrics } from '../peers/metrics.js';
import type { SecurePeers } from '../peers/secure-peers.js';
import type { Runtime } from '../runtime/runtime.js';
import { TokenBucket } from '../shared/rate.js';
import { SharedTicker } from '../shared/ticker.js';
import { PeerWireMetrics } from '../swarm/metrics.js';
import type { SeedLimits } from '../swarm/seed-limits.js';
import type { Torrent } from '../swarm/torrent.js';
import { BitTorrentInbound, MseInbound } from './bittorrent-inbound.js';
import type { LoadedBlocklist } from './blocklist-loader.js';
import type { NodeConfig } from './config.js';
import { Library } from './library.js';
import { declareNodeMetrics } from './metrics.js';
import { PeerWatch } from './peer-watch.js';
import { createSecurePeers, type SecurePeerParts } from './secure-peers.js';
import type { NodeServices } from './services.js';
import type { SharedTorrentParts } from './torrent-setup.js';
import { createNodeDialer } from './transports.js';
import type { NodeEvents, NodeStartOptions } from './types.js';

const CLIENT_PREFIX = '-SH0010-';
/** How often the node's torrents do their housekeeping (one timer for all of them). */
const TORRENT_TICK_MS = 1000;

/**
 * The node as its parts see it: where they tell events, and what they read of it when asked
 * (ports, node-wide seeding limits, the blocklist, the inbound demultiplexer). `Node` is one.
 */
export interface PartsNode extends EventEmitter<NodeEvents> {
  readonly port: number;
  readonly announcedPort: number;
  readonly seedLimits: SeedLimits;
  readonly blocklist: LoadedBlocklist | undefined;
  /** Protocols spoken on the listening port; the parts register theirs. */
  readonly inbound: InboundDemux;
}

/** The state of the node the parts read: its services and its torrents. */
export interface PartsState {
  readonly services: NodeServices;
  /** The node's torrents by info-hash (hex). */
  readonly torrents: ReadonlyMap<string, Torrent>;
  /** The node's torrents by every hash a peer may name in a handshake (hex). */
  readonly byHandshakeHash: ReadonlyMap<string, Torrent>;
}

/** What a node makes before it listens: everything but its sockets and the engines on them. */
export interface NodeParts {
  readonly metrics: MetricsRegistry;
  readonly peerId: Buffer;
  readonly library: Library;
  /** The worker pool the node created (and so closes); none when a hasher was given. */
  readonly ownPool: HashPool | undefined;
  readonly globalUpload: TokenBucket;
  readonly globalDownload: TokenBucket;
  readonly connections: ConnectionManager;
  readonly peerWatch: PeerWatch;
  readonly dialer: Dialer;
  readonly torrentParts: SharedTorrentParts;
  /** Incoming encrypted BitTorrent (absent when encryption is disabled). */
  readonly mse: MseInbound | undefined;
  readonly peerParts: SecurePeerParts;
  readonly peers: SecurePeers;
}

/**
 * Makes the parts of a node and wires them: the metrics registry, peer id, library, hashing
 * pool, node-wide rate limits, the connection manager and dialer, what every torrent shares,
 * the inbound protocols (BitTorrent, MSE/PE, shoal's secure channel, the port probe) and secure
 * peers. Kept apart from `Node` so that the facade holds the public API and the lifecycle.
 */
export function assembleNode(
  runtime: Runtime,
  config: NodeConfig,
  options: NodeStartOptions,
  identity: Identity,
  node: PartsNode,
  state: PartsState,
): NodeParts {
  const hasher = options.hasher;
  const metrics = options.metrics ?? createMetricsRegistry();
  const peerId = Buffer.concat([Buffer.from(CLIENT_PREFIX, 'latin1'), runtime.random.bytes(12)]);
  const library = new Library(runtime.fs, config.dataDir);
  const ownPool = hasher
    ? undefined
    : new HashPool(config.hashWorkers > 0 ? config.hashWorkers : undefined);
  const globalUpload = new TokenBucket(runtime.clock, config.uploadLimit);
  const globalDownload = new TokenBucket(runtime.clock, config.downloadLimit);
  const connections = new ConnectionManager(runtime.clock, runtime.timers, {
    maxConnections: config.maxConnections,
    maxPerIp: config.maxConnectionsPerIp,
  });
  const peerWatch = new PeerWatch(connections, runtime.clock, config.encryption, (s) =>
    node.emit('status', s),
  );
  const dialer = createNodeDialer(
    runtime,
    config,
    connections,
    peerWatch,
    () => state.services.utp,
  );
  const torrentParts: SharedTorrentParts = {
    runtime,
    pool: hasher ?? ownPool!,
    peerId,
    listenPort: () => node.announcedPort,
    dialer,
    connections,
    globalUpload,
    globalDownload,
    wireMetrics: new PeerWireMetrics(metrics),
    seedLimits: () => node.seedLimits,
    ticker: new SharedTicker(runtime.timers, TORRENT_TICK_MS),
    progressWanted: () => node.listenerCount('progress') > 0,
  };
  declareNodeMetrics(metrics, {
    connections,
    dialer,
    inbound: node.inbound,
    datagrams: () => state.services.datagrams,
    torrents: () => state.torrents.size,
    blocklistRanges: () => node.blocklist?.list.size ?? 0,
  });
  const torrentFor = (hash: string) => state.byHandshakeHash.get(hash);
  if (config.encryption !== 'require')
    node.inbound.register(new BitTorrentInbound(torrentFor, connections));
  let mse: MseInbound | undefined;
  if (config.encryption !== 'disable') {
    mse = new MseInbound(torrentFor, connections, {
      requireEncryption: config.encryption === 'require',
      random: runtime.random,
      timers: runtime.timers,
      roomFor: (host) => {
        for (const t of state.torrents.values()) if (t.hasRoomFor(host)) return true;
        return false;
      },
    });
    node.inbound.register(mse, { fallback: true });
  }
  const peerParts: SecurePeerParts = {
    runtime,
    config,
    identity,
    connections,
    dialer,
    listenPort: () => node.port,
  };
  const peers = createSecurePeers(peerParts);
  peers.on('peer', (peer) => node.emit('securePeer', peer));
  declarePeerMetrics(metrics, peers);
  node.inbound.register(peers.inbound);
  node.inbound.register(peers.portProbe);
  return {
    metrics,
    peerId,
    library,
    ownPool,
    globalUpload,
    globalDownload,
    connections,
    peerWatch,
    dialer,
    torrentParts,
    mse,
    peerParts,
    peers,
  };
}
