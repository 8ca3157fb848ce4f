import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import type { Bitfield } from '../codec/bitfield.js';
import type { Metainfo } from '../metainfo/types.js';
import type { PeerConnection } from '../net/connection.js';
import type { TimerHandle } from '../runtime/runtime.js';
import type { RateMeter } from '../shared/rate.js';
import { SharedTicker } from '../shared/ticker.js';
import type { PieceLayout } from '../storage/layout.js';
import type { PieceState } from '../storage/piece-state.js';
import type { TorrentStorage } from '../storage/torrent-storage.js';
import type { ExtensionRegistry } from '../wire/extended.js';
import { encodeHandshake, type Handshake } from '../wire/handshake.js';
import { encodeMessage } from '../wire/messages.js';
import type { Blame } from './blame.js';
import { applyFilePriorities, wantFilePieces } from './file-priorities.js';
import type { HashExchange } from './hash-exchange.js';
import type { TorrentMetrics } from './metrics.js';
import {
  DEFAULT_SWARM_OPTIONS,
  type PeerInfo,
  type SwarmOptions,
  type TorrentDeps,
  TorrentError,
  type TorrentEvents,
  type TorrentOptions,
  type TorrentState,
  type TorrentStats,
} from './options.js';
import { peerInfo } from './peer-info.js';
import type { PeerProtocol } from './peer-protocol.js';
import type { PeerSession } from './peer-session.js';
import type { PeerSet } from './peer-set.js';
import type { PieceCompletion } from './piece-completion.js';
import type { BufferPool } from './piece-job.js';
import type { PickMode, PiecePicker } from './piece-picker.js';
import type { PieceReader } from './piece-reader.js';
import { toReadable } from './read-stream.js';
import type { RequestScheduler } from './request-scheduler.js';
import type { SeedLimiter, SeedLimitOverrides } from './seed-limits.js';
import { assembleSwarm } from './torrent-parts.js';
import type { ReadRange, TorrentStreams } from './torrent-streams.js';
import type { Uploader } from './uploader.js';
import type { WebSeed } from './web-seed.js';

export type { PickMode, PieceReader, ReadRange };
export {
  DEFAULT_SWARM_OPTIONS,
  type PeerInfo,
  type SwarmOptions,
  type TorrentDeps,
  TorrentError,
  type TorrentEvents,
  type TorrentOptions,
  type TorrentState,
  type TorrentStats,
};

const TICK_MS = 1000;
/** A quiet torrent (no peers, none to dial, no web seed, nobody reading progress) ticks this seldom. */
const QUIET_TICKS = 10;
const CHOKE_INTERVAL_MS = 10_000;

/** What became of an incoming connection offered to a torrent (see `attachIncoming`). */
export type IncomingVerdict = 'joined' | 'answered' | 'refused';

/**
 * One torrent's swarm, composed of parts of one concept each: the peer set (connections),
 * the peer protocol (handshakes and message dispatch), the request scheduler (what to ask
 * whom for), piece completion (verify, write, announce), blame (bans for bad data), the
 * uploader (serving and choking), the hash exchange (BEP 52) and BEP 10 extensions (ut_metadata,
 * ut_pex). `assembleSwarm` (torrent-parts.ts) builds and wires them; this class owns their
 * lifecycle, the housekeeping tick, resume data and stats.
 */
export class Torrent extends EventEmitter<TorrentEvents> {
  readonly meta: Metainfo;
  readonly layout: PieceLayout;
  readonly storage: TorrentStorage;
  readonly have: Bitfield;
  /** 20-byte hashes peers may use for this torrent in handshakes (v1, and truncated v2). */
  readonly handshakeHashes: Buffer[];
  state: TorrentState = 'checking';
  private readonly opts: SwarmOptions;
  private readonly picker: PiecePicker;
  private readonly pieceState: PieceState;
  private readonly peers: PeerSet;
  /** Peers with piece announcements held back until the next tick. */
  private readonly heldHaves = new Set<PeerSession>();
  private readonly protocol: PeerProtocol;
  private readonly scheduler: RequestScheduler;
  private readonly completion: PieceCompletion;
  private readonly blame: Blame;
  private readonly extensions: ExtensionRegistry<PeerSession>;
  private readonly downloadRate: RateMeter;
  private readonly uploadRate: RateMeter;
  private readonly uploader: Uploader;
  private readonly hashes: HashExchange;
  private readonly buffers: BufferPool;
  private readonly streams: TorrentStreams;
  private readonly webSeeds: WebSeed[];
  private readonly metrics: TorrentMetrics;
  /** Seeding limits (ratio, time, idle) and the one that stopped the torrent, if any. */
  readonly seedLimits: SeedLimiter;
  private timers: TimerHandle[] = [];
  private lastChokeAt = Number.NEGATIVE_INFINITY;
  private lastResumeSaveAt = 0;
  /** Ticks still to skip while quiet (see {@link QUIET_TICKS}); 0 when awake. */
  private sleepTicks = 0;
  /** The last tick put the torrent to sleep: the next one comes up to QUIET_TICKS later. */
  private slept = false;
  private doneEmitted = false;
  private resumeDirty = false;
  private bytesHave = 0;
  /** The piece count `bytesHave` was summed for. */
  private bytesHaveFor = -1;
  /** Why the torrent is in the error state. */
  private failure: TorrentError | undefined;
  private retryTimer: TimerHandle | undefined;

  constructor(
    meta: Metainfo,
    private readonly deps: TorrentDeps,
    private readonly options: TorrentOptions,
  ) {
    super();
    this.meta = meta;
    this.opts = { ...DEFAULT_SWARM_OPTIONS, ...options.swarm };
    const parts = assembleSwarm(meta, deps, options, this.opts, {
      state: () => this.state,
      haveBytes: () => this.stats().bytesHave,
      wantFile: (i) => this.wantFile(i),
      windowsChanged: () => this.windowsChanged(),
      peer: (info) => this.emit('peer', info),
      forgetPeer: (s) => this.forgetPeer(s),
      banned: (host) => this.emit('banned', host),
      warn: (w) => this.emit('warning', w),
      pieceAdded: (index) => this.markHave(index),
      dirty: () => {
        this.resumeDirty = true;
      },
      report: (e) => this.report(e),
      fail: (e) => this.fail(e),
      addPeer: (host, port) => this.addPeer(host, port),
    });
    this.layout = parts.layout;
    this.buffers = parts.buffers;
    this.storage = parts.storage;
    this.have = parts.have;
    this.picker = parts.picker;
    this.streams = parts.streams;
    this.pieceState = parts.pieceState;
    this.downloadRate = parts.downloadRate;
    this.uploadRate = parts.uploadRate;
    this.seedLimits = parts.seedLimits;
    this.metrics = parts.metrics;
    this.handshakeHashes = parts.handshakeHashes;
    this.peers = parts.peers;
    this.uploader = parts.uploader;
    this.hashes = parts.hashes;
    this.scheduler = parts.scheduler;
    this.blame = parts.blame;
    this.completion = parts.completion;
    this.protocol = parts.protocol;
    this.webSeeds = parts.webSeeds;
    this.extensions = parts.extensions;
  }

  /** The info-hash shown to users: v1 when there is one, else v2. */
  get infoHashHex(): string {
    return (this.meta.infoHashV1 ?? this.meta.infoHashV2)!.toString('hex');
  }

  /** Checks what is on disk (trusting resume data when files are unchanged), then joins the swarm. */
  async start(): Promise<void> {
    this.state = 'checking';
    const trusted = await this.pieceState.load(this.have, {
      recheck: this.options.recheck === true,
      parallel: Math.max(2, this.deps.pool.size * 2),
      stopped: () => this.state === 'stopped',
    });
    // Resume data that was trusted says what it would say again (10,000 seeding torrents
    // rewrite nothing), unless empty files are created now: their mtimes are in it.
    this.resumeDirty = !trusted || this.layout.files.some((f) => !f.padding && f.length === 0);
    await this.storage.createEmptyFiles();
    this.state = this.picker.wantsMore() ? 'downloading' : 'seeding';
    if (this.picker.wantsMore()) this.completion.prepare();
    else this.emitDone();
    const ticker = this.deps.ticker ?? new SharedTicker(this.deps.runtime.timers, TICK_MS);
    this.lastResumeSaveAt = this.deps.runtime.clock.now();
    this.timers.push(ticker.subscribe(() => this.everySecond()));
    this.tick();
  }

  /** Stops: closes peers, flushes files and saves resume data. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.streams.stop(new TorrentError(`torrent ${this.meta.name} stopped`));
    for (const t of this.timers) t.cancel();
    this.timers = [];
    this.retryTimer?.cancel();
    this.peers.dropAll();
    await this.completion.flushed();
    await this.saveResumeData();
    await this.storage.close();
    this.metrics.close();
  }

  /** The torrent's metrics, as a JSON-ready snapshot (for `--json` progress lines). */
  metricsSnapshot(): Record<string, unknown> {
    return { ...this.metrics.registry.snapshot() };
  }

  /**
   * The torrent's files cannot be used (a write failed: disk full, read-only; or they went
   * missing): it stops trading, reports why, and tries again every `errorRetryMs` — a piece
   * whose write failed is fetched again — so it carries on once the cause is fixed.
   */
  private fail(error: TorrentError): void {
    if (this.state === 'stopped' || this.state === 'error') return;
    this.failure = error;
    this.state = 'error';
    this.peers.dropAll();
    this.report(error);
    this.retryTimer = this.deps.runtime.timers.setTimeout(() => {
      this.retryTimer = undefined;
      if (this.state !== 'error') return;
      this.failure = undefined;
      this.state = this.picker.wantsMore() ? 'downloading' : 'seeding';
      this.tick();
    }, this.opts.errorRetryMs);
  }

  /** Tells the owner about an error, if it listens: a library never crashes its process. */
  private report(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /** Stops asking for and serving data, keeping files and state. */
  pause(): void {
    if (this.state === 'stopped') return;
    this.retryTimer?.cancel();
    this.failure = undefined;
    this.state = 'paused';
    this.peers.dropAll();
  }

  /**
   * Stops seeding because a seeding limit was reached (or was, before a restart): paused,
   * with the reason in `stats().finished`.
   */
  finishSeeding(reached: NonNullable<SeedLimiter['reached']>): void {
    this.pause();
    this.seedLimits.reached = reached;
  }

  /** Replaces the torrent's own seeding limits (absent ones follow the node's). */
  setSeedLimits(overrides: SeedLimitOverrides): void {
    this.seedLimits.overrides = { ...overrides };
  }

  /**
   * Undoes {@link pause}; also retries a torrent in the error state at once. A torrent a
   * seeding limit stopped seeds again, that limit lifted for it.
   */
  resume(): void {
    if (this.state !== 'paused' && this.state !== 'error') return;
    this.seedLimits.resumed();
    this.retryTimer?.cancel();
    this.failure = undefined;
    this.state = this.picker.wantsMore() ? 'downloading' : 'seeding';
    this.tick();
  }

  /** Adds a place to find a peer. `sticky` candidates are retried until connected. */
  addPeer(host: string, port: number, sticky = false): void {
    this.wake();
    // A peer we knew already (PEX repeats itself) waits for the tick's dialling round.
    const added = this.peers.addCandidate(host, port, sticky);
    if ((added || sticky) && (this.state === 'downloading' || this.state === 'seeding'))
      this.peers.connectSome();
  }

  /** Chooses how new pieces are picked: `rarest` first (default) or `sequential`. */
  setPickMode(mode: PickMode): void {
    this.picker.mode = mode;
  }

  /** The index of a file given by index or by path (`dir/file.mkv`). @throws {TorrentError} */
  fileIndex(file: number | string): number {
    return this.streams.fileIndex(file);
  }

  /**
   * Reads `range` of a file (byte offsets in the file, `end` inclusive) while the torrent
   * downloads: reads wait for pieces and return verified data only, and the pieces at the read
   * position are fetched first, with deadlines. `close()` the reader when done (its urgency
   * goes). The file's pieces become wanted if they were not. @throws {TorrentError}
   */
  createReader(file: number | string, range: ReadRange = {}): PieceReader {
    return this.streams.createReader(file, range);
  }

  /** {@link createReader} as a Node `Readable` (destroying it closes the reader). */
  createReadStream(file: number | string, range: ReadRange = {}): Readable {
    return toReadable(this.createReader(file, range));
  }

  /** Open readers, for status displays (read position, buffer ahead, stalls). */
  readers(): readonly PieceReader[] {
    return this.streams.openReaders();
  }

  /** Sets file priorities (0 skips a file) and re-derives piece priorities. */
  setFilePriorities(priorities: readonly number[]): void {
    applyFilePriorities(this.picker, this.layout, priorities);
    if (this.state === 'seeding' && this.picker.wantsMore()) this.state = 'downloading';
  }

  stats(): TorrentStats {
    // Summing piece sizes walks the bitfield: done again only when the piece count changed.
    if (this.bytesHaveFor !== this.have.cardinality) {
      this.bytesHaveFor = this.have.cardinality;
      this.bytesHave = 0;
      for (const i of this.have.indices()) this.bytesHave += this.layout.pieceSize(i);
    }
    const bytesHave = this.bytesHave;
    const padding = this.meta.streamLength - this.meta.totalLength;
    const total = this.meta.totalLength;
    const adjusted = Math.max(0, Math.min(total, bytesHave - (this.have.complete ? padding : 0)));
    let peers = 0;
    for (const s of this.peers.all()) if (s.bits !== undefined || s.wire.ready) peers++;
    return {
      state: this.state,
      infoHash: this.infoHashHex,
      name: this.meta.name,
      piecesHave: this.have.cardinality,
      pieceCount: this.meta.pieceCount,
      bytesHave: adjusted,
      totalLength: total,
      progress: this.meta.pieceCount === 0 ? 1 : this.have.cardinality / this.meta.pieceCount,
      downloaded: this.metrics.bytesIn.value,
      downloadedFromPeers: this.metrics.bytesIn.value - this.metrics.webSeedBytes.value,
      downloadedFromWebSeeds: this.metrics.webSeedBytes.value,
      uploaded: this.metrics.bytesOut.value,
      wasted: this.metrics.wasted.value,
      downloadRate: this.downloadRate.bytesPerSecond,
      uploadRate: this.uploadRate.bytesPerSecond,
      peers,
      banned: this.blame.bannedCount,
      ...(this.failure && { error: this.failure.message }),
      ...(this.seedLimits.reached && { finished: this.seedLimits.reached.message }),
      hashExchange: this.hashes.stats(),
      pickMode: this.picker.mode,
      streams: this.streams.deadlines.size,
      webSeeds: this.webSeeds.map((w) => w.status()),
    };
  }

  /** Addresses (where they listen, when known) of the peers connected now. */
  peerAddresses(): string[] {
    return this.peers.addresses();
  }

  /** The peers connected now (handshake done), with how they are connected and what they do. */
  peerList(): PeerInfo[] {
    const out: PeerInfo[] = [];
    for (const s of this.peers.all())
      if (s.handshake && !s.closed) out.push(peerInfo(s, this.meta.pieceCount));
    return out;
  }

  /**
   * Whether an incoming connection from `host` could join now (running, and room for it or an
   * idle peer to replace): the node asks before an encrypted handshake, which costs both sides
   * a Diffie-Hellman exchange, so a full node does not spend that on peers it would drop.
   */
  hasRoomFor(host: string): boolean {
    return this.takesPeers() && this.peers.hasRoomFor(host);
  }

  private takesPeers(): boolean {
    return this.state === 'downloading' || this.state === 'seeding';
  }

  /**
   * Takes over an incoming connection whose handshake the node already read (to find us):
   * answers with our handshake and continues on this torrent (`joined`). When full, it answers
   * with our handshake and ends the connection (`answered`): the dialler learns it reached a
   * busy BitTorrent peer, not one that refuses its transport or encryption, and backs off.
   * `refused` when paused or stopped: the caller closes it.
   */
  attachIncoming(conn: PeerConnection, handshake: Handshake, rest: Buffer): IncomingVerdict {
    if (!this.takesPeers()) return 'refused';
    const ours = this.protocol.ourHandshake(Buffer.from(handshake.infoHash));
    if (!this.peers.admit(conn.stream.remoteAddress)) {
      conn.stream.write(encodeHandshake(ours));
      conn.stream.end();
      return 'answered';
    }
    this.wake();
    const session = this.peers.attach(conn);
    session.wire.sendHandshake(ours);
    // Replay the handshake into the session's wire, then whatever followed it.
    const again = Buffer.concat([
      Buffer.from([19]),
      Buffer.from('BitTorrent protocol', 'latin1'),
      handshake.reserved,
      handshake.infoHash,
      handshake.peerId,
      rest,
    ]);
    this.peers.receive(session, again);
    return 'joined';
  }

  /** Cleans up after a peer that left. */
  private forgetPeer(session: PeerSession): void {
    if (session.outgoing && !session.handshake && session.closedByPeer) {
      const { remoteAddress, remotePort } = session.stream;
      this.emit('closedBeforeHandshake', remoteAddress, remotePort, session.connection.encrypted);
    }
    this.heldHaves.delete(session);
    if (session.bits && session.handshake) this.picker.removePeer(session.bits);
    this.scheduler.forget(session);
    session.incoming.length = 0;
    this.uploader.forget(session);
    this.hashes.forget(session);
    this.extensions.close(session);
  }

  /**
   * A verified piece is ours: announce it, and see whether we are done. A leecher that has the
   * piece already is not told: it cannot want it from us, and a hundred peers would each hear of
   * every piece twice over. A seed is, since it counts where its pieces went; and everyone hears
   * of the piece that completes us.
   */
  private markHave(index: number): void {
    this.have.set(index);
    this.resumeDirty = true;
    this.streams.pieceVerified(index);
    const complete = this.have.complete;
    let encoded: Buffer | undefined;
    for (const s of this.peers.all()) {
      if (!s.handshake || s.closed) continue;
      const bits = s.bits;
      if (!complete && bits !== undefined && bits.has(index) && !bits.complete) continue;
      if (!complete && s.wire.amChoking && s.wire.peerInterested) {
        s.announceLater(index);
        this.heldHaves.add(s);
      } else {
        encoded ??= encodeMessage({ type: 'have', index });
        s.wire.sendEncodedHave(encoded);
      }
    }
    if (!this.picker.wantsMore()) {
      this.state = 'seeding';
      // Done means on disk, not only verified: wait for the writes still in flight.
      void this.completion.flushed().then(async () => {
        if (this.state === 'stopped') return;
        await this.saveResumeData();
        await this.storage.sync().catch(() => undefined);
        this.emitDone();
      });
      for (const s of [...this.peers.all()]) {
        if (s.bits?.complete) this.peers.drop(s, undefined);
        else this.protocol.updateInterest(s);
      }
    } else {
      // Only a peer that had this piece can have stopped being of interest; the rest may take
      // more requests now that a piece is done.
      for (const s of this.peers.all()) {
        if (!s.wire.amInterested) continue;
        if (s.bits?.has(index)) this.protocol.updateInterest(s);
        else this.scheduler.fillRequests(s);
      }
    }
  }

  // ---------------------------------------------------------------- housekeeping

  /** The shared one-second tick: housekeeping, and resume data every `resumeIntervalMs`. */
  private everySecond(): void {
    if (this.sleepTicks > 0) {
      this.sleepTicks--;
      return;
    }
    this.tick();
    if (this.options.resumePath === undefined) return;
    const now = this.deps.runtime.clock.now();
    if (now - this.lastResumeSaveAt < this.opts.resumeIntervalMs) return;
    this.lastResumeSaveAt = now;
    void this.saveResumeData();
  }

  private tick(): void {
    const s = this.state;
    if (s === 'stopped' || s === 'paused' || s === 'checking' || s === 'error') return;
    const now = this.deps.runtime.clock.now();
    // A torrent with no peers, none to dial and no web seed has no peer work: 10,000 idle
    // seeding torrents cost only their seeding-limit accounting.
    if (!this.peers.quiet || this.webSeeds.length > 0) {
      for (const session of this.heldHaves) session.announceHeld();
      this.heldHaves.clear();
      this.scheduler.updateJobLimit();
      this.peers.tend(now, this.opts, (peer) =>
        this.scheduler.tend(peer, now, this.opts.requestTimeoutMs),
      );
      if (now - this.lastChokeAt >= CHOKE_INTERVAL_MS) {
        this.lastChokeAt = now;
        this.uploader.rechoke(now);
      } else this.uploader.reassignIdleSlots();
      for (const w of this.webSeeds) w.kick();
      this.peers.connectSome();
      this.extensions.tick(() => this.peers.all());
    }
    const reached = this.seedLimits.tick(
      now,
      s === 'seeding',
      {
        uploaded: this.metrics.bytesOut.value,
        downloaded: this.metrics.bytesIn.value,
        totalLength: this.meta.totalLength,
      },
      this.slept ? (QUIET_TICKS + 1) * TICK_MS : undefined,
    );
    this.slept = false;
    if (reached) {
      this.finishSeeding(reached);
      this.emit('finished', reached);
    }
    const progressWanted =
      this.listenerCount('progress') > 0 && this.deps.progressWanted?.() !== false;
    if (progressWanted) this.emit('progress', this.stats());
    else if (this.peers.quiet && this.webSeeds.length === 0) {
      // Nothing to tend until a peer comes ({@link wake}): 10,000 such torrents stay cheap.
      this.sleepTicks = QUIET_TICKS - 1;
      this.slept = true;
    }
  }

  /** Something to tend arrived (a peer, a candidate): tick every second again. */
  private wake(): void {
    this.sleepTicks = 0;
  }

  /** A stream reads file `fileIndex`: its pieces are wanted even if the file was skipped. */
  private wantFile(fileIndex: number): void {
    if (!wantFilePieces(this.picker, this.layout, fileIndex)) return;
    if (this.state === 'seeding' && this.picker.wantsMore()) this.state = 'downloading';
    for (const s of this.peers.all()) this.protocol.updateInterest(s);
  }

  /** Streams opened, moved or closed: cancel what is no longer urgent, request what now is. */
  private windowsChanged(): void {
    if (this.state !== 'downloading') return;
    this.scheduler.releaseDropped();
    this.scheduler.fillUrgent();
    for (const w of this.webSeeds) w.kick();
  }

  private emitDone(): void {
    if (this.doneEmitted) return;
    this.doneEmitted = true;
    // Downloading is over: keep only the spares the upload cache may need.
    this.buffers.shrink(this.opts.pieceCacheBytes);
    this.emit('done', this.stats());
  }

  private async saveResumeData(): Promise<void> {
    if (!this.resumeDirty) return;
    this.resumeDirty = false;
    try {
      await this.pieceState.save(this.completion.written());
    } catch (error) {
      this.resumeDirty = true;
      this.emit('warning', `could not save resume data: ${(error as Error).message}`);
    }
  }
}
