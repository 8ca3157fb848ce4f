import { Bitfield } from '../codec/bitfield.js';
import type { Metainfo } from '../metainfo/types.js';
import { RateMeter, TokenBucket } from '../shared/rate.js';
import { describeIo, isMissingFile } from '../storage/io-errors.js';
import { PieceLayout } from '../storage/layout.js';
import { PieceState } from '../storage/piece-state.js';
import { TorrentStorage } from '../storage/torrent-storage.js';
import { PieceVerifier } from '../storage/verifier.js';
import { ExtensionRegistry } from '../wire/extended.js';
import { Blame } from './blame.js';
import { MetadataServer } from './extensions/ut-metadata.js';
import { applyFilePriorities } from './file-priorities.js';
import { HashExchange } from './hash-exchange.js';
import { TorrentMetrics } from './metrics.js';
import {
  type PeerInfo,
  type SwarmOptions,
  type TorrentDeps,
  TorrentError,
  type TorrentOptions,
  type TorrentState,
} from './options.js';
import { PeerExchange } from './peer-exchange.js';
import { peerInfo } from './peer-info.js';
import { PeerProtocol } from './peer-protocol.js';
import type { PeerSession } from './peer-session.js';
import { PeerSet } from './peer-set.js';
import { PieceCompletion } from './piece-completion.js';
import { BufferPool } from './piece-job.js';
import { PiecePicker } from './piece-picker.js';
import { RequestScheduler } from './request-scheduler.js';
import { NO_SEED_LIMITS, SeedLimiter } from './seed-limits.js';
import { TorrentStreams } from './torrent-streams.js';
import { Uploader } from './uploader.js';
import { WebSeed } from './web-seed.js';

/**
 * What the parts of a swarm ask of the torrent that owns them: its state, and what to do when
 * something happens that the torrent as a whole must answer (a piece added, a peer gone, a
 * failure, a warning). `Torrent` implements these; the parts never see the `Torrent` itself.
 */
export interface SwarmHooks {
  state(): TorrentState;
  /** Bytes of verified data held (the torrent's `bytesHave`). */
  haveBytes(): number;
  /** A stream reads this file: its pieces become wanted. */
  wantFile(fileIndex: number): void;
  /** Streams opened, moved or closed. */
  windowsChanged(): void;
  /** A peer finished its handshake. */
  peer(info: PeerInfo): void;
  /** A peer left: clean up after it. */
  forgetPeer(session: PeerSession): void;
  /** An address was banned for bad data. */
  banned(host: string): void;
  warn(warning: string): void;
  /** A piece verified and is ours. */
  pieceAdded(index: number): void;
  /** Resume data has changed. */
  dirty(): void;
  /** An error to tell the owner about. */
  report(error: Error): void;
  /** The files cannot be used: enter the error state. */
  fail(error: TorrentError): void;
  /** A place to find a peer (from PEX). */
  addPeer(host: string, port: number): void;
}

/** The parts of one torrent's swarm, each of one concept, wired to one another. */
export interface SwarmParts {
  readonly layout: PieceLayout;
  readonly buffers: BufferPool;
  readonly storage: TorrentStorage;
  readonly have: Bitfield;
  readonly picker: PiecePicker;
  readonly streams: TorrentStreams;
  readonly pieceState: PieceState;
  readonly downloadRate: RateMeter;
  readonly uploadRate: RateMeter;
  readonly seedLimits: SeedLimiter;
  readonly metrics: TorrentMetrics;
  /** 20-byte hashes peers may use for this torrent in handshakes (v1, and truncated v2). */
  readonly handshakeHashes: Buffer[];
  readonly peers: PeerSet;
  readonly uploader: Uploader;
  readonly hashes: HashExchange;
  readonly scheduler: RequestScheduler;
  readonly blame: Blame;
  readonly completion: PieceCompletion;
  readonly protocol: PeerProtocol;
  readonly webSeeds: WebSeed[];
  readonly extensions: ExtensionRegistry<PeerSession>;
}

/**
 * Builds the parts of one torrent's swarm and wires them to each other and to `hooks`: the
 * peer set's events to the protocol, completed pieces to verification, bans to the connection
 * manager, byte counts to rates and metrics. Kept apart from `Torrent` so that the facade
 * holds lifecycle, housekeeping and the public API, and this one place says who talks to whom.
 */
export function assembleSwarm(
  meta: Metainfo,
  deps: TorrentDeps,
  options: TorrentOptions,
  opts: SwarmOptions,
  hooks: SwarmHooks,
): SwarmParts {
  const extensions = new ExtensionRegistry<PeerSession>();
  const webSeeds: WebSeed[] = [];
  const { runtime } = deps;
  const clock = runtime.clock;
  const layout = new PieceLayout(meta);
  const buffers = new BufferPool(meta.pieceLength, undefined, runtime.fs.writeMemory);
  const storage = new TorrentStorage(
    runtime.fs,
    options.downloadDir,
    layout,
    meta.name,
    meta.singleFile,
    { directWrites: options.directWrites ?? true },
  );
  const have = new Bitfield(meta.pieceCount);
  const picker = new PiecePicker(meta.pieceCount, have, runtime.random);
  if (options.pickMode) picker.mode = options.pickMode;
  const streams = new TorrentStreams({
    layout,
    have,
    storage,
    clock,
    name: meta.name,
    singleFile: meta.singleFile,
    wantFile: (i) => hooks.wantFile(i),
    windowsChanged: () => hooks.windowsChanged(),
  });
  const verifier = new PieceVerifier(layout, deps.pool);
  const pieceState = new PieceState(runtime.fs, layout, storage, verifier, options.resumePath);
  const downloadRate = new RateMeter(clock);
  const uploadRate = new RateMeter(clock);
  const seedLimits = new SeedLimiter(deps.seedLimits ?? (() => NO_SEED_LIMITS), {
    ...options.seedLimits,
  });
  const metrics = new TorrentMetrics(deps.metrics, {
    haveBytes: () => hooks.haveBytes(),
    sizeBytes: () => meta.totalLength,
    piecesHave: () => have.cardinality,
    pieceCount: () => meta.pieceCount,
    peers: () => peers.size,
    banned: () => blame.bannedCount,
    hashExchange: () => hashes.stats(),
  });
  const received = {
    add: (n: number) => {
      downloadRate.add(n);
      metrics.bytesIn.inc(n);
      deps.wireMetrics.payloadIn.inc(n);
    },
  };
  const sent = {
    add: (n: number) => {
      uploadRate.add(n);
      metrics.bytesOut.inc(n);
      deps.wireMetrics.payloadOut.inc(n);
    },
    get bytesPerSecond() {
      return uploadRate.bytesPerSecond;
    },
  };
  const upBucket = new TokenBucket(clock, opts.uploadLimit);
  const downBucket = new TokenBucket(clock, opts.downloadLimit);
  const handshakeHashes: Buffer[] = [];
  if (meta.infoHashV1) handshakeHashes.push(meta.infoHashV1);
  if (meta.infoHashV2) handshakeHashes.push(meta.infoHashV2.subarray(0, 20));
  if (options.filePriorities) applyFilePriorities(picker, layout, options.filePriorities);
  const sessions = () => peers.all();
  const peers = new PeerSet({
    clock,
    dialer: deps.dialer,
    connections: deps.connections,
    infoHash: handshakeHashes[0]!,
    pieceCount: meta.pieceCount,
    maxPeers: opts.maxPeers,
    maxPeersPerIp: opts.maxPeersPerIp,
    turnoverIdleMs: opts.turnoverIdleMs,
    handshakeTimeoutMs: opts.handshakeTimeoutMs,
    wireMetrics: deps.wireMetrics,
    active: () => hooks.state() === 'downloading' || hooks.state() === 'seeding',
    events: {
      dialled: (s) => s.wire.sendHandshake(protocol.ourHandshake(handshakeHashes[0]!)),
      handshake: (s, h) => {
        protocol.onHandshake(s, h);
        hooks.peer(peerInfo(s, meta.pieceCount));
      },
      message: (s, m) => protocol.onMessage(s, m),
      drained: (s) => {
        hashes.drained(s);
        void uploader.serve(s);
      },
      dropped: (s) => hooks.forgetPeer(s),
      warn: (w) => hooks.warn(w),
    },
  });
  const uploader = new Uploader({
    layout,
    storage,
    timers: runtime.timers,
    random: (n) => runtime.random.int(n),
    have,
    v2Only: meta.pieces === undefined,
    availability: picker.availability,
    seeding: () => hooks.state() === 'seeding',
    now: () => clock.now(),
    paused: () => hooks.state() === 'paused' || hooks.state() === 'error',
    sessions,
    drop: (s, e) => {
      // A read the disk refuses is no fault of the peer's: the files went away.
      if (isMissingFile(e)) hooks.fail(new TorrentError(`files missing: ${describeIo(e)}`, e));
      else peers.drop(s, e);
    },
    warn: (w) => hooks.warn(w),
    bucket: upBucket,
    globalBucket: deps.globalUpload,
    meter: sent,
    uploadSlots: opts.uploadSlots,
    maxIncomingRequests: opts.maxIncomingRequests,
    pieceCacheBytes: opts.pieceCacheBytes,
    buffers,
  });
  const hashes = new HashExchange({
    layout,
    storage,
    have,
    clock,
    fetchLayers: meta.pieces === undefined,
    bucket: upBucket,
    globalBucket: deps.globalUpload,
    maxIncomingRequests: opts.maxIncomingRequests,
    layerAdded: () => {
      hooks.dirty();
      scheduler.fillAll();
    },
  });
  const scheduler = new RequestScheduler({
    layout,
    picker,
    storage,
    hashes,
    buffers,
    deadlines: streams.deadlines,
    clock,
    bucket: downBucket,
    globalBucket: deps.globalDownload,
    meter: received,
    sessions,
    sessionCount: () => peers.size,
    downloading: () => hooks.state() === 'downloading',
    isWriting: (i) => completion.writing.has(i),
    pieceComplete: (job) => void completion.finish(job),
  });
  const blame: Blame = new Blame({
    random: runtime.random,
    banAfterFailures: opts.banAfterFailures,
    sessions,
    isBanned: (host) => deps.connections.isBanned(host),
    ban: (s, reason) => {
      deps.connections.ban(s.host);
      hooks.banned(s.host);
      hooks.warn(`banned ${s.host} for ${reason}`);
      peers.dropHost(s.host);
    },
    retryFrom: (index, size, peer) => scheduler.retryFrom(index, size, peer),
    warn: (w) => hooks.warn(w),
    metrics,
  });
  const completion: PieceCompletion = new PieceCompletion({
    layout,
    have,
    storage,
    verifier,
    buffers,
    scheduler,
    uploader,
    blame,
    sessions,
    stopped: () => hooks.state() === 'stopped',
    pieceAdded: (index) => hooks.pieceAdded(index),
    dirty: () => hooks.dirty(),
    failed: (e) => hooks.report(e),
    writeFailed: (index, e) =>
      hooks.fail(new TorrentError(`cannot write piece ${index}: ${describeIo(e)}`, e)),
  });
  const protocol = new PeerProtocol({
    meta,
    handshakeHashes,
    peerId: deps.peerId,
    clock,
    have,
    picker,
    peers,
    connections: deps.connections,
    scheduler,
    uploader,
    hashes,
    blame,
    extensions,
    clientName: opts.clientName,
    maxIncomingRequests: opts.maxIncomingRequests,
    listenPort: deps.listenPort,
    ...(deps.dht && { dht: deps.dht }),
    downloading: () => hooks.state() === 'downloading',
  });
  if (options.webSeeds !== false) {
    for (const url of new Set(meta.webSeeds)) {
      if (!/^https?:\/\//i.test(url)) continue;
      webSeeds.push(
        new WebSeed(url, {
          torrent: meta,
          layout,
          http: runtime.http,
          clock,
          random: runtime.random,
          picker,
          deadlines: streams.deadlines,
          buffers,
          jobs: scheduler.jobs,
          sessions,
          downloading: () => hooks.state() === 'downloading',
          canVerify: (i) => hashes.canVerify(i),
          isWriting: (i) => completion.writing.has(i),
          bucket: downBucket,
          globalBucket: deps.globalDownload,
          pieceComplete: (job) => void completion.finish(job),
          received: (n) => {
            downloadRate.add(n);
            metrics.bytesIn.inc(n);
            metrics.webSeedBytes.inc(n);
          },
          warn: (w) => hooks.warn(w),
          ...(deps.localAddress !== undefined && { localAddress: deps.localAddress }),
        }),
      );
    }
  }
  extensions.register(new MetadataServer(meta.infoBytes));
  if (opts.pex && !meta.private) {
    extensions.register(
      new PeerExchange(
        (host, port) => hooks.addPeer(host, port),
        () => clock.now(),
        opts.pexIntervalMs,
      ),
    );
  }
  return {
    layout,
    buffers,
    storage,
    have,
    picker,
    streams,
    pieceState,
    downloadRate,
    uploadRate,
    seedLimits,
    metrics,
    handshakeHashes,
    peers,
    uploader,
    hashes,
    scheduler,
    blame,
    completion,
    protocol,
    webSeeds,
    extensions,
  };
}
