import { formatMagnet, magnetFromMetainfo, parseMagnet } from '../metainfo/magnet.js';
import { parseTorrent } from '../metainfo/parse.js';
import type { MetricsRegistry } from '../metrics/registry.js';
import type { Node } from '../node/node.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Torrent, TorrentStats } from '../swarm/torrent.js';
import type {
  AddOptions,
  AddSource,
  FileInfo,
  LibraryItem,
  MutableSettings,
  NodeControl,
  NodeSettings,
  SessionStats,
  TorrentDetail,
  TorrentSeedLimits,
  TorrentSummary,
} from './control.js';
import { ApiError, badRequest, notFound } from './errors.js';

/** The version the daemon reports (Transmission's `version`, the UI's footer). */
export const SHOAL_VERSION = '0.1.0';

/** A magnet whose metadata is still being fetched: listed, not yet a `Torrent`. */
interface PendingMagnet {
  readonly id: string;
  readonly name: string;
  readonly addedAt: number;
  readonly downloadDir: string;
  paused: boolean;
  cancelled: boolean;
  /** Stops the metadata fetch when the magnet is removed. */
  readonly fetch: AbortController;
  error?: string;
}

/** What the adapter remembers of a torrent that `Node` does not keep. */
interface Extra {
  readonly addedAt: number;
  /** Priorities of the torrent's real (non-padding) files, as last set. */
  priorities?: number[];
  error?: string;
  /** The last full stats, so idle torrents keep their totals without a full stats call. */
  last?: TorrentStats;
}

/** Peers and trackers every torrent of `shoal start` gets besides its own. */
export interface ResumeExtras {
  readonly peers?: readonly { readonly host: string; readonly port: number }[];
  readonly trackers?: readonly string[];
}

/**
 * {@link NodeControl} over today's `Node` public API. What `Node` lacks is done here for now:
 * listing magnets still fetching metadata, remembering file priorities and add times, removing
 * data, persisting pause in the library entry, live rate limits. Each such piece is a method
 * `Node` should grow (see the daemon report) so this adapter shrinks to forwarding calls.
 */
export class NodeAdapter implements NodeControl {
  private readonly extras = new Map<string, Extra>();
  private readonly pending = new Map<string, PendingMagnet>();
  private readonly startedAt: number;
  private downloadDir: string;
  readonly metrics: MetricsRegistry;

  constructor(
    private readonly node: Node,
    private readonly runtime: Runtime = node.runtime,
  ) {
    this.startedAt = runtime.clock.wallTime();
    this.metrics = node.metrics;
    this.downloadDir = node.config.downloadDir;
    node.on('error', (error, torrent) => {
      if (torrent) this.extra(torrent.infoHashHex).error = error.message;
    });
  }

  /**
   * Resumes every torrent of the library, with `extras` added to each (`shoal start --peer
   * --tracker`); returns how many run.
   */
  async resumeLibrary(extras: ResumeExtras = {}): Promise<number> {
    const torrents = await this.node.resumeLibrary(extras);
    for (const t of torrents) this.extra(t.infoHashHex);
    return torrents.length;
  }

  summaries(): TorrentSummary[] {
    const out: TorrentSummary[] = [];
    for (const p of this.pending.values()) out.push(pendingSummary(p));
    for (const t of this.node.list()) out.push(this.summarize(t));
    return out;
  }

  summary(id: string): TorrentSummary | undefined {
    const p = this.pending.get(id);
    if (p) return pendingSummary(p);
    const t = this.node.get(id);
    return t && this.summarize(t);
  }

  detail(id: string): TorrentDetail | undefined {
    const p = this.pending.get(id);
    if (p) {
      return {
        ...pendingSummary(p),
        magnet: '',
        pieceLength: 0,
        pieceCount: 0,
        piecesHave: 0,
        pieces: '',
        private: false,
        files: [],
        peerList: [],
        trackers: [],
        seedLimits: { ratio: null, seedTimeMinutes: null, idleMinutes: null },
      };
    }
    const t = this.node.get(id);
    if (!t) return undefined;
    const summary = this.summarize(t, true);
    const meta = t.meta;
    const own = t.seedLimits.overrides;
    return {
      ...summary,
      ...(meta.infoHashV1 && { infoHashV1: meta.infoHashV1.toString('hex') }),
      ...(meta.infoHashV2 && { infoHashV2: meta.infoHashV2.toString('hex') }),
      magnet: formatMagnet(magnetFromMetainfo(meta)),
      pieceLength: meta.pieceLength,
      pieceCount: meta.pieceCount,
      piecesHave: t.have.cardinality,
      pieces: Buffer.from(t.have.bytes).toString('base64'),
      private: meta.private,
      ...(meta.comment !== undefined && { comment: meta.comment }),
      files: this.files(t),
      peerList: t.peerAddresses().map((address) => ({ address })),
      trackers: this.node.trackerStatus(id),
      seedLimits: {
        ratio: own.ratio ?? null,
        seedTimeMinutes: own.seedTimeMinutes ?? null,
        idleMinutes: own.idleMinutes ?? null,
      },
    };
  }

  async add(source: AddSource, options: AddOptions): Promise<TorrentSummary> {
    const downloadDir = options.downloadDir ?? this.downloadDir;
    const common = {
      downloadDir,
      ...(options.peers && { peers: options.peers }),
      ...(options.trackers && { trackers: options.trackers }),
      ...(options.seedLimits && { seedLimits: options.seedLimits }),
    };
    if (source.kind === 'torrent') {
      const meta = parseTorrent(source.bytes);
      const id = (meta.infoHashV1 ?? meta.infoHashV2)!.toString('hex');
      this.refuseDuplicate(id);
      const t = await this.node.add(source.bytes, common);
      this.extras.set(id, { addedAt: this.runtime.clock.wallTime() });
      if (options.paused) await this.pause(id);
      return this.summarize(t);
    }
    const link = parseMagnet(source.link);
    const id = (link.infoHashV1 ?? link.infoHashV2)!.toString('hex');
    this.refuseDuplicate(id);
    const pending: PendingMagnet = {
      id,
      name: link.name ?? id,
      addedAt: this.runtime.clock.wallTime(),
      downloadDir,
      paused: options.paused === true,
      cancelled: false,
      fetch: new AbortController(),
    };
    this.pending.set(id, pending);
    this.node.addMagnet(link, { ...common, signal: pending.fetch.signal }).then(
      async (t) => {
        if (pending.cancelled) {
          await this.node.remove(t.infoHashHex);
          return;
        }
        this.pending.delete(id);
        this.extras.set(t.infoHashHex, { addedAt: pending.addedAt });
        if (pending.paused) await this.pause(t.infoHashHex);
      },
      (error: Error) => {
        pending.error = error.message;
      },
    );
    return pendingSummary(pending);
  }

  async pause(id: string): Promise<void> {
    const p = this.pending.get(id);
    if (p) {
      p.paused = true;
      return;
    }
    this.torrent(id);
    await this.node.pause(id);
  }

  async resume(id: string): Promise<void> {
    const p = this.pending.get(id);
    if (p) {
      p.paused = false;
      return;
    }
    this.torrent(id);
    await this.node.resume(id);
  }

  async remove(id: string, deleteData: boolean): Promise<void> {
    const p = this.pending.get(id);
    if (p) {
      p.cancelled = true;
      p.fetch.abort();
      this.pending.delete(id);
      return;
    }
    this.torrent(id);
    await this.node.remove(id, { deleteData });
    this.extras.delete(id);
  }

  async setFilePriorities(id: string, priorities: readonly number[]): Promise<void> {
    const t = this.torrent(id);
    const real = t.layout.files.filter((f) => !f.padding).length;
    if (priorities.length !== real) {
      throw badRequest(
        `this torrent has ${real} files; give one priority for each, not ${priorities.length}`,
      );
    }
    for (const p of priorities) {
      if (!Number.isInteger(p) || p < 0 || p > 7)
        throw badRequest(`a priority is an integer 0..7 (0 skips the file), not ${p}`);
    }
    let next = 0;
    t.setFilePriorities(t.layout.files.map((f) => (f.padding ? 0 : priorities[next++]!)));
    this.extra(id).priorities = [...priorities];
  }

  async setSeedLimits(id: string, limits: TorrentSeedLimits): Promise<void> {
    this.torrent(id);
    await this.node.setTorrentSeedLimits(id, {
      ...(limits.ratio !== null && { ratio: limits.ratio }),
      ...(limits.seedTimeMinutes !== null && { seedTimeMinutes: limits.seedTimeMinutes }),
      ...(limits.idleMinutes !== null && { idleMinutes: limits.idleMinutes }),
    });
  }

  settings(): NodeSettings {
    const c = this.node.config;
    const limits = this.node.rateLimits;
    const seed = this.node.seedLimits;
    return {
      uploadLimit: limits.upload,
      downloadLimit: limits.download,
      downloadDir: this.downloadDir,
      seedRatioLimit: seed.ratio,
      seedTimeLimitMinutes: seed.seedTimeMinutes,
      seedIdleLimitMinutes: seed.idleMinutes,
      blocklist: this.node.blocklist?.source ?? '',
      blocklistRanges: this.node.blocklist?.list.size ?? 0,
      port: this.node.port,
      dataDir: c.dataDir,
      dht: c.dht,
      pex: c.pex,
      lsd: c.lsd,
      version: SHOAL_VERSION,
    };
  }

  async updateSettings(changes: Partial<MutableSettings>): Promise<NodeSettings> {
    this.node.setRateLimits({
      ...(changes.uploadLimit !== undefined && { upload: changes.uploadLimit }),
      ...(changes.downloadLimit !== undefined && { download: changes.downloadLimit }),
    });
    if (changes.downloadDir !== undefined) this.downloadDir = changes.downloadDir;
    this.node.setSeedLimits({
      ...(changes.seedRatioLimit !== undefined && { ratio: changes.seedRatioLimit }),
      ...(changes.seedTimeLimitMinutes !== undefined && {
        seedTimeMinutes: changes.seedTimeLimitMinutes,
      }),
      ...(changes.seedIdleLimitMinutes !== undefined && {
        idleMinutes: changes.seedIdleLimitMinutes,
      }),
    });
    return this.settings();
  }

  async library(): Promise<LibraryItem[]> {
    const out: LibraryItem[] = [];
    for (const { entry, torrent } of await this.node.library.list()) {
      let name = entry.infoHash;
      let size = 0;
      try {
        const meta = parseTorrent(torrent);
        name = meta.name;
        size = meta.totalLength;
      } catch {
        // listed by its hash: the file no longer parses
      }
      out.push({
        id: entry.infoHash,
        name,
        size,
        downloadDir: entry.downloadDir,
        paused: entry.paused,
        running: this.node.get(entry.infoHash) !== undefined,
      });
    }
    return out;
  }

  session(): SessionStats {
    let downloadRate = 0;
    let uploadRate = 0;
    let downloaded = 0;
    let uploaded = 0;
    let peers = 0;
    let active = 0;
    let paused = 0;
    const all = this.summaries();
    for (const s of all) {
      downloadRate += s.downloadRate;
      uploadRate += s.uploadRate;
      downloaded += s.downloaded;
      uploaded += s.uploaded;
      peers += s.peers;
      if (s.state === 'paused') paused++;
      else if (s.downloadRate > 0 || s.uploadRate > 0) active++;
    }
    const dht = this.node.dhtNode;
    return {
      torrents: all.length,
      active,
      paused,
      downloadRate,
      uploadRate,
      downloaded,
      uploaded,
      peers,
      uptime: Math.floor((this.runtime.clock.wallTime() - this.startedAt) / 1000),
      ...(dht && { dhtNodes: dht.nodeCount }),
      identity: this.node.key.toString(),
      secureConnections: this.node.peers.table.countByKind(),
      reachability: this.node.peers.reachability.state,
      ...(this.node.portMapping && { portMapping: this.node.portMapping }),
    };
  }

  private summarize(t: Torrent, exact = false): TorrentSummary {
    const id = t.infoHashHex;
    const extra = this.extra(id);
    const meta = t.meta;
    const piecesHave = t.have.cardinality;
    const peerCount = t.state === 'paused' ? 0 : t.peerAddresses().length;
    const busy =
      t.state === 'downloading' ||
      peerCount > 0 ||
      extra.last === undefined ||
      extra.last.downloadRate >= 1 ||
      extra.last.uploadRate >= 1;
    if (exact || busy) extra.last = t.stats();
    const last = extra.last;
    const current = exact || busy ? last : undefined;
    const progress = meta.pieceCount === 0 ? 1 : piecesHave / meta.pieceCount;
    return {
      id,
      name: meta.name,
      state: t.state,
      size: meta.totalLength,
      have:
        current?.bytesHave ??
        (progress === 1
          ? meta.totalLength
          : Math.min(meta.totalLength, piecesHave * meta.pieceLength)),
      progress,
      downloadRate: current?.downloadRate ?? 0,
      uploadRate: current?.uploadRate ?? 0,
      downloaded: last?.downloaded ?? 0,
      uploaded: last?.uploaded ?? 0,
      peers: current?.peers ?? peerCount,
      addedAt: extra.addedAt,
      downloadDir: t.storage.root,
      ...(extra.error !== undefined && { error: extra.error }),
      ...(t.seedLimits.reached && { finished: t.seedLimits.reached.message }),
    };
  }

  private files(t: Torrent): FileInfo[] {
    const layout = t.layout;
    const priorities = this.extra(t.infoHashHex).priorities;
    const out: FileInfo[] = [];
    layout.files.forEach((f, i) => {
      if (f.padding) return;
      let have = 0;
      const range = layout.piecesOfFile(i);
      if (range) {
        for (let k = range[0]; k <= range[1]; k++) {
          if (!t.have.has(k)) continue;
          const start = k * layout.pieceLength;
          const end = start + layout.pieceSize(k);
          have += Math.max(0, Math.min(end, f.offset + f.length) - Math.max(start, f.offset));
        }
      }
      const index = out.length;
      out.push({
        index,
        path: t.meta.singleFile ? t.meta.name : f.path.join('/'),
        length: f.length,
        have,
        priority: priorities?.[index] ?? 1,
      });
    });
    return out;
  }

  private torrent(id: string): Torrent {
    const t = this.node.get(id);
    if (!t) throw notFound(`no torrent ${id} in this node`, 'TORRENT_NOT_FOUND');
    return t;
  }

  private extra(id: string): Extra {
    let e = this.extras.get(id);
    if (!e) {
      e = { addedAt: this.startedAt };
      this.extras.set(id, e);
    }
    return e;
  }

  private refuseDuplicate(id: string): void {
    if (this.node.get(id) || this.pending.has(id))
      throw new ApiError(409, 'TORRENT_EXISTS', `torrent ${id} is already added`);
  }
}

function pendingSummary(p: PendingMagnet): TorrentSummary {
  return {
    id: p.id,
    name: p.name,
    state: p.error !== undefined ? 'error' : p.paused ? 'paused' : 'metadata',
    size: 0,
    have: 0,
    progress: 0,
    downloadRate: 0,
    uploadRate: 0,
    downloaded: 0,
    uploaded: 0,
    peers: 0,
    addedAt: p.addedAt,
    downloadDir: p.downloadDir,
    ...(p.error !== undefined && { error: p.error }),
  };
}
