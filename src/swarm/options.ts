import type { PieceHasher } from '../crypto/hash-job.js';
import { ShoalError } from '../errors.js';
import type { MetricsRegistry } from '../metrics/registry.js';
import type { Direction, TransportKind } from '../net/connection.js';
import type { ConnectionManager } from '../net/connection-manager.js';
import type { Dialer } from '../net/dialer.js';
import type { Runtime } from '../runtime/runtime.js';
import type { TokenBucket } from '../shared/rate.js';
import type { SharedTicker } from '../shared/ticker.js';
import type { HashExchangeStats } from './hash-exchange.js';
import type { PeerWireMetrics } from './metrics.js';
import type { PickMode } from './piece-picker.js';
import type { SeedLimitOverrides, SeedLimitReached, SeedLimits } from './seed-limits.js';
import type { WebSeedStatus } from './web-seed.js';

/** Tunables of one torrent's swarm, with defaults in {@link DEFAULT_SWARM_OPTIONS}. */
export interface SwarmOptions {
  readonly maxPeers: number;
  /** Connections with one IP address a torrent keeps (a few clients behind one NAT). */
  readonly maxPeersPerIp: number;
  /** A full torrent replaces a peer that traded no block for this long with a newcomer. */
  readonly turnoverIdleMs: number;
  readonly uploadSlots: number;
  readonly requestTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly keepAliveMs: number;
  readonly idleTimeoutMs: number;
  /** Requests a peer may queue with us before it is dropped for flooding. */
  readonly maxIncomingRequests: number;
  /** Hash failures a peer may be blamed for before it is banned. */
  readonly banAfterFailures: number;
  readonly resumeIntervalMs: number;
  /** Bytes per second, 0 = unlimited. */
  readonly uploadLimit: number;
  readonly downloadLimit: number;
  /**
   * Whole pieces the uploader keeps in memory (the newest verified, the last read). Small: the
   * OS caches the files anyway, and every buffer the cache holds is one the download side
   * cannot reuse (8 leechers swarming 256 MiB: 7-10% fewer page faults than with 32 MiB).
   */
  readonly pieceCacheBytes: number;
  readonly clientName: string;
  /** Exchange peers with peers (BEP 11); never for private torrents. */
  readonly pex: boolean;
  readonly pexIntervalMs: number;
  /** A torrent in the error state tries its files again this often. */
  readonly errorRetryMs: number;
}

/**
 * Defaults close to those of mainstream clients: qBittorrent's 100 connections per torrent,
 * libtorrent's 8 unchoke slots. In the simulator's 100-leecher flash crowd these beat 50 and
 * 4 by 6 % of the last completion time: more neighbours to trade with while pieces are few.
 */
export const DEFAULT_SWARM_OPTIONS: SwarmOptions = {
  maxPeers: 100,
  maxPeersPerIp: 16,
  turnoverIdleMs: 60_000,
  uploadSlots: 8,
  requestTimeoutMs: 30_000,
  handshakeTimeoutMs: 10_000,
  keepAliveMs: 60_000,
  idleTimeoutMs: 180_000,
  maxIncomingRequests: 500,
  banAfterFailures: 2,
  resumeIntervalMs: 30_000,
  uploadLimit: 0,
  downloadLimit: 0,
  pieceCacheBytes: 8 * 1024 * 1024,
  clientName: 'shoal 0.1.0',
  pex: true,
  pexIntervalMs: 60_000,
  errorRetryMs: 30_000,
};

/** Where a torrent stands. */
export type TorrentState =
  | 'checking'
  | 'downloading'
  | 'seeding'
  | 'paused'
  | 'stopped'
  /** Its files cannot be used (disk full, read-only, missing); retried every `errorRetryMs`. */
  | 'error';

/** A snapshot of a torrent's progress for UIs and `--json` output. */
export interface TorrentStats {
  readonly state: TorrentState;
  readonly infoHash: string;
  readonly name: string;
  readonly piecesHave: number;
  readonly pieceCount: number;
  readonly bytesHave: number;
  readonly totalLength: number;
  readonly progress: number;
  readonly downloaded: number;
  /** Of `downloaded`, the bytes that came from peers and from web seeds (BEP 19). */
  readonly downloadedFromPeers: number;
  readonly downloadedFromWebSeeds: number;
  readonly uploaded: number;
  /** Bytes received in pieces that failed their hash check. */
  readonly wasted: number;
  readonly downloadRate: number;
  readonly uploadRate: number;
  readonly peers: number;
  readonly banned: number;
  /** Why the torrent is in the error state (absent otherwise). */
  readonly error?: string;
  /** Why seeding stopped on its own: a seeding limit was reached (the torrent is paused). */
  readonly finished?: string;
  /** BEP 52 hash requests served and refused, piece layers fetched. */
  readonly hashExchange: HashExchangeStats;
  /** How new pieces are chosen. */
  readonly pickMode: PickMode;
  /** Streams reading the torrent now. */
  readonly streams: number;
  readonly webSeeds: readonly WebSeedStatus[];
}

/** One connected peer, for UIs, `--json` output and the daemon API. */
export interface PeerInfo {
  /** Where it listens when known (its dialled address or its `p`), else its remote address. */
  readonly address: string;
  /** Its client name from the extended handshake, when it said. */
  readonly client: string | undefined;
  readonly transport: TransportKind;
  readonly direction: Direction;
  /** True when the payload is encrypted (MSE/PE RC4). */
  readonly encrypted: boolean;
  /** Share of the torrent's pieces it has (0..1). */
  readonly progress: number;
  readonly downloadRate: number;
  readonly uploadRate: number;
  readonly amChoking: boolean;
  readonly amInterested: boolean;
  readonly peerChoking: boolean;
  readonly peerInterested: boolean;
}

/** Everything a torrent needs from the node that owns it. */
export interface TorrentDeps {
  readonly runtime: Runtime;
  /** Hashes pieces for verification (a worker pool, or inline in the simulator). */
  readonly pool: PieceHasher;
  readonly peerId: Buffer;
  /** Our TCP listen port, sent in the extended handshake. */
  readonly listenPort: () => number;
  /** Opens connections to peers (limits, bans and back-off apply). */
  readonly dialer: Dialer;
  /** The node's connection manager: bans, limits and dial back-off shared by every torrent. */
  readonly connections: ConnectionManager;
  /** Node-wide limits shared by every torrent. */
  readonly globalUpload: TokenBucket;
  readonly globalDownload: TokenBucket;
  /** Source address for HTTP requests (web seeds), when the node listens on one address. */
  readonly localAddress?: string;
  /** The node's DHT, when it runs one (BEP 5 port messages). */
  readonly dht?: { port(): number; nodeSeen(host: string, port: number): void };
  /** The torrent's own registry (a child `{torrent}` of the node's); disposed on stop. */
  readonly metrics: MetricsRegistry;
  /** Node-wide peer wire message counts. */
  readonly wireMetrics: PeerWireMetrics;
  /** The node's seeding limits, read each tick (none when absent). */
  readonly seedLimits?: () => SeedLimits;
  /** The node's one-second tick, shared by its torrents; a torrent ticks itself when absent. */
  readonly ticker?: SharedTicker;
  /**
   * Whether anyone reads `progress` events now (the node asks its own listeners); when false,
   * ticks skip making them. Always when absent.
   */
  readonly progressWanted?: () => boolean;
}

/** Options for one torrent. */
export interface TorrentOptions {
  /** Folder the content is saved in (or read from, when seeding). */
  readonly downloadDir: string;
  /** Where resume data is kept; none when absent. */
  readonly resumePath?: string;
  /** Verify every piece on start instead of trusting resume data. */
  readonly recheck?: boolean;
  /** Per-file priorities (0 = skip); all 1 when absent. */
  readonly filePriorities?: readonly number[];
  /** How new pieces are chosen (default `rarest`). */
  readonly pickMode?: PickMode;
  /** Use the torrent's web seeds (BEP 19; default true). */
  readonly webSeeds?: boolean;
  /** The torrent's own seeding limits (absent ones follow the node's). */
  readonly seedLimits?: SeedLimitOverrides;
  /**
   * Write verified pieces past the OS page cache (O_DIRECT) where the file system allows it
   * (default true); reads, short writes and unaligned edges stay buffered.
   */
  readonly directWrites?: boolean;
  readonly swarm?: Partial<SwarmOptions>;
}

/** Events a torrent emits. */
export interface TorrentEvents {
  /** A peer completed its handshake: how it is connected (transport, encryption). */
  peer: [PeerInfo];
  /**
   * A peer we dialled closed the connection before its BitTorrent handshake: it refuses us,
   * the torrent, or (when `encrypted` is false) perhaps plaintext.
   */
  closedBeforeHandshake: [host: string, port: number, encrypted: boolean];
  progress: [TorrentStats];
  done: [TorrentStats];
  error: [Error];
  warning: [string];
  banned: [string];
  /** A seeding limit was reached: the torrent stopped seeding (paused). */
  finished: [SeedLimitReached];
}

/** Raised when a torrent's files cannot be used (missing folder, disk errors). */
export class TorrentError extends ShoalError {
  constructor(message: string, cause?: unknown) {
    super('TORRENT', message, { cause });
  }
}
