import type { MetricsRegistry } from '../metrics/registry.js';
import type { PortMappingStatus } from '../net/nat/port-mapper.js';
import type { TrackerStatus } from '../tracker/announcer.js';

/**
 * What the daemon's interfaces (HTTP API, Transmission RPC, web UI, /metrics) need from a
 * node, in one narrow interface. Today it is implemented by an adapter over `Node`'s public API
 * (`node-control.ts`); methods that `Node` itself should grow are listed in the report of the
 * daemon work, and a fake with 10,000 torrents drives the web UI benchmark.
 */
export interface NodeControl {
  /** Every torrent, cheap to call often: no per-piece work for idle torrents. */
  summaries(): TorrentSummary[];
  /** One torrent's summary, or undefined. */
  summary(id: string): TorrentSummary | undefined;
  /** Everything about one torrent (files, peers, trackers, pieces); undefined when unknown. */
  detail(id: string): TorrentDetail | undefined;
  /** Adds a torrent; resolves once it runs (magnets: once it is listed, fetching metadata). */
  add(source: AddSource, options: AddOptions): Promise<TorrentSummary>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  /** Stops and forgets a torrent; with `deleteData` its files are removed from disk too. */
  remove(id: string, deleteData: boolean): Promise<void>;
  /** Sets per-file priorities (0 = skip, 1 = normal, up to 7). */
  setFilePriorities(id: string, priorities: readonly number[]): Promise<void>;
  settings(): NodeSettings;
  updateSettings(changes: Partial<MutableSettings>): Promise<NodeSettings>;
  /** The torrents kept on disk (what `shoal start` resumes), running or not. */
  library(): Promise<LibraryItem[]>;
  /** Node-wide counters. */
  session(): SessionStats;
  /** The node's metrics registry: `/metrics` serves it. */
  readonly metrics: MetricsRegistry;
}

/** Where a torrent to add comes from. */
export type AddSource =
  | { readonly kind: 'magnet'; readonly link: string }
  | { readonly kind: 'torrent'; readonly bytes: Uint8Array };

/** How to add a torrent. */
export interface AddOptions {
  readonly downloadDir?: string;
  readonly paused?: boolean;
  readonly peers?: readonly { readonly host: string; readonly port: number }[];
  readonly trackers?: readonly string[];
}

/** A torrent's state as users see it. */
export type TorrentState =
  | 'metadata'
  | 'checking'
  | 'downloading'
  | 'seeding'
  | 'paused'
  | 'stopped'
  | 'error';

/** What the list shows of a torrent; every field is cheap to produce. */
export interface TorrentSummary {
  /** The info-hash in hex (v1 when there is one, else v2): the torrent's id in the API. */
  readonly id: string;
  readonly name: string;
  readonly state: TorrentState;
  /** Content bytes (0 while the metadata is being fetched). */
  readonly size: number;
  /** Verified content bytes. */
  readonly have: number;
  /** Fraction of pieces verified, 0..1. */
  readonly progress: number;
  /** Bytes per second. */
  readonly downloadRate: number;
  readonly uploadRate: number;
  /** Bytes transferred in this session. */
  readonly downloaded: number;
  readonly uploaded: number;
  /** Connected peers. */
  readonly peers: number;
  /** Milliseconds since the Unix epoch when the torrent was added to this daemon. */
  readonly addedAt: number;
  readonly downloadDir: string;
  /** Why the torrent stopped, when `state` is `error`. */
  readonly error?: string;
}

/** One file of a torrent. */
export interface FileInfo {
  readonly index: number;
  readonly path: string;
  readonly length: number;
  /** Verified bytes of this file. */
  readonly have: number;
  readonly priority: number;
}

/** One connected peer. */
export interface PeerInfo {
  /** `host:port` where the peer listens, when known. */
  readonly address: string;
}

/** Everything about one torrent. */
export interface TorrentDetail extends TorrentSummary {
  readonly infoHashV1?: string;
  readonly infoHashV2?: string;
  readonly magnet: string;
  readonly pieceLength: number;
  readonly pieceCount: number;
  readonly piecesHave: number;
  /** The pieces bitfield (BEP 3 order, high bit first), base64. */
  readonly pieces: string;
  readonly private: boolean;
  readonly comment?: string;
  readonly files: readonly FileInfo[];
  readonly peerList: readonly PeerInfo[];
  readonly trackers: readonly TrackerStatus[];
}

/** Settings that can change while the node runs. */
export interface MutableSettings {
  /** Node-wide bytes per second, 0 = unlimited. */
  readonly uploadLimit: number;
  readonly downloadLimit: number;
  /** Where new torrents are saved unless told otherwise. */
  readonly downloadDir: string;
}

/** The node's settings, the fixed ones included. */
export interface NodeSettings extends MutableSettings {
  readonly port: number;
  readonly dataDir: string;
  readonly dht: boolean;
  readonly pex: boolean;
  readonly lsd: boolean;
  readonly version: string;
}

/** A torrent kept in the node's library. */
export interface LibraryItem {
  readonly id: string;
  readonly name: string;
  readonly size: number;
  readonly downloadDir: string;
  readonly paused: boolean;
  /** True when it runs in this daemon now. */
  readonly running: boolean;
}

/** Node-wide figures. */
export interface SessionStats {
  readonly torrents: number;
  readonly active: number;
  readonly paused: number;
  readonly downloadRate: number;
  readonly uploadRate: number;
  /** Bytes since the daemon started. */
  readonly downloaded: number;
  readonly uploaded: number;
  readonly peers: number;
  /** Seconds since the daemon started. */
  readonly uptime: number;
  readonly dhtNodes?: number;
  /** The node's public key (`shoal_…`). */
  readonly identity?: string;
  /** Secure connections by key, by how they were made. */
  readonly secureConnections?: { direct: number; punched: number; relayed: number };
  /** What peers report of our reachability: unknown, public or nat. */
  readonly reachability?: string;
  /** What the router forwards for us (UPnP / NAT-PMP), when port mapping is on. */
  readonly portMapping?: PortMappingStatus;
}
