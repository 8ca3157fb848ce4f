import { createHash } from 'node:crypto';
import type {
  AddOptions,
  AddSource,
  LibraryItem,
  MutableSettings,
  NodeControl,
  NodeSettings,
  SessionStats,
  TorrentDetail,
  TorrentState,
  TorrentSummary,
} from '../../src/api/control.js';
import { ApiError, notFound } from '../../src/api/errors.js';
import { parseMagnet } from '../../src/metainfo/magnet.js';
import { parseTorrent } from '../../src/metainfo/parse.js';
import { createMetricsRegistry, type MetricsRegistry } from '../../src/metrics/registry.js';

interface FakeTorrent {
  id: string;
  name: string;
  state: TorrentState;
  size: number;
  have: number;
  downloadRate: number;
  uploadRate: number;
  downloaded: number;
  uploaded: number;
  peers: number;
  addedAt: number;
  downloadDir: string;
  priorities: number[];
  error?: string;
}

/**
 * A {@link NodeControl} with torrents in memory and no network: for API tests and the web UI
 * benchmark (10,000 torrents). `step()` moves the active ones along like a real node would.
 */
export class FakeControl implements NodeControl {
  readonly metrics: MetricsRegistry = createMetricsRegistry();
  readonly torrents = new Map<string, FakeTorrent>();
  readonly calls: string[] = [];
  private limits = { uploadLimit: 0, downloadLimit: 0, downloadDir: '/tmp/downloads' };

  /** `count` torrents; every `activeEvery`-th one is downloading with peers. */
  static withTorrents(count: number, activeEvery = 0): FakeControl {
    const c = new FakeControl();
    for (let i = 0; i < count; i++) {
      const id = createHash('sha1').update(`t${i}`).digest('hex');
      const active = activeEvery > 0 && i % activeEvery === 0;
      const size = 1_000_000 + ((i * 7919) % 5_000_000_000);
      c.torrents.set(id, {
        id,
        name: `Torrent ${String(i).padStart(5, '0')} ${['ubuntu', 'debian', 'album', 'photos'][i % 4]}.iso`,
        state: active ? 'downloading' : 'seeding',
        size,
        have: active ? Math.floor(size / 3) : size,
        downloadRate: active ? 500_000 : 0,
        uploadRate: active ? 20_000 : 0,
        downloaded: 0,
        uploaded: 0,
        peers: active ? 5 : 0,
        addedAt: 1_700_000_000_000 + i * 1000,
        downloadDir: '/tmp/downloads',
        priorities: [1, 1],
      });
    }
    return c;
  }

  /** One second of transfer for the active torrents, with rates that wander. */
  step(seconds = 1): void {
    let k = 0;
    for (const t of this.torrents.values()) {
      if (t.state !== 'downloading') continue;
      k++;
      t.downloadRate = 400_000 + ((k * 7919 + t.downloaded) % 200_000);
      const got = Math.min(t.size - t.have, t.downloadRate * seconds);
      t.have += got;
      t.downloaded += got;
      t.uploaded += t.uploadRate * seconds;
      if (t.have >= t.size) {
        t.state = 'seeding';
        t.downloadRate = 0;
      }
    }
  }

  summaries(): TorrentSummary[] {
    return [...this.torrents.values()].map((t) => this.summaryOf(t));
  }

  summary(id: string): TorrentSummary | undefined {
    const t = this.torrents.get(id);
    return t && this.summaryOf(t);
  }

  detail(id: string): TorrentDetail | undefined {
    const t = this.torrents.get(id);
    if (!t) return undefined;
    return {
      ...this.summaryOf(t),
      infoHashV1: t.id,
      magnet: `magnet:?xt=urn:btih:${t.id}`,
      pieceLength: 16384,
      pieceCount: 16,
      piecesHave: Math.round((16 * t.have) / Math.max(1, t.size)),
      pieces: Buffer.from([0xff, 0x00]).toString('base64'),
      private: false,
      files: t.priorities.map((priority, index) => ({
        index,
        path: `${t.name}/file${index}.bin`,
        length: Math.floor(t.size / t.priorities.length),
        have: Math.floor(t.have / t.priorities.length),
        priority,
      })),
      peerList: Array.from({ length: t.peers }, (_, i) => ({ address: `127.0.0.1:${7000 + i}` })),
      trackers: [
        { url: 'http://127.0.0.1:6969/announce', tier: 0, state: 'working', peersReceived: 3 },
      ],
    };
  }

  async add(source: AddSource, options: AddOptions): Promise<TorrentSummary> {
    this.calls.push(`add ${source.kind}`);
    let id: string;
    let name: string;
    let size = 0;
    if (source.kind === 'magnet') {
      const link = parseMagnet(source.link);
      id = (link.infoHashV1 ?? link.infoHashV2)!.toString('hex');
      name = link.name ?? id;
    } else {
      const meta = parseTorrent(source.bytes);
      id = (meta.infoHashV1 ?? meta.infoHashV2)!.toString('hex');
      name = meta.name;
      size = meta.totalLength;
    }
    if (this.torrents.has(id))
      throw new ApiError(409, 'TORRENT_EXISTS', `torrent ${id} is already added`);
    const t: FakeTorrent = {
      id,
      name,
      state: options.paused ? 'paused' : source.kind === 'magnet' ? 'metadata' : 'downloading',
      size,
      have: 0,
      downloadRate: 0,
      uploadRate: 0,
      downloaded: 0,
      uploaded: 0,
      peers: 0,
      addedAt: 1_800_000_000_000,
      downloadDir: options.downloadDir ?? this.limits.downloadDir,
      priorities: [1, 1],
    };
    this.torrents.set(id, t);
    return this.summaryOf(t);
  }

  async pause(id: string): Promise<void> {
    this.calls.push(`pause ${id}`);
    this.get(id).state = 'paused';
  }

  async resume(id: string): Promise<void> {
    this.calls.push(`resume ${id}`);
    const t = this.get(id);
    t.state = t.have >= t.size ? 'seeding' : 'downloading';
  }

  async remove(id: string, deleteData: boolean): Promise<void> {
    this.calls.push(`remove ${id} ${deleteData}`);
    this.get(id);
    this.torrents.delete(id);
  }

  async setFilePriorities(id: string, priorities: readonly number[]): Promise<void> {
    const t = this.get(id);
    if (priorities.length !== t.priorities.length || priorities.some((p) => p < 0 || p > 7))
      throw new ApiError(400, 'BAD_REQUEST', 'bad priorities');
    t.priorities = [...priorities];
  }

  settings(): NodeSettings {
    return {
      ...this.limits,
      port: 6881,
      dataDir: '/tmp/data',
      dht: false,
      pex: true,
      lsd: false,
      version: '0.1.0',
    };
  }

  async updateSettings(changes: Partial<MutableSettings>): Promise<NodeSettings> {
    this.limits = { ...this.limits, ...changes };
    return this.settings();
  }

  async library(): Promise<LibraryItem[]> {
    return [...this.torrents.values()].map((t) => ({
      id: t.id,
      name: t.name,
      size: t.size,
      downloadDir: t.downloadDir,
      paused: t.state === 'paused',
      running: true,
    }));
  }

  session(): SessionStats {
    const all = [...this.torrents.values()];
    return {
      torrents: all.length,
      active: all.filter((t) => t.downloadRate > 0 || t.uploadRate > 0).length,
      paused: all.filter((t) => t.state === 'paused').length,
      downloadRate: all.reduce((a, t) => a + t.downloadRate, 0),
      uploadRate: all.reduce((a, t) => a + t.uploadRate, 0),
      downloaded: all.reduce((a, t) => a + t.downloaded, 0),
      uploaded: all.reduce((a, t) => a + t.uploaded, 0),
      peers: all.reduce((a, t) => a + t.peers, 0),
      uptime: 42,
    };
  }

  private get(id: string): FakeTorrent {
    const t = this.torrents.get(id);
    if (!t) throw notFound(`no torrent ${id}`, 'TORRENT_NOT_FOUND');
    return t;
  }

  private summaryOf(t: FakeTorrent): TorrentSummary {
    return {
      id: t.id,
      name: t.name,
      state: t.state,
      size: t.size,
      have: t.have,
      progress: t.size === 0 ? 0 : t.have / t.size,
      downloadRate: t.downloadRate,
      uploadRate: t.uploadRate,
      downloaded: t.downloaded,
      uploaded: t.uploaded,
      peers: t.peers,
      addedAt: t.addedAt,
      downloadDir: t.downloadDir,
      ...(t.error !== undefined && { error: t.error }),
    };
  }
}
