import type { Clock } from '../runtime/runtime.js';
import type { RateMeter, TokenBucket } from '../shared/rate.js';
import type { PieceLayout } from '../storage/layout.js';
import type { TorrentStorage } from '../storage/torrent-storage.js';
import { WireError } from '../wire/errors.js';
import type { HashExchange } from './hash-exchange.js';
import type { PeerSession } from './peer-session.js';
import { BLOCK_BYTES, type BufferPool, blockKey, PieceJob } from './piece-job.js';
import type { PiecePicker } from './piece-picker.js';

/** Requests kept in flight to a peer, at least and at most (blocks of 16 KiB). */
const MIN_PIPELINE = 4;
const MAX_PIPELINE = 2000;
/** Data we did not ask for that a peer may send before it is dropped. */
const MAX_UNSOLICITED_BYTES = 4 * 1024 * 1024;
/** How long a piece a peer refused is asked for elsewhere before that peer is tried again. */
const REJECT_BACKOFF_MS = 10_000;
/** Verified bytes that may wait for the disk before no new pieces are started. */
export const MAX_UNWRITTEN_BYTES = 64 * 1024 * 1024;

/** What the request scheduler needs from its torrent. */
export interface RequestSchedulerDeps {
  readonly layout: PieceLayout;
  readonly picker: PiecePicker;
  readonly storage: TorrentStorage;
  readonly hashes: HashExchange;
  readonly buffers: BufferPool;
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
 * The download half of a swarm: which blocks to ask each peer for and when. Pieces already
 * started are finished first, new ones come from the piece picker (or a peer's suggestions),
 * and when nothing new is left the blocks in flight elsewhere are asked for again (endgame)
 * and the duplicates cancelled on arrival. Each peer's pipeline covers about two seconds at
 * its measured rate; a peer that stalls has its requests taken back; a peer whose data has not
 * verified yet gets little in flight.
 */
export class RequestScheduler {
  /** Pieces being downloaded, by index. */
  readonly jobs = new Map<number, PieceJob>();
  private jobLimit = 4;
  /** New pieces were held back because too much verified data waits for the disk. */
  private waitingForDisk = false;
  private readonly unsolicited = new Map<number, number>();

  constructor(private readonly deps: RequestSchedulerDeps) {}

  /** Tops up the requests in flight to `session`. */
  fillRequests(session: PeerSession): void {
    if (session.closed || !this.deps.downloading() || !session.bits) return;
    this.deps.hashes.requestFrom(session); // v2 piece layers a magnet link lacks
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
    if (session.wire.peerChoking && session.allowedFast.size === 0) return;
    // Top the pipeline up in batches rather than one request per block received.
    const target = Math.min(session.pipelineTarget, session.requestLimit);
    if (
      session.outstanding.size > 0 &&
      session.outstanding.size > target - Math.max(1, target >> 3)
    )
      return;
    // Until a peer's data has verified once, keep little of it in flight: a peer sending garbage
    // then costs at most about two pieces before its first failure gets it banned.
    const untrustedCap = Math.max(4, 2 * Math.ceil(this.deps.layout.pieceLength / BLOCK_BYTES));
    const limit = Math.min(
      session.pipelineTarget,
      session.requestLimit,
      session.trusted ? Infinity : untrustedCap,
    );
    if (!session.trusted && session.awaitingCheck >= 2) return;
    while (session.outstanding.size < limit) {
      if (!this.deps.bucket.tryTake(0) || this.globalBlocked()) break;
      const next = this.nextRequest(session, canRequest);
      if (!next) break;
      const { job, block } = next;
      const key = blockKey(job.index, block);
      // The stall clock runs from the later of the last block and the first request after an
      // idle spell: a peer we asked nothing of for a minute has not stalled.
      if (session.outstanding.size === 0) session.lastPieceAt = this.deps.clock.now();
      job.requested(block);
      session.outstanding.set(key, this.deps.clock.now());
      session.wire.sendMessage({
        type: 'request',
        index: job.index,
        begin: block * BLOCK_BYTES,
        length: job.blockLength(block),
      });
    }
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
    if (!expected || !job || begin % BLOCK_BYTES !== 0 || block.length !== job.blockLength(b)) {
      // Unrequested data (or a late duplicate after cancel): tolerate a little, then drop.
      const total = (this.unsolicited.get(session.id) ?? 0) + block.length;
      this.unsolicited.set(session.id, total);
      if (expected) this.release(session, key);
      if (total > MAX_UNSOLICITED_BYTES) throw new WireError('too much data we did not ask for');
      return;
    }
    const now = this.deps.clock.now();
    session.outstanding.delete(key);
    job.released(b);
    session.lastPieceAt = now;
    session.snubbed = false;
    session.download.add(block.length);
    this.deps.meter.add(block.length);
    this.deps.globalBucket.tryTake(block.length);
    this.deps.bucket.tryTake(block.length);
    if (!job.received[b] && !job.verifying) {
      job.view.set(block, begin);
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
    if (session.outstanding.size > 0 && now - session.lastPieceAt > requestTimeoutMs) {
      // A stalled peer: take its requests back so others can serve them.
      if (session.snubbed) return new WireError('stalled: requests unanswered');
      session.snubbed = true;
      session.lastPieceAt = now;
      this.releaseAll(session);
      session.pipelineTarget = 2;
    } else if (!session.snubbed && session.download.total > 0) {
      // Keep enough requests in flight to cover about two seconds at the current rate. A slow
      // peer gets a short queue: requests it sits on for a minute tie pieces up, and a seed
      // would count them as given out long before they are.
      const rate = session.download.bytesPerSecond;
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
  }

  private globalBlocked(): boolean {
    return !this.deps.globalBucket.unlimited && this.deps.globalBucket.delayFor(BLOCK_BYTES) > 0;
  }

  private nextRequest(
    session: PeerSession,
    canRequest: (i: number) => boolean,
  ): { job: PieceJob; block: number } | undefined {
    const bits = session.bits!;
    // Finish pieces already started before starting new ones.
    for (const job of this.jobs.values()) {
      if (job.fullyRequested || job.verifying || !bits.has(job.index) || !canRequest(job.index))
        continue;
      if (job.exclusiveTo && job.exclusiveTo !== session) continue;
      const b = job.nextFreeBlock();
      if (b >= 0) return { job, block: b };
    }
    const picker = this.deps.picker;
    const busy = (i: number) => this.jobs.has(i) || this.deps.isWriting(i) || !canRequest(i);
    let index = -1;
    for (const i of session.suggested) {
      session.suggested.delete(i);
      if (bits.has(i) && picker.wants(i) && !busy(i)) {
        index = i;
        break;
      }
    }
    if (index < 0) index = picker.pick(bits, busy);
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
      if (job.verifying || !bits.has(job.index) || !canRequest(job.index) || job.exclusiveTo)
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
    for (const s of this.deps.sessions()) {
      if (s === except || !s.outstanding.has(key)) continue;
      s.outstanding.delete(key);
      job.released(b);
      s.wire.sendMessage({
        type: 'cancel',
        index: job.index,
        begin: b * BLOCK_BYTES,
        length: job.blockLength(b),
      });
    }
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
      if (!job.verifying && job.idle) this.jobs.delete(job.index);
    }
  }
}
