import { copyBytes } from '../runtime/page-arena.js';
import type { Clock } from '../runtime/runtime.js';
import type { RateMeter, TokenBucket } from '../shared/rate.js';
import type { PieceLayout } from '../storage/layout.js';
import type { TorrentStorage } from '../storage/torrent-storage.js';
import { WireError } from '../wire/errors.js';
import type { StreamDeadlines } from './deadlines.js';
import type { HashExchange } from './hash-exchange.js';
import type { PeerSession } from './peer-session.js';
import { BLOCK_BYTES, type BufferPool, blockKey, PieceJob, PieceJobs } from './piece-job.js';
import type { PiecePicker } from './piece-picker.js';

/** Requests kept in flight to a peer, at least and at most (blocks of 16 KiB). */
const MIN_PIPELINE = 2;
const MAX_PIPELINE = 2000;
/** Data we did not ask for that a peer may send before it is dropped. */
const MAX_UNSOLICITED_BYTES = 4 * 1024 * 1024;
/** How long a piece a peer refused is asked for elsewhere before that peer is tried again. */
const REJECT_BACKOFF_MS = 10_000;
/** Verified bytes that may wait for the disk before no new pieces are started. */
export const MAX_UNWRITTEN_BYTES = 64 * 1024 * 1024;
/**
 * While a stream is open, requests for pieces no stream needs cover only this much of a peer's
 * rate, so a piece that becomes urgent (a seek) does not queue behind seconds of other data.
 */
const NON_URGENT_PIPELINE_SECONDS = 0.5;
/** A block of a late piece is asked of a second peer once its request is this old. */
const DUPLICATE_AFTER_MS = 250;
/** Requests kept in flight to a peer for urgent pieces, at least (its pipeline may be longer). */
const MIN_URGENT_PIPELINE = 8;
/** The rate assumed for a peer that has sent nothing yet, when ranking peers for urgent blocks. */
const UNKNOWN_PEER_RATE = 32 * 1024;
/** A peer's requests for pieces no stream needs are taken back at most this often. */
const PREEMPT_INTERVAL_MS = 250;
/** How long a cancelled request's block is still accepted when it arrives anyway. */
const CANCELLED_GRACE_MS = 60_000;
/** Cancelled requests remembered per peer, at most. */
const MAX_CANCELLED_PER_PEER = 4096;

/** What the request scheduler needs from its torrent. */
export interface RequestSchedulerDeps {
  readonly layout: PieceLayout;
  readonly picker: PiecePicker;
  readonly storage: TorrentStorage;
  readonly hashes: HashExchange;
  readonly buffers: BufferPool;
  /** Pieces open streams need soon, with deadlines. */
  readonly deadlines: StreamDeadlines;
  readonly clock: Clock;
  /** Torrent-wide and node-wide download limits, and the torrent's download meter. */
  readonly bucket: TokenBucket;
  readonly globalBucket: TokenBucket;
  readonly meter: Pick<RateMeter, 'add'>;
  readonly sessions: () => Iterable<PeerSession>;
  readonly sessionCount: () => number;
  /** True while the torrent is downloading (not paused, stopped or seeding). */
  readonly downloading: () => boolean;
  /** True while piece `index` is verified and being written. */
  readonly isWriting: (index: number) => boolean;
  /** Every block of `job` has arrived: verify and write it. */
  readonly pieceComplete: (job: PieceJob) => void;
}

/**
 * The download half of a swarm: which blocks to ask each peer for and when. Pieces open
 * streams need come first, nearest deadline first, each block from the peer that would deliver
 * it soonest (and from a second one when the piece is late). Then pieces already started are
 * finished, new ones come from the piece picker (or a peer's suggestions), and when nothing new
 * is left the blocks in flight elsewhere are asked for again (endgame) and the duplicates
 * cancelled on arrival. Each peer's pipeline covers about two seconds at its measured rate (half
 * a second of non-urgent data while a stream is open); a peer that stalls has its requests taken
 * back; a peer whose data has not verified yet gets little in flight.
 */
export class RequestScheduler {
  /** Pieces being downloaded, by index. */
  readonly jobs: PieceJobs;
  private jobLimit = 4;
  /** New pieces were held back because too much verified data waits for the disk. */
  private waitingForDisk = false;
  private readonly unsolicited = new Map<number, number>();
  /** Requests we cancelled, per peer id: block key → when (their blocks may still come). */
  private readonly cancelled = new Map<number, Map<number, number>>();
  /** When each peer's non-urgent requests were last taken back for urgent ones. */
  private readonly preemptedAt = new Map<number, number>();

  constructor(private readonly deps: RequestSchedulerDeps) {
    this.jobs = new PieceJobs(deps.layout.pieceCount);
  }

  /** Tops up the requests in flight to `session`. */
  fillRequests(session: PeerSession, retried = false): void {
    // Urgent pieces first, whoever's turn it is: they go to the peers that deliver soonest.
    if (this.deps.deadlines.active && !retried) this.fillUrgent();
    if (session.closed || !this.deps.downloading() || !session.bits) return;
    this.deps.hashes.requestFrom(session); // v2 piece layers a magnet link lacks
    if (session.wire.peerChoking && session.allowedFast.size === 0) return;
    // Top the pipeline up in batches rather than one request per block received.
    const target = Math.min(session.pipelineTarget, session.requestLimit);
    if (
      session.outstanding.size > 0 &&
      session.outstanding.size > target - Math.max(1, target >> 3)
    )
      return;
    // Until a peer's data has verified once, keep one piece of it in flight (two blocks at
    // least): a peer sending garbage then costs about one piece before its first failure gets it
    // banned, and in a flash crowd, where every peer is new, requests do not pile up at the few
    // peers with the newest pieces while the others' uploads idle (1,000-leecher simulation:
    // upload lost in the first minute 19.7 -> 17.5 s of the swarm's capacity).
    const untrustedCap = Math.max(2, Math.ceil(this.deps.layout.pieceLength / BLOCK_BYTES));
    const limit = Math.min(
      session.pipelineTarget,
      session.requestLimit,
      session.trusted ? Infinity : untrustedCap,
    );
    if (!session.trusted && session.awaitingCheck >= 2) return;
    const now = this.deps.clock.now();
    const canRequest = (index: number) => {
      if (!this.deps.hashes.canVerify(index)) return false;
      const rejectedAt = session.rejected.get(index);
      if (rejectedAt !== undefined) {
        if (now - rejectedAt < REJECT_BACKOFF_MS) return false;
        session.rejected.delete(index);
      }
      return !session.wire.peerChoking || session.allowedFast.has(index);
    };
    const streaming = this.deps.deadlines.active;
    const cap = streaming
      ? Math.min(
          limit,
          Math.max(MIN_PIPELINE, this.secondsOfBlocks(session, NON_URGENT_PIPELINE_SECONDS)),
        )
      : limit;
    while (session.outstanding.size < cap) {
      if (!this.deps.bucket.tryTake(0) || this.globalBlocked()) break;
      const next = this.nextRequest(session, canRequest);
      if (!next) break;
      this.send(session, next.job, next.block);
    }
    // Pieces this peer refused are asked elsewhere for a while; but when there is nothing else
    // to ask it for, idling helps nobody: ask again (a seed serves a peer with nothing queued).
    if (session.outstanding.size === 0 && session.rejected.size > 0 && !retried) {
      session.rejected.clear();
      this.fillRequests(session, true);
    }
  }

  /**
   * Requests the blocks open streams need: pieces in deadline order, each missing block from
   * the peer that would deliver it soonest (its queue over its rate), a second copy when the
   * piece is past its deadline and the first request is slow to come back. A peer asked for a
   * late piece (a reader waits for it), or the fastest one when every peer that has an urgent
   * piece is full, has its other requests taken back first (at most four times a second each), so
   * urgent requests do not wait behind them.
   */
  fillUrgent(): void {
    const d = this.deps;
    if (!d.deadlines.active || !d.downloading()) return;
    if (!d.bucket.tryTake(0) || this.globalBlocked()) return;
    const now = d.clock.now();
    const sessions: PeerSession[] = [];
    for (const s of d.sessions()) if (!s.closed && s.bits && !s.snubbed) sessions.push(s);
    if (sessions.length === 0) return;
    for (const { index, deadline } of d.deadlines.pieces()) {
      if (d.isWriting(index) || !d.hashes.canVerify(index)) continue;
      let job = this.jobs.get(index);
      if (job && (job.verifying || job.external)) continue;
      const late = now >= deadline;
      if (job?.fullyRequested && !late) continue;
      const exclusive = job?.exclusiveTo;
      const holders = sessions.filter(
        (s) =>
          s.bits!.has(index) &&
          (!exclusive || exclusive === s) &&
          (!s.wire.peerChoking || s.allowedFast.has(index)) &&
          (s.trusted || s.awaitingCheck < 2) &&
          !this.recentlyRejected(s, index, now),
      );
      if (holders.length === 0) continue;
      if (!job) {
        if (d.storage.unwrittenBytes >= MAX_UNWRITTEN_BYTES) return;
        const size = d.layout.pieceSize(index);
        job = new PieceJob(index, size, d.buffers.take(size));
        this.jobs.set(index, job);
      }
      for (let b = 0; b < job.blockCount; b++) {
        if (job.received[b]) continue;
        const inFlight = job.requestsFor(b);
        const key = blockKey(index, b);
        if (
          inFlight >= 2 ||
          (inFlight === 1 && (!late || now - this.sentAt(key) < DUPLICATE_AFTER_MS))
        )
          continue;
        const peer = this.soonest(holders, key, late) ?? this.preempt(holders, now);
        if (!peer) return; // every peer with urgent pieces is full
        // A reader waits for this piece: what the peer has queued for no stream goes first.
        if (late) this.takeBackNonUrgent(peer, now);
        if (!peer.outstanding.has(key)) this.send(peer, job, b);
      }
    }
  }

  /**
   * Streams moved or closed: requests for pieces no stream needs any more are cancelled (unless
   * half the piece is in), so they stop holding peers' queues.
   */
  releaseDropped(): void {
    for (const index of this.deps.deadlines.takeDropped()) {
      const job = this.jobs.get(index);
      if (!job || job.verifying || job.external || job.receivedCount * 2 >= job.blockCount)
        continue;
      for (const s of this.deps.sessions())
        for (let b = 0; b < job.blockCount; b++) this.cancel(s, blockKey(index, b));
      if (job.idle) {
        this.jobs.delete(index);
        this.deps.buffers.give(job.memory);
      }
    }
  }

  /** Sends the request for block `block` of `job` to `session`. */
  private send(session: PeerSession, job: PieceJob, block: number): void {
    const now = this.deps.clock.now();
    // The stall clock runs from the later of the last block and the first request after an
    // idle spell: a peer we asked nothing of for a minute has not stalled.
    if (session.outstanding.size === 0) session.lastPieceAt = now;
    job.requested(block);
    session.outstanding.set(blockKey(job.index, block), now);
    session.wire.sendMessage({
      type: 'request',
      index: job.index,
      begin: block * BLOCK_BYTES,
      length: job.blockLength(block),
    });
  }

  /** How many blocks `seconds` of `session`'s measured rate is. */
  private secondsOfBlocks(session: PeerSession, seconds: number): number {
    return Math.ceil((session.download.bytesPerSecond * seconds) / BLOCK_BYTES);
  }

  /**
   * The peer among `holders` with room that would deliver one more block soonest. A late piece
   * may go past a peer's pipeline target, up to what the peer accepts.
   */
  private soonest(
    holders: readonly PeerSession[],
    key: number,
    late: boolean,
  ): PeerSession | undefined {
    let best: PeerSession | undefined;
    let bestEta = Number.POSITIVE_INFINITY;
    for (const s of holders) {
      if (s.outstanding.has(key) || s.outstanding.size >= this.urgentLimit(s, late)) continue;
      const rate =
        s.download.total > 0 ? Math.max(1024, s.download.bytesPerSecond) : UNKNOWN_PEER_RATE;
      const eta = ((s.outstanding.size + 1) * BLOCK_BYTES) / rate;
      if (eta < bestEta) {
        best = s;
        bestEta = eta;
      }
    }
    return best;
  }

  /** Requests a peer may have in flight for urgent pieces (`late`: already past due). */
  private urgentLimit(s: PeerSession, late = false): number {
    const untrustedCap = Math.max(4, 2 * Math.ceil(this.deps.layout.pieceLength / BLOCK_BYTES));
    return Math.min(
      s.requestLimit,
      late ? Number.POSITIVE_INFINITY : Math.max(MIN_URGENT_PIPELINE, s.pipelineTarget),
      s.trusted ? Number.POSITIVE_INFINITY : untrustedCap,
    );
  }

  /**
   * Takes back the non-urgent requests of the fastest full peer among `holders` (not done to it
   * in the last second) and returns it, or undefined when none qualifies.
   */
  private preempt(holders: readonly PeerSession[], now: number): PeerSession | undefined {
    let best: PeerSession | undefined;
    for (const s of holders) {
      if (now - (this.preemptedAt.get(s.id) ?? Number.NEGATIVE_INFINITY) < PREEMPT_INTERVAL_MS)
        continue;
      if (!best || s.download.bytesPerSecond > best.download.bytesPerSecond) best = s;
    }
    if (!best) return undefined;
    this.takeBackNonUrgent(best, now);
    return best.outstanding.size < this.urgentLimit(best) ? best : undefined;
  }

  /**
   * Cancels `session`'s requests for pieces no stream needs (at most four times a second per peer),
   * so urgent requests sent next do not queue behind them at the peer.
   */
  private takeBackNonUrgent(session: PeerSession, now: number): void {
    const last = this.preemptedAt.get(session.id) ?? Number.NEGATIVE_INFINITY;
    if (now - last < PREEMPT_INTERVAL_MS) return;
    this.preemptedAt.set(session.id, now);
    const deadlines = this.deps.deadlines;
    for (const key of [...session.outstanding.keys()])
      if (!deadlines.covers(Math.floor(key / 65536))) this.cancel(session, key);
  }

  /** When the oldest request in flight for block `key` was sent (any peer). */
  private sentAt(key: number): number {
    let at = Number.POSITIVE_INFINITY;
    for (const s of this.deps.sessions()) {
      const t = s.outstanding.get(key);
      if (t !== undefined && t < at) at = t;
    }
    return at;
  }

  private recentlyRejected(session: PeerSession, index: number, now: number): boolean {
    const at = session.rejected.get(index);
    return at !== undefined && now - at < REJECT_BACKOFF_MS;
  }

  /** Tops up every peer. */
  fillAll(): void {
    for (const s of this.deps.sessions()) this.fillRequests(s);
  }

  /** A block arrived. @throws {WireError} when a peer sends too much we did not ask for */
  onBlock(session: PeerSession, index: number, begin: number, block: Uint8Array): void {
    const b = Math.floor(begin / BLOCK_BYTES);
    const key = blockKey(index, b);
    const job = this.jobs.get(index);
    const expected = session.outstanding.has(key);
    // A block whose request we cancelled may still come (it was on its way): welcome, not a flood.
    const cancelled = !expected && this.takeCancelled(session, key);
    const fits =
      job !== undefined &&
      !job.external &&
      (expected || !job.exclusiveTo || job.exclusiveTo === session) &&
      begin % BLOCK_BYTES === 0 &&
      block.length === job.blockLength(b);
    if (!(expected || cancelled) || !fits) {
      if (expected) this.release(session, key);
      if (cancelled) return;
      // Unrequested data: tolerate a little, then drop.
      const total = (this.unsolicited.get(session.id) ?? 0) + block.length;
      this.unsolicited.set(session.id, total);
      if (total > MAX_UNSOLICITED_BYTES) throw new WireError('too much data we did not ask for');
      return;
    }
    const now = this.deps.clock.now();
    if (expected) {
      session.outstanding.delete(key);
      job.released(b);
      if (!session.pipelineSized)
        session.pipelineTarget = Math.min(MAX_PIPELINE, session.pipelineTarget + 1);
    }
    session.lastPieceAt = now;
    session.lastPayloadAt = now;
    session.snubbed = false;
    session.download.add(block.length);
    this.deps.meter.add(block.length);
    this.deps.globalBucket.tryTake(block.length);
    this.deps.bucket.tryTake(block.length);
    if (!job.received[b] && !job.verifying) {
      copyBytes(job.view, block, begin);
      job.received[b] = 1;
      job.receivedCount++;
      job.contributors.add(session);
      if (job.requestsFor(b) > 0) this.cancelDuplicates(job, b, session);
      if (job.complete) this.deps.pieceComplete(job);
    }
    this.fillRequests(session);
  }

  /** The peer refused a request (BEP 6 reject): ask others for that piece for a while. */
  onReject(session: PeerSession, index: number, begin: number): void {
    const key = blockKey(index, Math.floor(begin / BLOCK_BYTES));
    if (session.outstanding.has(key)) session.rejected.set(index, this.deps.clock.now());
    this.release(session, key);
    this.fillRequests(session);
  }

  /** The peer choked us without the fast extension: its requests are void. */
  onChoke(session: PeerSession): void {
    for (const key of [...session.outstanding.keys()]) this.release(session, key);
  }

  /**
   * Housekeeping for one peer (every second): a peer with requests unanswered for
   * `requestTimeoutMs` is snubbed (its requests go to others) and, if it stays silent, dropped;
   * otherwise its pipeline is sized to about two seconds at its rate. Returns an error when the
   * peer should be dropped.
   */
  tend(session: PeerSession, now: number, requestTimeoutMs: number): WireError | undefined {
    const cancelled = this.cancelled.get(session.id);
    if (cancelled) {
      for (const [key, at] of cancelled) {
        if (now - at < CANCELLED_GRACE_MS) break; // oldest first
        cancelled.delete(key);
      }
      if (cancelled.size === 0) this.cancelled.delete(session.id);
    }
    if (session.outstanding.size > 0 && now - session.lastPieceAt > requestTimeoutMs) {
      // A stalled peer: take its requests back so others can serve them.
      if (session.snubbed) return new WireError('stalled: requests unanswered');
      session.snubbed = true;
      session.lastPieceAt = now;
      this.releaseAll(session);
      session.pipelineTarget = 2;
      session.pipelineSized = true;
    } else if (!session.snubbed && session.download.total > 0) {
      // Keep enough requests in flight to cover about two seconds at the current rate. A slow
      // peer gets a short queue: requests it sits on for a minute tie pieces up, and a seed
      // would count them as given out long before they are.
      const rate = session.download.bytesPerSecond;
      session.pipelineSized = true;
      session.pipelineTarget = Math.max(
        MIN_PIPELINE,
        Math.min(MAX_PIPELINE, Math.ceil((rate * 2) / BLOCK_BYTES)),
      );
    }
    this.fillRequests(session);
    return undefined;
  }

  /** How many pieces may be in progress: enough to keep every peer's pipeline full. */
  updateJobLimit(): void {
    const peers = Math.max(1, this.deps.sessionCount());
    const perPeer =
      Math.ceil((this.maxPipeline() * BLOCK_BYTES) / this.deps.layout.pieceLength) + 1;
    this.jobLimit = Math.max(4, peers * perPeer);
  }

  /** The disk may have caught up: start new pieces again if they were held back for it. */
  diskProgressed(): void {
    if (this.waitingForDisk && this.deps.storage.unwrittenBytes < MAX_UNWRITTEN_BYTES) {
      this.waitingForDisk = false;
      this.fillAll();
    }
  }

  /** Fetches piece `index` again from `peer` only (so a second failure names the culprit). */
  retryFrom(index: number, size: number, peer: PeerSession): void {
    const retry = new PieceJob(index, size);
    retry.exclusiveTo = peer;
    this.jobs.set(index, retry);
  }

  /** A peer left: its requests go back to the pool. */
  forget(session: PeerSession): void {
    this.releaseAll(session);
    this.unsolicited.delete(session.id);
    this.cancelled.delete(session.id);
    this.preemptedAt.delete(session.id);
  }

  private globalBlocked(): boolean {
    return !this.deps.globalBucket.unlimited && this.deps.globalBucket.delayFor(BLOCK_BYTES) > 0;
  }

  private nextRequest(
    session: PeerSession,
    canRequest: (i: number) => boolean,
  ): { job: PieceJob; block: number } | undefined {
    const bits = session.bits!;
    // Pieces streams need are handed out by fillUrgent, to the peers that deliver soonest.
    const deadlines = this.deps.deadlines;
    const urgent = (i: number) => deadlines.active && deadlines.covers(i);
    const picker = this.deps.picker;
    // Finish pieces already started before starting new ones (not from a seed that steers its
    // first copies, unless it is the only one with the piece: it would refuse).
    for (const job of this.jobs.values()) {
      if (
        job.fullyRequested ||
        (session.suggests && picker.availability[job.index]! > 1) ||
        job.verifying ||
        job.external ||
        !bits.has(job.index) ||
        !canRequest(job.index) ||
        urgent(job.index)
      )
        continue;
      if (job.exclusiveTo && job.exclusiveTo !== session) continue;
      const b = job.nextFreeBlock();
      if (b >= 0) return { job, block: b };
    }
    const busy = (i: number) =>
      this.jobs.has(i) || this.deps.isWriting(i) || !canRequest(i) || urgent(i);
    let index = -1;
    for (const i of session.suggested) {
      session.suggested.delete(i);
      if (bits.has(i) && picker.wants(i) && !busy(i)) {
        index = i;
        break;
      }
    }
    if (index < 0) index = picker.pick(bits, busy, this.jobs.bits.bytes);
    if (index >= 0) {
      // Wait for pieces to finish, and for the disk when it falls behind the network.
      const diskBehind = this.deps.storage.unwrittenBytes >= MAX_UNWRITTEN_BYTES;
      if (this.jobs.size >= this.jobLimit || diskBehind) {
        this.waitingForDisk ||= diskBehind;
        return undefined;
      }
      const size = this.deps.layout.pieceSize(index);
      const job = new PieceJob(index, size, this.deps.buffers.take(size));
      this.jobs.set(index, job);
      return { job, block: job.nextFreeBlock() };
    }
    // Endgame: no piece is left to start from anyone, so double up on blocks others are
    // fetching. (A peer whose pieces are all in progress elsewhere is no reason to: that would
    // fetch them twice mid-download.)
    if (!this.allStarted()) return undefined;
    if (picker.pick(bits, (i) => this.deps.isWriting(i) || !canRequest(i)) < 0) return undefined;
    for (const job of this.jobs.values()) {
      if (
        job.verifying ||
        job.external ||
        !bits.has(job.index) ||
        !canRequest(job.index) ||
        job.exclusiveTo ||
        urgent(job.index)
      )
        continue;
      const b = job.duplicateBlock((blk) => session.outstanding.has(blockKey(job.index, blk)));
      if (b >= 0) return { job, block: b };
    }
    return undefined;
  }

  /** True when every wanted piece we lack is in progress or being written: the endgame. */
  private allStarted(): boolean {
    for (let i = 0; i < this.deps.layout.pieceCount; i++)
      if (this.deps.picker.wants(i) && !this.jobs.has(i) && !this.deps.isWriting(i)) return false;
    return true;
  }

  private maxPipeline(): number {
    let max = 0;
    for (const s of this.deps.sessions()) max = Math.max(max, s.pipelineTarget);
    return max;
  }

  private cancelDuplicates(job: PieceJob, b: number, except: PeerSession): void {
    const key = blockKey(job.index, b);
    for (const s of this.deps.sessions()) if (s !== except) this.cancel(s, key);
  }

  /** Cancels our request for block `key` from `session`, if we have one out. */
  private cancel(session: PeerSession, key: number): void {
    if (!session.outstanding.has(key)) return;
    this.release(session, key);
    let mine = this.cancelled.get(session.id);
    if (!mine) {
      mine = new Map();
      this.cancelled.set(session.id, mine);
    }
    mine.delete(key);
    mine.set(key, this.deps.clock.now());
    if (mine.size > MAX_CANCELLED_PER_PEER) mine.delete(mine.keys().next().value!);
    const index = Math.floor(key / 65536);
    const b = key % 65536;
    const length = Math.min(BLOCK_BYTES, this.deps.layout.pieceSize(index) - b * BLOCK_BYTES);
    session.wire.sendMessage({ type: 'cancel', index, begin: b * BLOCK_BYTES, length });
  }

  /** True (and forgotten) when we cancelled our request for block `key` from `session`. */
  private takeCancelled(session: PeerSession, key: number): boolean {
    const mine = this.cancelled.get(session.id);
    return mine?.delete(key) === true;
  }

  private release(session: PeerSession, key: number): void {
    if (!session.outstanding.delete(key)) return;
    const job = this.jobs.get(Math.floor(key / 65536));
    if (job) {
      job.released(key % 65536);
    }
  }

  private releaseAll(session: PeerSession): void {
    for (const key of [...session.outstanding.keys()]) this.release(session, key);
    for (const job of this.jobs.values()) {
      if (job.exclusiveTo === session) job.exclusiveTo = undefined;
      if (!job.verifying && !job.external && job.idle) this.jobs.delete(job.index);
    }
  }
}
