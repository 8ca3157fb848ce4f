import { EventEmitter } from 'node:events';
import type { StrategyName } from '../apps/search/search-engine.js';
import type { SearchSession } from '../apps/search/search-session.js';
import type { HashPool } from '../crypto/hash-pool.js';
import type { Identity, IdentityKey } from '../crypto/identity.js';
import type { Dht } from '../dht/dht.js';
import { ShoalError } from '../errors.js';
import { selectedPriorities } from '../metainfo/file-selection.js';
import type { MagnetLink } from '../metainfo/magnet.js';
import { parseTorrent } from '../metainfo/parse.js';
import type { Metainfo } from '../metainfo/types.js';
import { logger } from '../metrics/log.js';
import type { MetricsRegistry } from '../metrics/registry.js';
import type { ConnectionManager } from '../net/connection-manager.js';
import type { Dialer } from '../net/dialer.js';
import { InboundDemux } from '../net/inbound-demux.js';
import type { PortMappingStatus } from '../net/nat/port-mapper.js';
import { OverlayUnavailableError } from '../overlay/errors.js';
import type { PeerConnection } from '../peers/peer-connection.js';
import type { ConnectOptions, SecurePeers } from '../peers/secure-peers.js';
import type { Runtime } from '../runtime/runtime.js';
import { mapLimit } from '../shared/map-limit.js';
import type { TokenBucket } from '../shared/rate.js';
import { deleteTorrentFiles } from '../storage/delete-files.js';
import type { SeedLimitOverrides, SeedLimits } from '../swarm/seed-limits.js';
import { Torrent } from '../swarm/torrent.js';
import type { TrackerStatus } from '../tracker/announcer.js';
import type { MseInbound } from './bittorrent-inbound.js';
import { type LoadedBlocklist, loadBlocklist } from './blocklist-loader.js';
import { completionHook } from './completion-hook.js';
import type { NodeConfig } from './config.js';
import { loadOrCreateIdentity } from './identity-store.js';
import type { Library } from './library.js';
import { resumeLibrary } from './library-resume.js';
import { fetchMagnetTorrent } from './magnet-torrent.js';
import type { DhtJoinStatus } from './node-dht.js';
import { assembleNode } from './node-parts.js';
import type { OverlayService, OverlayViews } from './overlay-service.js';
import type { PeerWatch } from './peer-watch.js';
import type { SecurePeerParts } from './secure-peers.js';
import { type NodeServices, startServices } from './services.js';
import { StreamServer } from './stream-server.js';
import { type SharedTorrentParts, torrentDeps, torrentOptions } from './torrent-setup.js';
import {
  type AddTorrentOptions,
  DuplicateTorrentError,
  type NodeEvents,
  type NodeStartOptions,
} from './types.js';

const log = logger('node');

export {
  type AddTorrentOptions,
  DuplicateTorrentError,
  type NodeEvents,
  type NodeStartOptions,
} from './types.js';

/** Torrents stopped at once by `stop` (each saving its resume data). */
const STOP_PARALLEL = 64;

/**
 * A shoal node: one listening port (TCP) and one UDP socket on the same port number, one
 * connection manager, one hashing pool, node-wide rate limits, and the engines it composes —
 * torrents, the DHT, trackers, local discovery. Incoming connections go through the connection
 * manager to the inbound demultiplexer, which hands each to the protocol its first bytes
 * belong to (BitTorrent today). `assembleNode` (node-parts.ts) makes its parts and
 * `startServices` (services.ts) brings up its sockets and the engines on them.
 */
export class Node extends EventEmitter<NodeEvents> {
  readonly peerId: Buffer;
  readonly library: Library;
  private readonly torrents = new Map<string, Torrent>();
  private readonly byHandshakeHash = new Map<string, Torrent>();
  /** Every connection of the node, whatever protocol: limits, bans, back-off. */
  readonly connections: ConnectionManager;
  /** Protocols spoken on the listening port, told apart by their first bytes. */
  readonly inbound = new InboundDemux();
  private readonly dialer: Dialer;
  /** Reports dials to the peers users named (`--peer`). */
  private readonly peerWatch: PeerWatch;
  /** Incoming encrypted BitTorrent (absent when encryption is disabled). */
  private readonly mse: MseInbound | undefined;
  /** What every torrent of the node shares. */
  private readonly torrentParts: SharedTorrentParts;
  /** The worker pool this node created (and so closes); none when a hasher was given. */
  private readonly ownPool: HashPool | undefined;
  private readonly globalUpload: TokenBucket;
  private readonly globalDownload: TokenBucket;
  /** Node-wide seeding limits; torrents without their own follow them. */
  private seedLimitsNow: SeedLimits;
  /** The node's sockets and the engines on them, filled in as `start` brings them up. */
  private readonly services: NodeServices = {};
  private overlayService: OverlayService | undefined;
  /** Settles when the DHT's first bootstrap is over (announces wait for it). */
  /** Metadata fetches under way, aborted when the node stops. */
  private readonly fetches = new Set<AbortController>();
  private stopped = false;
  /** shoal's connections by key: authenticated, encrypted, one per peer. */
  readonly peers: SecurePeers;
  private readonly peerParts: SecurePeerParts;
  /** The IP blocklist loaded at start (`config.blocklist`), if any. */
  blocklist: LoadedBlocklist | undefined;

  /** Everything the node counts: `/metrics`, `--json` lines and the simulator read it. */
  readonly metrics: MetricsRegistry;

  private constructor(
    readonly runtime: Runtime,
    readonly config: NodeConfig,
    options: NodeStartOptions,
    /** The node's key pair, from `<dataDir>/identity.key` (made on first start). */
    readonly identity: Identity,
  ) {
    super();
    this.seedLimitsNow = {
      ratio: config.seedRatioLimit,
      seedTimeMinutes: config.seedTimeLimitMinutes,
      idleMinutes: config.seedIdleLimitMinutes,
    };
    const parts = assembleNode(runtime, config, options, identity, this, {
      services: this.services,
      torrents: this.torrents,
      byHandshakeHash: this.byHandshakeHash,
    });
    this.metrics = parts.metrics;
    this.peerId = parts.peerId;
    this.library = parts.library;
    this.ownPool = parts.ownPool;
    this.globalUpload = parts.globalUpload;
    this.globalDownload = parts.globalDownload;
    this.connections = parts.connections;
    this.peerWatch = parts.peerWatch;
    this.dialer = parts.dialer;
    this.torrentParts = parts.torrentParts;
    this.mse = parts.mse;
    this.peerParts = parts.peerParts;
    this.peers = parts.peers;
  }

  /** Starts a node listening on `config.port`. */
  static async start(
    runtime: Runtime,
    config: NodeConfig,
    options: NodeStartOptions = {},
  ): Promise<Node> {
    await runtime.fs.mkdir(config.dataDir);
    const identity =
      options.identity ??
      (await loadOrCreateIdentity(runtime.fs, runtime.random, config.dataDir)).identity;
    const node = new Node(runtime, config, options, identity);
    if (config.onComplete !== '')
      node.on(
        'done',
        completionHook(runtime, config.onComplete, (t, run) => {
          if (run.error !== undefined || run.code !== 0)
            log.warn('completion hook failed', { infoHash: t.infoHashHex, ...run });
          node.emit('completionHook', t, run);
        }),
      );
    if (config.blocklist !== '') {
      node.blocklist = await loadBlocklist(runtime, config.blocklist, config.dataDir);
      node.connections.setBlocklist(node.blocklist.list);
      if (node.blocklist.staleBecause)
        log.warn('blocklist URL unreachable; using the copy from the last fetch', {
          source: config.blocklist,
          error: node.blocklist.staleBecause,
        });
    }
    try {
      await startServices(node.services, {
        runtime,
        config,
        metrics: node.metrics,
        peerId: node.peerId,
        dhtId: options.dhtId,
        connections: node.connections,
        inbound: node.inbound,
        peers: node.peers,
        peerParts: node.peerParts,
        node,
        torrentFor: (hash) => node.byHandshakeHash.get(hash),
      });
    } catch (error) {
      node.services.utp?.close();
      await node.services.datagrams?.close();
      await node.services.server?.close();
      await node.ownPool?.close();
      throw new ShoalError(
        'LISTEN_FAILED',
        `cannot listen on ${config.host}:${config.port}: ${(error as Error).message} (try --port 0 for any free port)`,
        { cause: error },
      );
    }
    return node;
  }

  /** What the router forwards for us, when port mapping is on. */
  get portMapping(): PortMappingStatus | undefined {
    return this.services.portMapper?.status;
  }

  /** Our public address as the router reports it, when a mapping stands and it is public. */
  get externalAddress(): string | undefined {
    return this.services.portMapper?.publicAddress;
  }

  /** The TCP port peers are told: the router's external port while mapped, else ours. */
  get announcedPort(): number {
    return this.services.portMapper?.externalPort('tcp') ?? this.port;
  }

  /** The DHT node, when enabled. */
  private get dht(): Dht | undefined {
    return this.services.nodeDht?.dht;
  }

  /** Settles when the DHT's first join is over (at once without a DHT). */
  private get dhtReady(): Promise<number> {
    return this.services.nodeDht?.ready ?? Promise.resolve(0);
  }

  /** How the DHT's last (re)join went, once one ended. */
  get dhtStatus(): DhtJoinStatus | undefined {
    return this.services.nodeDht?.status;
  }

  /** This node's public key: its name for shoal peers (`shoal_…`). */
  get key(): IdentityKey {
    return this.identity.publicKey;
  }

  /**
   * An authenticated, encrypted connection to the node whose key is `key` (or its `shoal_…`
   * text), found in the DHT and reached directly, through a hole punch or a relay; open
   * channels on its `mux`. See `SecurePeers.connect`.
   */
  async connect(key: IdentityKey | string, options: ConnectOptions = {}): Promise<PeerConnection> {
    // A lookup on a DHT still joining finds nothing: wait for its first bootstrap.
    if (options.record === undefined && options.lookup !== false) await this.dhtReady;
    return this.peers.connect(key, options);
  }

  /** Figures of the secure peer layer: connections by kind, reachability, relay, record. */
  peerStats() {
    return { ...this.peers.stats(), published: this.services.presence?.lastPublished ?? null };
  }

  /** The DHT node, when enabled. */
  get dhtNode(): Dht | undefined {
    return this.dht;
  }

  /**
   * Gives the node its overlay (`Node.start` makes one unless `overlay` is off; tests give
   * their own): complete torrents are shared from now on, `search` and `overlayViews` work, and
   * the overlay stops with the node.
   */
  useOverlay(service: OverlayService): void {
    if (this.overlayService !== undefined && this.overlayService !== service) {
      this.services.nodeOverlay?.stop();
      this.services.nodeOverlay = undefined;
      this.overlayService.stop();
    }
    this.overlayService = service;
    for (const t of this.torrents.values())
      if (t.stats().state === 'seeding') service.shareTorrent(t.meta);
  }

  /** The overlay, when the node has one. */
  get overlay(): OverlayService | undefined {
    return this.overlayService;
  }

  /**
   * Searches the shoal overlay for `text`: the session yields results as they arrive (`for
   * await`) until the timeout, and ranks them (`ranked()`). Throws `OVERLAY_UNAVAILABLE`
   * without an overlay.
   */
  search(
    text: string,
    options: { timeoutMs?: number; strategy?: StrategyName } = {},
  ): SearchSession {
    if (this.overlayService === undefined)
      throw new OverlayUnavailableError('this node runs without the overlay (--no-overlay)');
    return this.overlayService.find(text, options);
  }

  /** The overlay's views, for `shoal overlay`; throws `OVERLAY_UNAVAILABLE` without one. */
  overlayViews(): OverlayViews {
    if (this.overlayService === undefined)
      throw new OverlayUnavailableError('this node runs without the overlay (--no-overlay)');
    return this.overlayService.views();
  }

  /** The TCP port peers reach us on. */
  get port(): number {
    return this.services.server?.address().port ?? 0;
  }

  /**
   * Resumes every torrent in the library (what `shoal start` does), with `extras` (peers to
   * dial, trackers to announce to) added to each; see {@link resumeLibrary}.
   */
  resumeLibrary(extras: Pick<AddTorrentOptions, 'peers' | 'trackers'> = {}): Promise<Torrent[]> {
    return resumeLibrary(
      this.library,
      {
        register: (torrent, options, madeDirs) => this.register(torrent, options, madeDirs),
        launch: (torrent, options) => this.launch(torrent, options),
        failed: (error) => this.report(error, undefined),
      },
      extras,
    );
  }

  /** Adds a torrent (bytes of a `.torrent` file, or parsed) and starts it. */
  async add(source: Uint8Array | Metainfo, options: AddTorrentOptions = {}): Promise<Torrent> {
    const torrent = await this.register(source, options);
    await this.launch(torrent, options);
    return torrent;
  }

  /**
   * The first half of {@link add}: saves the torrent in the library (unless `persist` is
   * false) and makes it known to the node, not started. `madeDirs` are download folders
   * already made.
   */
  private async register(
    source: Uint8Array | Metainfo,
    options: AddTorrentOptions,
    madeDirs?: Set<string>,
  ): Promise<Torrent> {
    const bytes = source instanceof Uint8Array ? source : undefined;
    const meta = source instanceof Uint8Array ? parseTorrent(source) : source;
    const id = (meta.infoHashV1 ?? meta.infoHashV2)!.toString('hex');
    const downloadDir = options.downloadDir ?? this.config.downloadDir;
    if (!madeDirs?.has(downloadDir)) {
      await this.runtime.fs.mkdir(downloadDir);
      madeDirs?.add(downloadDir);
    }
    // Checked after the wait, so that two adds of one torrent at once cannot both pass.
    if (this.torrents.has(id)) throw new DuplicateTorrentError(id);
    const persist = options.persist !== false;
    const filePriorities =
      options.filePriorities ??
      (options.files && options.files.length > 0
        ? selectedPriorities(meta, options.files)
        : undefined);
    if (persist && bytes)
      await this.library.save(
        {
          infoHash: id,
          downloadDir,
          paused: false,
          ...(options.seedLimits && { seedLimits: options.seedLimits }),
        },
        bytes,
      );
    const torrent = new Torrent(
      meta,
      torrentDeps(this.torrentParts, this.config, this.dht, this.metrics.child({ torrent: id })),
      torrentOptions(this.config, options, {
        downloadDir,
        resumePath: this.library.resumePath(id),
        filePriorities,
      }),
    );
    this.torrents.set(id, torrent);
    for (const h of torrent.handshakeHashes) {
      this.byHandshakeHash.set(h.toString('hex'), torrent);
      this.mse?.skeys.add(h);
    }
    torrent.on('progress', (s) => this.emit('progress', torrent, s));
    torrent.on('peer', (p) => this.emit('peer', torrent, p));
    torrent.on('done', (s) => {
      this.overlayService?.shareTorrent(torrent.meta);
      this.emit('done', torrent, s);
    });
    torrent.on('error', (e) => this.report(e, torrent));
    torrent.on('warning', (w) => this.emit('warning', w, torrent));
    torrent.on('finished', (reached) => {
      log.info('seeding limit reached', { infoHash: id, limit: reached.limit });
      void this.library.update(id, { paused: true, finished: reached }).catch(() => undefined);
      this.emit('finished', torrent, reached);
    });
    torrent.on('peer', (p) => this.peerWatch.connected(id, p.address));
    torrent.on('closedBeforeHandshake', (host, port, encrypted) =>
      this.peerWatch.closedBeforeHandshake(id, host, port, encrypted),
    );
    return torrent;
  }

  /** The second half of {@link add}: starts a registered torrent and finds it peers. */
  private async launch(torrent: Torrent, options: AddTorrentOptions): Promise<void> {
    const id = torrent.infoHashHex;
    await torrent.start();
    if (torrent.stats().state === 'seeding') this.overlayService?.shareTorrent(torrent.meta);
    for (const p of options.peers ?? []) {
      this.peerWatch.watch(id, p.host, p.port);
      torrent.addPeer(p.host, p.port, true);
    }
    log.info('torrent added', { infoHash: id, name: torrent.meta.name, state: torrent.state });
    this.services.finding!.track(id, torrent, options.trackers ?? []);
    if (!torrent.meta.private) this.services.lsd?.add(torrent.handshakeHashes[0]!.toString('hex'));
  }

  /**
   * Adds a torrent from a magnet link: fetches its info dictionary (BEP 9) from the link's
   * peers, `options.peers` and peers found through the link's trackers and the DHT, several at
   * a time through the node's dialer, checks it against the info-hash, then downloads as usual.
   * Progress is told by `metadata` events; `options.signal` or {@link stop} cancels it.
   */
  async addMagnet(link: MagnetLink, options: AddTorrentOptions = {}): Promise<Torrent> {
    const { torrent, direct, known } = await fetchMagnetTorrent(
      {
        runtime: this.runtime,
        finding: this.services.finding!,
        dialer: this.dialer,
        connections: this.connections,
        peerId: this.peerId,
        fetches: this.fetches,
        onProgress: (hash, p) => this.emit('metadata', hash, p),
      },
      link,
      options,
    );
    const files = options.files ?? (options.filePriorities ? undefined : link.selectOnly);
    const added = await this.add(torrent, { ...options, peers: direct, ...(files && { files }) });
    for (const p of known) added.addPeer(p.host, p.port);
    return added;
  }

  /**
   * Tells the owner about a torrent's error if it listens for `error`; otherwise logs it. A
   * library must never crash its process because nobody listened.
   */
  private report(error: Error, torrent: Torrent | undefined): void {
    if (this.listenerCount('error') > 0) this.emit('error', error, torrent);
    else log.error(error.message, torrent && { infoHash: torrent.infoHashHex });
  }

  /** What each of a torrent's trackers last said. */
  trackerStatus(infoHash: string): TrackerStatus[] {
    return this.services.finding?.trackerStatus(infoHash) ?? [];
  }

  /** An HTTP handler streaming this node's torrents (`/stream/…`, `/watch/…`). */
  createStreamServer(): StreamServer {
    return new StreamServer({ torrent: (hash) => this.get(hash) });
  }

  /** The torrent with this info-hash (hex), if any. */
  get(infoHash: string): Torrent | undefined {
    return this.torrents.get(infoHash);
  }

  list(): Torrent[] {
    return [...this.torrents.values()];
  }

  /** Pauses a torrent and remembers it in the library, so `shoal start` keeps it paused. */
  async pause(infoHash: string): Promise<void> {
    this.torrents.get(infoHash)?.pause();
    await this.library.setPaused(infoHash, true);
  }

  /**
   * Resumes a paused (or failed) torrent, and remembers it. One a seeding limit stopped seeds
   * again with that limit lifted for it (as Transmission does).
   */
  async resume(infoHash: string): Promise<void> {
    const t = this.torrents.get(infoHash);
    t?.resume();
    await this.library.update(infoHash, {
      paused: false,
      finished: undefined,
      ...(t && { seedLimits: t.seedLimits.overrides }),
    });
  }

  /** The node-wide seeding limits (0 = none). */
  get seedLimits(): SeedLimits {
    return this.seedLimitsNow;
  }

  /** Changes the node-wide seeding limits at once, for every torrent without its own. */
  setSeedLimits(limits: Partial<SeedLimits>): void {
    this.seedLimitsNow = { ...this.seedLimitsNow, ...limits };
  }

  /** Sets a torrent's own seeding limits (absent ones follow the node's), and remembers them. */
  async setTorrentSeedLimits(infoHash: string, overrides: SeedLimitOverrides): Promise<void> {
    this.torrents.get(infoHash)?.setSeedLimits(overrides);
    await this.library.update(infoHash, { seedLimits: overrides });
  }

  /** The node-wide rate limits in bytes per second (0 = none). */
  get rateLimits(): { upload: number; download: number } {
    return {
      upload: this.globalUpload.bytesPerSecond,
      download: this.globalDownload.bytesPerSecond,
    };
  }

  /** Changes the node-wide rate limits at once (0 = none). */
  setRateLimits(limits: { upload?: number; download?: number }): void {
    if (limits.upload !== undefined) this.globalUpload.bytesPerSecond = Math.max(0, limits.upload);
    if (limits.download !== undefined)
      this.globalDownload.bytesPerSecond = Math.max(0, limits.download);
  }

  /** Stops a torrent and forgets it; its files stay on disk unless `deleteData`. */
  async remove(infoHash: string, options: { deleteData?: boolean } = {}): Promise<void> {
    const t = this.torrents.get(infoHash);
    if (!t) return;
    this.torrents.delete(infoHash);
    this.peerWatch.unwatch(infoHash);
    this.overlayService?.unshareTorrent(t.meta);
    for (const h of t.handshakeHashes) {
      this.byHandshakeHash.delete(h.toString('hex'));
      this.mse?.skeys.delete(h);
    }
    await this.services.finding?.untrack(infoHash);
    this.services.lsd?.remove(t.handshakeHashes[0]!.toString('hex'));
    await t.stop();
    await this.library.remove(infoHash);
    if (options.deleteData)
      await deleteTorrentFiles(
        this.runtime.fs,
        t.storage,
        t.layout,
        t.meta.name,
        t.meta.singleFile,
      );
  }

  /** Stops every torrent (saving resume data), the listener and the hashing workers. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.services.nodeOverlay?.stop();
    this.overlayService?.stop();
    for (const fetch of this.fetches) fetch.abort();
    await Promise.all([this.services.finding?.stop(), this.services.portMapper?.stop()]);
    // Each stop saves resume data (several files open at once): 10,000 at a time run out.
    await mapLimit([...this.torrents.values()], STOP_PARALLEL, (t) => t.stop());
    await this.dht?.stop();
    await this.services.lsd?.stop();
    await this.services.udpTrackers?.close();
    this.services.utp?.close();
    await this.services.datagrams?.close();
    this.services.presence?.stop();
    this.peers.stop();
    this.connections.stop();
    await this.services.server?.close();
    await this.ownPool?.close();
  }
}
