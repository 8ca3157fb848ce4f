import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { StrategyName } from '../apps/search/search-engine.js';
import type { SearchSession } from '../apps/search/search-session.js';
import { encode } from '../codec/bencode.js';
import type { PieceHasher } from '../crypto/hash-job.js';
import { HashPool } from '../crypto/hash-pool.js';
import { Dht } from '../dht/dht.js';
import { LocalDiscovery } from '../discovery/lsd.js';
import { ShoalError } from '../errors.js';
import { type MagnetLink, type PeerAddress, parsePeer } from '../metainfo/magnet.js';
import { parseInfoDictionary, parseTorrent } from '../metainfo/parse.js';
import type { Metainfo } from '../metainfo/types.js';
import { ConnectionManager } from '../net/connection-manager.js';
import {
  type DatagramChannel,
  DatagramMux,
  isKrpcDatagram,
  isUdpTrackerReply,
} from '../net/datagram-mux.js';
import { Dialer } from '../net/dialer.js';
import { InboundDemux } from '../net/inbound-demux.js';
import { TcpTransport } from '../net/transport.js';
import { OverlayUnavailableError } from '../overlay/errors.js';
import type { Runtime, TcpServer, TimerHandle } from '../runtime/runtime.js';
import { TokenBucket } from '../shared/rate.js';
import { fetchMetadata } from '../swarm/metadata-fetcher.js';
import { type SwarmOptions, Torrent, type TorrentStats } from '../swarm/torrent.js';
import { Announcer, type TrackerStatus } from '../tracker/announcer.js';
import { UdpTrackerClient } from '../tracker/udp-client.js';
import { BitTorrentInbound } from './bittorrent-inbound.js';
import type { NodeConfig } from './config.js';
import { Library } from './library.js';
import type { OverlayService, OverlayViews } from './overlay-service.js';

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
  /** Per-file priorities, 0 to skip a file. */
  readonly filePriorities?: readonly number[];
  /** Tracker URLs to use besides the torrent's own (each its own tier). */
  readonly trackers?: readonly string[];
  readonly swarm?: Partial<SwarmOptions>;
}

/** Events of a node; torrent events are re-emitted with the torrent. */
export interface NodeEvents {
  progress: [Torrent, TorrentStats];
  done: [Torrent, TorrentStats];
  error: [Error, Torrent | undefined];
  warning: [string, Torrent | undefined];
}

/** The torrent is already in this node. */
export class DuplicateTorrentError extends ShoalError {
  constructor(infoHash: string) {
    super('TORRENT_EXISTS', `torrent ${infoHash} is already added`);
  }
}

const CLIENT_PREFIX = '-SH0010-';

/**
 * A shoal node: one listening port (TCP) and one UDP socket on the same port number, one
 * connection manager, one hashing pool, node-wide rate limits, and the engines it composes —
 * torrents, the DHT, trackers, local discovery. Incoming connections go through the connection
 * manager to the inbound demultiplexer, which hands each to the protocol its first bytes
 * belong to (BitTorrent today).
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
  private readonly pool: PieceHasher;
  /** The worker pool this node created (and so closes); none when a hasher was given. */
  private readonly ownPool: HashPool | undefined;
  private readonly globalUpload: TokenBucket;
  private readonly globalDownload: TokenBucket;
  private readonly announcers = new Map<string, Announcer>();
  private udpTrackers: UdpTrackerClient | undefined;
  private server: TcpServer | undefined;
  private datagrams: DatagramMux | undefined;
  private dht: Dht | undefined;
  private lsd: LocalDiscovery | undefined;
  /** Settles when the DHT's first bootstrap is over (announces wait for it). */
  private dhtReady: Promise<number> = Promise.resolve(0);
  private readonly dhtTimers = new Map<string, TimerHandle>();
  private overlayService: OverlayService | undefined;
  private stopped = false;

  private constructor(
    readonly runtime: Runtime,
    readonly config: NodeConfig,
    hasher: PieceHasher | undefined,
  ) {
    super();
    this.peerId = Buffer.concat([Buffer.from(CLIENT_PREFIX, 'latin1'), runtime.random.bytes(12)]);
    this.library = new Library(runtime.fs, config.dataDir);
    this.ownPool = hasher
      ? undefined
      : new HashPool(config.hashWorkers > 0 ? config.hashWorkers : undefined);
    this.pool = hasher ?? this.ownPool!;
    this.globalUpload = new TokenBucket(runtime.clock, config.uploadLimit);
    this.globalDownload = new TokenBucket(runtime.clock, config.downloadLimit);
    this.connections = new ConnectionManager(runtime.clock, runtime.timers, {
      maxConnections: config.maxConnections,
      maxPerIp: config.maxConnectionsPerIp,
    });
    const anyHost = config.host === '0.0.0.0' || config.host === '::';
    this.dialer = new Dialer({
      connections: this.connections,
      transports: [new TcpTransport(runtime)],
      ...(!anyHost && { localAddress: config.host }),
    });
    this.inbound.register(
      new BitTorrentInbound((hash) => this.byHandshakeHash.get(hash), this.connections),
    );
  }

  /**
   * Starts a node listening on `config.port`. `hasher` replaces the node's own worker pool
   * (the simulator passes an inline one); the caller then owns it.
   */
  static async start(runtime: Runtime, config: NodeConfig, hasher?: PieceHasher): Promise<Node> {
    const node = new Node(runtime, config, hasher);
    await runtime.fs.mkdir(config.dataDir);
    try {
      node.server = await runtime.tcp.listen({ port: config.port, host: config.host }, (s) => {
        const stream = node.connections.accept(s, 'tcp');
        if (stream) node.inbound.handle(stream);
      });
      // One UDP socket on the same port number (any free port if that one is taken), shared by
      // the DHT and the UDP tracker client.
      const family = config.host.includes(':') ? 'IPv6' : 'IPv4';
      node.datagrams = await DatagramMux.bind(runtime.udp, {
        port: node.port,
        host: config.host,
        family,
      }).catch(() => DatagramMux.bind(runtime.udp, { port: 0, host: config.host, family }));
      const dhtChannel = node.datagrams.channel('dht', isKrpcDatagram);
      node.udpTrackers = UdpTrackerClient.over(
        runtime,
        node.datagrams.channel('udp-tracker', isUdpTrackerReply),
        { firstTimeoutMs: config.udpTrackerTimeoutMs },
      );
      if (config.dht) node.dht = await node.startDht(dhtChannel);
      if (config.lsd) {
        node.lsd = await LocalDiscovery.start(runtime, {
          listenPort: () => node.port,
          ...(config.host !== '0.0.0.0' &&
            config.host !== '::' && { interfaceAddress: config.host }),
          onPeer: (infoHash, host, port) => node.byHandshakeHash.get(infoHash)?.addPeer(host, port),
        });
      }
    } catch (error) {
      await node.datagrams?.close();
      await node.server?.close();
      await node.ownPool?.close();
      throw new ShoalError(
        'LISTEN_FAILED',
        `cannot listen on ${config.host}:${config.port}: ${(error as Error).message} (try --port 0 for any free port)`,
        { cause: error },
      );
    }
    return node;
  }

  /** Starts the DHT on the node's UDP socket and bootstraps it. */
  private async startDht(channel: DatagramChannel): Promise<Dht> {
    const bootstrap = this.config.dhtBootstrap.map((text) => {
      try {
        return parsePeer(text);
      } catch {
        throw new ShoalError('CONFIG_INVALID', `DHT bootstrap node "${text}" is not HOST:PORT`);
      }
    });
    const options = {
      host: this.config.host,
      bootstrap,
      statePath: join(this.config.dataDir, 'dht.state'),
    };
    const dht = await Dht.start(this.runtime, options, channel);
    dht.on('warning', (w) => this.emit('warning', `DHT: ${w}`, undefined));
    this.dhtReady = dht.bootstrap().catch(() => 0);
    return dht;
  }

  /** The DHT node, when enabled. */
  get dhtNode(): Dht | undefined {
    return this.dht;
  }

  /**
   * Gives the node its overlay (made where the node has an identity and secure connections):
   * complete torrents are shared from now on, `search` and `overlayViews` work, and the
   * overlay stops with the node.
   */
  useOverlay(service: OverlayService): void {
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
      throw new OverlayUnavailableError(
        'this node has no overlay (it needs an identity and secure connections)',
      );
    return this.overlayService.find(text, options);
  }

  /** The overlay's views, for `shoal overlay`; throws `OVERLAY_UNAVAILABLE` without one. */
  overlayViews(): OverlayViews {
    if (this.overlayService === undefined)
      throw new OverlayUnavailableError(
        'this node has no overlay (it needs an identity and secure connections)',
      );
    return this.overlayService.views();
  }

  /** The TCP port peers reach us on. */
  get port(): number {
    return this.server?.address().port ?? 0;
  }

  /** Resumes every torrent in the library (what `shoal start` does). */
  async resumeLibrary(): Promise<Torrent[]> {
    const out: Torrent[] = [];
    for (const { entry, torrent } of await this.library.list()) {
      try {
        const t = await this.add(torrent, { downloadDir: entry.downloadDir, persist: false });
        if (entry.paused) t.pause();
        out.push(t);
      } catch (error) {
        this.emit('error', error as Error, undefined);
      }
    }
    return out;
  }

  /** Adds a torrent (bytes of a `.torrent` file, or parsed) and starts it. */
  async add(source: Uint8Array | Metainfo, options: AddTorrentOptions = {}): Promise<Torrent> {
    const bytes = source instanceof Uint8Array ? source : undefined;
    const meta = source instanceof Uint8Array ? parseTorrent(source) : source;
    const id = (meta.infoHashV1 ?? meta.infoHashV2)!.toString('hex');
    if (this.torrents.has(id)) throw new DuplicateTorrentError(id);
    const downloadDir = options.downloadDir ?? this.config.downloadDir;
    await this.runtime.fs.mkdir(downloadDir);
    const persist = options.persist !== false;
    if (persist && bytes)
      await this.library.save({ infoHash: id, downloadDir, paused: false }, bytes);
    const torrent = new Torrent(
      meta,
      {
        runtime: this.runtime,
        pool: this.pool,
        peerId: this.peerId,
        listenPort: () => this.port,
        dialer: this.dialer,
        connections: this.connections,
        ...(this.dht && {
          dht: {
            port: () => this.dht?.port ?? 0,
            nodeSeen: (host: string, port: number) =>
              void this.dht?.query({ host, port }, 'ping', {}).catch(() => undefined),
          },
        }),
        globalUpload: this.globalUpload,
        globalDownload: this.globalDownload,
      },
      {
        downloadDir,
        resumePath: this.library.resumePath(id),
        ...(options.recheck !== undefined && { recheck: options.recheck }),
        ...(options.filePriorities && { filePriorities: options.filePriorities }),
        swarm: {
          pex: this.config.pex,
          maxPeers: this.config.maxPeersPerTorrent,
          uploadSlots: this.config.uploadSlots,
          ...options.swarm,
        },
      },
    );
    this.torrents.set(id, torrent);
    for (const h of torrent.handshakeHashes) this.byHandshakeHash.set(h.toString('hex'), torrent);
    torrent.on('progress', (s) => this.emit('progress', torrent, s));
    torrent.on('done', (s) => {
      this.overlayService?.shareTorrent(torrent.meta);
      this.emit('done', torrent, s);
    });
    torrent.on('error', (e) => this.emit('error', e, torrent));
    torrent.on('warning', (w) => this.emit('warning', w, torrent));
    await torrent.start();
    if (torrent.stats().state === 'seeding') this.overlayService?.shareTorrent(torrent.meta);
    for (const p of options.peers ?? []) torrent.addPeer(p.host, p.port, true);
    this.startAnnouncer(id, torrent, options.trackers ?? []);
    this.startDhtAnnounces(id, torrent);
    if (!torrent.meta.private) this.lsd?.add(torrent.handshakeHashes[0]!.toString('hex'));
    return torrent;
  }

  /**
   * Adds a torrent from a magnet link: fetches its info dictionary from the link's peers and
   * `options.peers` (BEP 9), checks it against the info-hash, then downloads as usual.
   */
  async addMagnet(link: MagnetLink, options: AddTorrentOptions = {}): Promise<Torrent> {
    const peers: PeerAddress[] = [...link.peers, ...(options.peers ?? [])];
    const hash = (link.infoHashV1 ?? link.infoHashV2!.subarray(0, 20)) as Buffer;
    // Peers to ask for the metadata also come from the link's trackers and the DHT.
    const finders: Announcer[] = [];
    const trackers = [...link.trackers, ...(options.trackers ?? [])];
    if (trackers.length > 0) {
      const a = new Announcer(
        trackers.map((t) => [t]),
        {
          runtime: this.runtime,
          udp: this.udpTrackers!,
          infoHash: hash,
          peerId: this.peerId,
          port: () => this.port,
          state: () => ({ uploaded: 0, downloaded: 0, left: 1 }),
          onPeers: (found) => peers.push(...found),
        },
      );
      a.start();
      finders.push(a);
    }
    const dht = this.dht;
    let searching = dht !== undefined;
    if (dht) {
      // Ask the DHT again every few seconds until the metadata arrives: a first lookup on a
      // young routing table may miss.
      void (async () => {
        await this.dhtReady;
        while (searching) {
          await this.rejoinIfAlone(dht);
          await dht.getPeers(hash, (found) => peers.push(...found)).catch(() => undefined);
          if (searching)
            await new Promise<void>((resolve) => this.runtime.timers.setTimeout(resolve, 3000));
        }
      })();
    }
    const dynamic = finders.length > 0 || this.dht !== undefined;
    let info: Buffer;
    try {
      info = await fetchMetadata(this.runtime, {
        ...(link.infoHashV1 && { infoHashV1: link.infoHashV1 }),
        ...(link.infoHashV2 && { infoHashV2: link.infoHashV2 }),
        peers: dynamic ? () => peers : peers,
        peerId: this.peerId,
      });
    } finally {
      searching = false;
      await Promise.all(finders.map((a) => a.stop()));
    }
    parseInfoDictionary(info); // refuse a hostile info dictionary before writing anything
    const torrent = Buffer.concat([
      encode({ announce: link.trackers[0] }).subarray(0, -1),
      Buffer.from('4:info'),
      info,
      link.webSeeds.length > 0
        ? encode({ 'url-list': [...link.webSeeds] }).subarray(1, -1)
        : Buffer.alloc(0),
      Buffer.from('e'),
    ]);
    return this.add(torrent, { ...options, peers });
  }

  /** Announces a public torrent to the DHT now and every 15 minutes; peers found join the swarm. */
  private startDhtAnnounces(id: string, torrent: Torrent): void {
    const dht = this.dht;
    if (!dht || torrent.meta.private) return;
    const hash = torrent.handshakeHashes[0]!;
    const announce = () =>
      void this.dhtReady
        .then(() => this.rejoinIfAlone(dht))
        .then(() =>
          dht.announce(hash, this.port, {
            seed: torrent.stats().state === 'seeding',
            onPeers: (peers) => {
              for (const p of peers) torrent.addPeer(p.host, p.port);
            },
          }),
        )
        .catch(() => undefined);
    announce();
    this.dhtTimers.set(id, this.runtime.timers.setInterval(announce, 15 * 60_000));
  }

  /**
   * Bootstraps again when the routing table is empty: the first bootstrap asks each router once,
   * and a lost reply would otherwise leave lookups and announces with nobody to ask until the
   * DHT's next maintenance a minute later.
   */
  private async rejoinIfAlone(dht: Dht): Promise<void> {
    if (dht.nodeCount === 0) await dht.bootstrap().catch(() => 0);
  }

  /** What each of a torrent's trackers last said. */
  trackerStatus(infoHash: string): TrackerStatus[] {
    return this.announcers.get(infoHash)?.status() ?? [];
  }

  private startAnnouncer(id: string, torrent: Torrent, extra: readonly string[]): void {
    const known = new Set(torrent.meta.announce.flat());
    const tiers = [...torrent.meta.announce, ...extra.filter((u) => !known.has(u)).map((u) => [u])];
    const announcer = new Announcer(tiers, {
      runtime: this.runtime,
      udp: this.udpTrackers!,
      ...(this.config.host !== '0.0.0.0' &&
        this.config.host !== '::' && { localAddress: this.config.host }),
      infoHash: torrent.handshakeHashes[0]!,
      peerId: this.peerId,
      port: () => this.port,
      state: () => {
        const s = torrent.stats();
        return {
          uploaded: s.uploaded,
          downloaded: s.downloaded,
          left: s.totalLength - s.bytesHave,
        };
      },
      onPeers: (peers) => {
        for (const p of peers) torrent.addPeer(p.host, p.port);
      },
    });
    if (!announcer.hasTrackers) return;
    this.announcers.set(id, announcer);
    const wasDownloading = torrent.stats().state === 'downloading';
    if (wasDownloading) torrent.once('done', () => announcer.completed());
    announcer.start();
  }

  /** The torrent with this info-hash (hex), if any. */
  get(infoHash: string): Torrent | undefined {
    return this.torrents.get(infoHash);
  }

  list(): Torrent[] {
    return [...this.torrents.values()];
  }

  /** Stops a torrent and forgets it (files stay on disk). */
  async remove(infoHash: string): Promise<void> {
    const t = this.torrents.get(infoHash);
    if (!t) return;
    this.torrents.delete(infoHash);
    this.overlayService?.unshareTorrent(t.meta);
    for (const h of t.handshakeHashes) this.byHandshakeHash.delete(h.toString('hex'));
    await this.announcers.get(infoHash)?.stop();
    this.announcers.delete(infoHash);
    this.dhtTimers.get(infoHash)?.cancel();
    this.lsd?.remove(t.handshakeHashes[0]!.toString('hex'));
    this.dhtTimers.delete(infoHash);
    await t.stop();
    await this.library.remove(infoHash);
  }

  /** Stops every torrent (saving resume data), the listener and the hashing workers. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.overlayService?.stop();
    await Promise.all([...this.announcers.values()].map((a) => a.stop()));
    await Promise.all([...this.torrents.values()].map((t) => t.stop()));
    for (const t of this.dhtTimers.values()) t.cancel();
    await this.dht?.stop();
    await this.lsd?.stop();
    await this.udpTrackers?.close();
    await this.datagrams?.close();
    this.connections.stop();
    await this.server?.close();
    await this.ownPool?.close();
  }
}
