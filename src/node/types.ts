import type { PieceHasher } from '../crypto/hash-job.js';
import type { Identity } from '../crypto/identity.js';
import { ShoalError } from '../errors.js';
import type { FileSelector } from '../metainfo/file-selection.js';
import type { MetricsRegistry } from '../metrics/registry.js';
import type { PortMappingStatus } from '../net/nat/port-mapper.js';
import type { PeerConnection } from '../peers/peer-connection.js';
import type { Published } from '../peers/presence.js';
import type { MetadataProgress } from '../swarm/metadata-fetcher.js';
import type { SeedLimitOverrides, SeedLimitReached } from '../swarm/seed-limits.js';
import type { PeerInfo, PickMode, SwarmOptions, Torrent, TorrentStats } from '../swarm/torrent.js';
import type { CompletionHookRun } from './completion-hook.js';
import type { NodeStatus } from './peer-watch.js';

/** How to add a torrent to a node. */
export interface AddTorrentOptions {
  /** Folder to save into (or seed from); the node's download folder when absent. */
  readonly downloadDir?: string;
  /** Peers to connect to directly, retried until connected. */
  readonly peers?: readonly { host: string; port: number }[];
  /** Verify everything on disk instead of trusting resume data. */
  readonly recheck?: boolean;
  /** Keep it in the node's library so `shoal start` resumes it (default true). */
  readonly persist?: boolean;
  /** Per-file priorities, 0 to skip a file (one per entry of the torrent's file list). */
  readonly filePriorities?: readonly number[];
  /**
   * Fetch only these files (indices count real files; paths as in the torrent). A magnet's
   * BEP 53 `so=` is used when neither this nor `filePriorities` is given.
   */
  readonly files?: readonly FileSelector[];
  /** How new pieces are chosen: `rarest` first (default) or `sequential`. */
  readonly pickMode?: PickMode;
  /** Use the torrent's web seeds (BEP 19; default true). */
  readonly webSeeds?: boolean;
  /** Tracker URLs to use besides the torrent's own (each its own tier). */
  readonly trackers?: readonly string[];
  /** The torrent's own seeding limits: each given one replaces the node's (0 = none). */
  readonly seedLimits?: SeedLimitOverrides;
  readonly swarm?: Partial<SwarmOptions>;
  /** Aborting it stops a magnet link's metadata fetch (`addMagnet` rejects with `STOPPED`). */
  readonly signal?: AbortSignal;
}

/** What a node may be given instead of making its own. */
export interface NodeStartOptions {
  /** Replaces the node's own worker pool (the simulator passes an inline one); the caller owns it. */
  readonly hasher?: PieceHasher;
  /** The registry the node counts into (the simulator gives each host its own). */
  readonly metrics?: MetricsRegistry;
  /**
   * A fixed DHT node id instead of the saved or a random one (which the DHT replaces by a
   * BEP 42 id once responses agree on its address): the simulator gives its hosts BEP 42 ids
   * for their public addresses from the start, as nodes that know their address have.
   */
  readonly dhtId?: Buffer;
  /**
   * An identity for this run instead of the data folder's (a short-lived search node must not
   * pose as the daemon that owns the folder).
   */
  readonly identity?: Identity;
}

/** Events of a node; torrent events are re-emitted with the torrent. */
export interface NodeEvents {
  progress: [Torrent, TorrentStats];
  peer: [Torrent, PeerInfo];
  done: [Torrent, TorrentStats];
  error: [Error, Torrent | undefined];
  warning: [string, Torrent | undefined];
  /** A magnet link's metadata fetch: peers asked, failures, waits for peers (by info-hash). */
  metadata: [infoHash: string, progress: MetadataProgress];
  /** A secure connection by key was made (or replaced a worse one). */
  securePeer: [PeerConnection];
  /** Our address record went to the DHT. */
  published: [Published];
  /** The router mapping changed (UPnP / NAT-PMP): mapped, failed, renewed with a new address. */
  portMapping: [PortMappingStatus];
  /** A torrent reached a seeding limit and stopped seeding (it is paused, and stays so). */
  finished: [Torrent, SeedLimitReached];
  /**
   * What the node tries, for people watching: the DHT's (re)joins, and each attempt to reach a
   * peer the user named.
   */
  status: [NodeStatus];
  /** The `onComplete` command ran for a torrent that finished downloading, and ended so. */
  completionHook: [Torrent, CompletionHookRun];
}

/** The torrent is already in this node. */
export class DuplicateTorrentError extends ShoalError {
  constructor(infoHash: string) {
    super('TORRENT_EXISTS', `torrent ${infoHash} is already added`);
  }
}
