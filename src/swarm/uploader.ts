import type { Bitfield } from '../codec/bitfield.js';
import type { Timers } from '../runtime/runtime.js';
import type { RateMeter, TokenBucket } from '../shared/rate.js';
import type { PieceLayout } from '../storage/layout.js';
import type { TorrentStorage } from '../storage/torrent-storage.js';
import { WireError } from '../wire/errors.js';
import type { BlockRef } from '../wire/messages.js';
import { chooseUnchoked, pickNeediest, pickOptimistic, rotateSeedSlots } from './choker.js';
import type { PeerSession } from './peer-session.js';
import { PieceCache } from './piece-cache.js';
import { BLOCK_BYTES, type BufferPool } from './piece-job.js';
import { SendBacklog } from './send-backlog.js';

/** Largest block a peer may request (16 KiB is usual; some clients ask for more). */
const MAX_REQUEST_BYTES = 128 * 1024;
const OPTIMISTIC_INTERVAL_MS = 30_000;
/**
 * An unchoked peer that has asked for nothing this long, with nothing of ours on its way to it,
 * gives its slot to another. In a flash crowd most unchoked peers are fetching everything we
 * could give them elsewhere: in the simulator's 1,000-leecher crowd, only 2-3 of a leecher's 8
 * slots carried data in the first minute. One second is several round trips.
 */
const IDLE_SLOT_MS = 1000;
/** How many less-sent pieces a seed suggests when it refuses a request. */
const SUGGESTIONS = 3;
/**
 * Requests beyond our `reqq` a peer may send before it counts as a flooder: a client that
 * keeps to the limit we advertised never sends any, so a little slack covers races only.
 */
const MAX_OVER_QUEUE = 16;
/** How long a misbehaving downloader stays choked. */
const PENALTY_MS = 30_000;
/** A peer whose socket has not drained for this long does not read: its slot goes to another. */
const STUCK_MS = 30_000;
/** Requests refused in a row (for scarcer pieces) before a peer is served what it asks. */
const MAX_REFUSALS_IN_A_ROW = 256;
/**
 * A seed's upload slots go round: a turn ends once this much has been sent (or one piece, if
 * larger) or after {@link SEED_TURN_MS}, whichever comes first. Small enough that a fast seed
 * goes round a crowd of hundreds many times a minute (fair shares over short spans), large
 * enough that the choke and unchoke messages and the restart of each pipeline cost little.
 */
const SEED_TURN_BYTES = 4 * 1024 * 1024;
/**
 * The longest turn of a seed's upload slot, for slow links (where the bytes take long). In the
 * simulator's flash crowds of 30-60 leechers behind a 1 Mbit/s seed, 60 s turns finish as fast
 * as the old fastest-upload choker did, while 10-20 s turns were 5-10 % slower.
 */
const SEED_TURN_MS = 60_000;
/**
 * A rate-limited seed serves the first copy of a piece before a second copy of another (see
 * {@link Uploader.yieldsToFirstCopies}); a peer asking for a second copy waits at most this
 * many blocks' time in a row, so it is slowed, never starved (a streaming reader may ask only
 * for pieces others are getting too).
 */
const MAX_YIELDS_IN_A_ROW = 8;
/** Blocks kept in sockets, not yet gone out ({@link SendBacklog}): this long at our rate… */
const BACKLOG_SECONDS = 1;
/** …and never fewer blocks than this. */
const MIN_BACKLOG_BLOCKS = 8;
/** Longest wait for room in the backlog before looking again. */
const BACKLOG_WAIT_MS = 250;

/** What the uploader needs from its torrent. */
export interface UploaderDeps {
  readonly layout: PieceLayout;
  readonly storage: TorrentStorage;
  readonly timers: Timers;
  readonly now: () => number;
  readonly random: (n: number) => number;
  readonly have: Bitfield;
  /** How many connected peers have each piece. */
  readonly availability: Uint32Array;
  /** True for v2-only torrents (their last piece may be requested up to full length). */
  readonly v2Only: boolean;
  readonly seeding: () => boolean;
  readonly paused: () => boolean;
  readonly sessions: () => Iterable<PeerSession>;
  readonly drop: (session: PeerSession, error: Error) => void;
  readonly warn: (message: string) => void;
  /** Torrent-wide and node-wide upload limits, and the torrent's upload meter. */
  readonly bucket: TokenBucket;
  readonly globalBucket: TokenBucket;
  readonly meter: Pick<RateMeter, 'add' | 'bytesPerSecond'>;
  readonly uploadSlots: number;
  readonly maxIncomingRequests: number;
  readonly pieceCacheBytes: number;
  /** Where piece buffers come from and go back to (shared with the download side). */
  readonly buffers: BufferPool;
}

/**
 * The upload half of a swarm: validates and queues peers' requests, serves blocks from a small
 * cache of whole pieces within the rate limits, and decides who is unchoked (BEP 3 choking:
 * reciprocation and one optimistic slot while leeching, round robin while seeding). As a seed
 * it spreads pieces: each goes out once before any goes out twice, then the scarcest first
 * (BEP 6 reject and suggest).
 */
export class Uploader {
  private readonly cache: PieceCache;
  /** Sessions we unchoked and have not choked since (nor lost): counted on every `interested`. */
  private readonly unchoked = new Set<PeerSession>();
  private readonly timesSent: Uint16Array;
  /** Per piece, the session that is getting its first copy from us (-1: none). */
  private readonly firstCopyTo: Int32Array;
  private optimistic: number | undefined;
  private lastOptimisticAt = Number.NEGATIVE_INFINITY;
  /** Bytes of a seed's turn in an upload slot. */
  private readonly turnQuota: number;
  private readonly backlog: SendBacklog<PeerSession>;

  constructor(private readonly deps: UploaderDeps) {
    this.cache = new PieceCache(deps.layout, deps.storage, deps.buffers, deps.pieceCacheBytes);
    this.timesSent = new Uint16Array(deps.layout.pieceCount);
    this.firstCopyTo = new Int32Array(deps.layout.pieceCount).fill(-1);
    this.turnQuota = Math.max(SEED_TURN_BYTES, deps.layout.pieceLength);
    this.backlog = new SendBacklog(deps.timers);
  }

  /** Handles a `request`. @throws {WireError} for invalid requests and floods */
  onRequest(session: PeerSession, r: BlockRef): void {
    const valid =
      r.index < this.deps.layout.pieceCount &&
      r.length > 0 &&
      r.length <= MAX_REQUEST_BYTES &&
      r.begin + r.length <= this.requestableSize(r.index);
    if (!valid) throw new WireError(`invalid request ${r.index}:${r.begin}+${r.length}`);
    if (!this.deps.have.has(r.index) || session.wire.amChoking || this.deps.paused()) {
      if (++session.requestsWhileChoked > this.deps.maxIncomingRequests)
        throw new WireError('request flood while choked');
      if (session.fast) reject(session, r);
      return;
    }
    if (session.incoming.length >= this.deps.maxIncomingRequests) {
      // Beyond the queue we advertised (reqq): refused; a peer that keeps at it is choked for a
      // while, so request floods cannot crowd out the peers that keep to the limit.
      if (session.fast) reject(session, r);
      if (++session.overQueue >= MAX_OVER_QUEUE)
        this.penalise(session, 'it ignores our request queue limit');
      return;
    }
    if (!session.seedAccepted.has(r.index)) {
      // A peer that will not take the pieces we suggest (a sequential or streaming reader,
      // a client without BEP 6 suggest) is served what it asks from the end of a run of
      // refusals on: no leecher may starve next to a seed that has what it lacks.
      if (session.refusedInARow >= MAX_REFUSALS_IN_A_ROW) session.ignoresSuggestions = true;
      const better = session.ignoresSuggestions ? [] : this.scarcerPieces(session, r.index);
      if (better.length > 0) {
        session.refusedInARow++;
        for (const q of better) session.wire.sendMessage({ type: 'suggest', index: q });
        reject(session, r);
        return;
      }
      // Once a peer gets part of a piece, the rest of that piece is never refused.
      session.refusedInARow = 0;
      session.seedAccepted.add(r.index);
      if (this.timesSent[r.index] === 0) this.firstCopyTo[r.index] = session.id;
      this.timesSent[r.index] = Math.min(65535, this.timesSent[r.index]! + 1);
    }
    session.lastRequestAt = this.deps.now();
    session.incoming.push({ index: r.index, begin: r.begin, length: r.length });
    void this.serve(session);
  }

  /** Handles a `cancel`: forgets the request if it is still queued. */
  onCancel(session: PeerSession, r: BlockRef): void {
    const i = session.incoming.findIndex(
      (q) => q.index === r.index && q.begin === r.begin && q.length === r.length,
    );
    if (i < 0) return;
    session.incoming.splice(i, 1);
    if (session.fast) reject(session, r);
  }

  /** A peer became interested: unchoke it at once if a slot is free. */
  onInterested(session: PeerSession): void {
    if (session.penaltyUntil > this.deps.now()) return;
    if (this.unchoked.size < this.deps.uploadSlots) this.unchoke(session);
  }

  /**
   * A peer lost interest. While we leech, its slot goes at once to a peer that waits for one:
   * kept until the next rechoke, it would be upload capacity nobody uses (in a flash crowd's
   * first seconds, most idle slots were held by peers no longer interested). A seed's turns
   * end on their own within a second ({@link rotate}).
   */
  onNotInterested(session: PeerSession): void {
    if (session.wire.amChoking || this.deps.seeding()) return;
    this.passSlot(session, this.pickWaiting(this.deps.now()));
  }

  /**
   * A peer left. The copies we gave it left with it: pieces it passed on are counted by the
   * availability of the peers that have them now, so they no longer count as sent (else a seed
   * whose leechers come and go would refuse pieces nobody has, for good).
   */
  forget(session: PeerSession): void {
    this.unchoked.delete(session);
    if (this.optimistic === session.id) this.optimistic = undefined;
    for (const i of session.seedAccepted) {
      if (this.timesSent[i]! > 0) this.timesSent[i]!--;
      if (this.firstCopyTo[i] === session.id) this.firstCopyTo[i] = -1;
    }
    session.seedAccepted.clear();
    this.backlog.drop(session);
  }

  /** Serves queued requests until the queue empties, the socket fills or the peer is choked. */
  async serve(session: PeerSession): Promise<void> {
    if (session.serving) return;
    session.serving = true;
    let batch = 0;
    try {
      while (
        !session.closed &&
        !session.congested &&
        session.incoming.length > 0 &&
        !session.wire.amChoking
      ) {
        const r = session.incoming[0]!;
        const wait = Math.max(
          this.deps.bucket.delayFor(r.length),
          this.deps.globalBucket.delayFor(r.length),
        );
        if (wait > 0) {
          await this.sleep(wait);
          continue;
        }
        const starts = r.index !== session.sendingPiece;
        if (!this.backlogHasRoom() || (starts && !this.backlog.isTurnOf(session))) {
          await this.backlog.wait(session, BACKLOG_WAIT_MS, starts);
          continue;
        }
        if (this.yieldsToFirstCopies(session, r)) {
          session.yieldsInARow++;
          await this.sleep(this.blockTimeMs(r.length));
          continue;
        }
        session.yieldsInARow = 0;
        session.incoming.shift();
        session.sendingPiece = r.index;
        // Counted from here: other loops see it while we read.
        this.backlog.add(session, session.incoming[0]?.index === r.index);
        // Cached pieces are served without yielding, so a run of blocks leaves in one write;
        // every 64 blocks we yield so the socket can report congestion. The piece is in use
        // from here until its block is flushed (or the loop gives up on it).
        let entry = this.cache.get(r.index);
        if (entry?.buffer === undefined || ++batch % 64 === 0) {
          entry = this.cache.read(r.index);
          this.cache.readAhead(session.incoming, r.index);
          entry.users++;
          try {
            await entry.data;
          } catch (error) {
            this.cache.release(entry);
            throw error;
          }
          if (session.closed || session.wire.amChoking) {
            this.cache.release(entry);
            this.backlog.remove(session);
            break;
          }
        } else entry.users++;
        this.deps.bucket.tryTake(r.length);
        this.deps.globalBucket.tryTake(r.length);
        let block = entry.buffer!.subarray(r.begin, r.begin + r.length);
        // Past the data of a v2 torrent's last piece: the implied tail padding, all zeros.
        if (block.length < r.length)
          block = Buffer.concat([block, Buffer.alloc(r.length - block.length)]);
        const used = entry;
        session.unflushedBlocks++;
        session.wire.sendPiece(r.index, r.begin, block, () => {
          session.unflushedBlocks--;
          this.backlog.remove(session);
          this.cache.release(used);
        });
        session.upload.add(r.length);
        session.lastPayloadAt = this.deps.now();
        this.deps.meter.add(r.length);
        session.turnBytes += r.length;
        if (session.turnBytes >= this.turnQuota && this.deps.seeding())
          this.rotate(session.lastPayloadAt);
      }
    } catch (error) {
      this.deps.drop(session, error as Error);
    } finally {
      session.serving = false;
      this.backlog.leave(session);
    }
  }

  /**
   * True while another block may go to a socket ({@link SendBacklog}). The blocks of a peer
   * whose socket is full are not counted: it drains at its own pace (or not at all, if it does
   * not read), and holds no one back.
   */
  private backlogHasRoom(): boolean {
    // The common case costs no rate reading: well under the smallest budget.
    if (this.backlog.size < MIN_BACKLOG_BLOCKS) return true;
    const budget = Math.max(
      MIN_BACKLOG_BLOCKS,
      Math.ceil((this.deps.meter.bytesPerSecond * BACKLOG_SECONDS) / BLOCK_BYTES),
    );
    return this.backlog.hasRoom(budget, (s) => !s.closed && !s.congested);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => this.deps.timers.setTimeout(resolve, ms));
  }

  /**
   * True when a rate-limited seed should hold back a second copy of a piece (`r`, asked by
   * `session`) because another unchoked peer waits for the first copy of one. When the limit is
   * what holds the swarm back, every byte spent on a copy some peer could fetch from another
   * delays the pieces only we have: at the end of a download, every leecher asks us for the
   * last pieces (endgame) and the first copies went out at a fraction of our rate, while the
   * others could have fetched them from the first receivers at once.
   */
  private yieldsToFirstCopies(session: PeerSession, r: BlockRef): boolean {
    const limited = !this.deps.bucket.unlimited || !this.deps.globalBucket.unlimited;
    if (!limited || !this.deps.seeding() || session.yieldsInARow >= MAX_YIELDS_IN_A_ROW)
      return false;
    if (this.firstCopyTo[r.index] === session.id) return false;
    for (const s of this.unchoked) {
      const head = s.incoming[0];
      if (
        s !== session &&
        head &&
        !s.closed &&
        !s.congested &&
        this.firstCopyTo[head.index] === s.id
      )
        return true;
    }
    return false;
  }

  /** How long `bytes` take at the tightest upload limit, in whole milliseconds (at least 1). */
  private blockTimeMs(bytes: number): number {
    const rates = [this.deps.bucket, this.deps.globalBucket]
      .filter((b) => !b.unlimited)
      .map((b) => b.bytesPerSecond);
    return Math.max(1, Math.ceil((bytes * 1000) / Math.min(...rates)));
  }

  /**
   * Chokes a misbehaving downloader for {@link PENALTY_MS} and gives its slot to a peer that
   * waits: one that floods requests beyond our limit, or whose socket has not drained for
   * {@link STUCK_MS} (it does not read what we send).
   */
  private penalise(session: PeerSession, reason: string): void {
    const now = this.deps.now();
    if (session.penaltyUntil > now) return;
    session.penaltyUntil = now + PENALTY_MS;
    session.overQueue = 0;
    const held = !session.wire.amChoking;
    this.choke(session);
    this.deps.warn(`choked ${session.address} for ${PENALTY_MS / 1000} s: ${reason}`);
    const next = held ? this.pickWaiting(now) : undefined;
    if (next) this.unchoke(next);
  }

  /** True for a peer that waits for an upload slot: interested, choked, not serving a penalty. */
  private waits(s: PeerSession, now: number): boolean {
    return (
      s.handshake !== undefined &&
      !s.closed &&
      s.wire.amChoking &&
      s.wire.peerInterested &&
      s.penaltyUntil <= now
    );
  }

  /** The peer that should get a slot handed on now ({@link pickNext}), if any waits. */
  private pickWaiting(now: number): PeerSession | undefined {
    return this.pickNext([...this.deps.sessions()].filter((s) => this.waits(s, now)));
  }

  /**
   * Among peers that wait for a slot, the one that lacks most of what we have
   * ({@link pickNeediest}), preferring those that give us data now (they unchoke us and
   * something arrives): a leecher connected to many peers gives to many and, ranked among
   * everyone's other peers, is seldom paid back by the rechoke; a slot handed on between
   * rechokes pays it (1,000-leecher crowd: last leecher 1.184 -> 1.161 x T_min).
   */
  private pickNext(waiting: readonly PeerSession[]): PeerSession | undefined {
    const giving = waiting.filter((s) => !s.wire.peerChoking && s.download.bytesPerSecond > 0);
    return pickNeediest(this.deps.have, this.deps.random, giving.length > 0 ? giving : waiting);
  }

  /** Chokes `from` and gives its slot, the optimistic one included, to `to`. */
  private passSlot(from: PeerSession, to: PeerSession | undefined): void {
    if (this.optimistic === from.id) this.optimistic = to?.id;
    this.choke(from);
    if (to) this.unchoke(to);
  }

  /**
   * Re-decides who is unchoked (every 10 s): while leeching, the peers that give us most and an
   * optimistic slot that rotates every 30 s; while seeding, the slots go round (see
   * {@link rotate}).
   */
  rechoke(now: number): void {
    if (this.deps.seeding()) {
      this.rotate(now);
      return;
    }
    const live = [...this.deps.sessions()].filter((s) => s.handshake && !s.closed);
    const candidates = live.map((s) => ({
      id: s.id,
      interested: s.wire.peerInterested && s.penaltyUntil <= now,
      downloadRate: s.download.bytesPerSecond,
      snubbed: s.snubbed,
      owed: s.download.total - s.upload.total,
    }));
    const regular = chooseUnchoked(candidates, this.deps.uploadSlots - 1, undefined);
    const known = live.some((s) => s.id === this.optimistic);
    if (
      now - this.lastOptimisticAt >= OPTIMISTIC_INTERVAL_MS ||
      this.optimistic === undefined ||
      !known
    ) {
      this.optimistic = pickOptimistic(candidates, regular, this.deps.random);
      this.lastOptimisticAt = now;
    }
    if (this.optimistic !== undefined) regular.add(this.optimistic);
    for (const s of live) {
      if (regular.has(s.id)) this.unchoke(s);
      else this.choke(s);
    }
  }

  /**
   * Gives the slot of an unchoked peer that is idle ({@link idle}) to the interested peer we
   * choke that lacks most of what we have ({@link pickNeediest}; checked every second): when
   * pieces are scarce, peers we unchoke are often fetching everything we could give them
   * elsewhere, and a slot nobody uses is upload capacity lost until the next rechoke. A seed
   * ends the turns that are over.
   */
  reassignIdleSlots(): void {
    const now = this.deps.now();
    const live = [...this.deps.sessions()].filter((s) => s.handshake && !s.closed);
    const waiting = live.filter((s) => this.waits(s, now));
    // A slot held by a peer that reads nothing is taken back when others wait for one.
    if (waiting.length > 0)
      for (const s of live)
        if (!s.wire.amChoking && s.congested && now - s.congestedAt > STUCK_MS)
          this.penalise(s, 'it does not read what we send');
    if (this.deps.seeding()) {
      this.rotate(now);
      return;
    }
    if (waiting.length === 0) return;
    for (const s of live) {
      if (waiting.length === 0) break;
      if (s.wire.amChoking || !this.idle(s, now)) continue;
      const next = this.pickNext(waiting)!;
      waiting.splice(waiting.indexOf(next), 1);
      this.passSlot(s, next);
    }
  }

  /**
   * Seeding: hands the upload slots round ({@link rotateSeedSlots}). A turn is over once it
   * sent {@link turnQuota} bytes (checked as blocks go out), lasted {@link SEED_TURN_MS}, or
   * the peer is {@link quiet}; a peer whose turn is over but whom nobody waits to replace
   * starts a new one. Unlike a leecher's slots ({@link idle}), a turn ends while its last blocks
   * are still on their way: they still arrive, and the seed's first copies reach more peers
   * sooner (1,000-leecher crowd: 1.221 -> 1.199 x T_min).
   */
  private rotate(now: number): void {
    const live = [...this.deps.sessions()].filter((s) => s.handshake && !s.closed);
    const over = (s: PeerSession) =>
      s.turnBytes >= this.turnQuota || now - s.turnStartedAt >= SEED_TURN_MS || this.quiet(s, now);
    const chosen = rotateSeedSlots(
      live.map((s) => ({
        id: s.id,
        interested: s.wire.peerInterested && s.penaltyUntil <= now,
        unchoked: !s.wire.amChoking,
        turnOver: !s.wire.amChoking && over(s),
        lastTurnEndedAt: s.lastTurnEndedAt,
      })),
      this.deps.uploadSlots,
    );
    // Chokes first, so that no more than the slots are ever unchoked.
    for (const s of live) if (!chosen.has(s.id)) this.choke(s);
    for (const s of live) {
      if (!chosen.has(s.id)) continue;
      if (s.wire.amChoking) this.unchoke(s);
      else if (over(s)) {
        s.turnStartedAt = now;
        s.turnBytes = 0;
      }
    }
  }

  /** True when `s` has nothing queued and has asked for nothing for {@link IDLE_SLOT_MS}. */
  private quiet(s: PeerSession, now: number): boolean {
    return s.incoming.length === 0 && now - s.lastRequestAt > IDLE_SLOT_MS;
  }

  /** True when `s` is {@link quiet} and nothing we sent it is still on its way. */
  private idle(s: PeerSession, now: number): boolean {
    return this.quiet(s, now) && s.unflushedBlocks === 0;
  }

  /**
   * Bytes of piece `index` a peer may request. v2-only torrents align every file to a piece
   * boundary, and libtorrent (2.0.4+) pads the last file too, so it asks for whole blocks of
   * the torrent's last piece that run into that implied tail padding; BEP 47 says requests
   * covering padding must be served (with zeros).
   */
  private requestableSize(index: number): number {
    return this.deps.v2Only ? this.deps.layout.pieceLength : this.deps.layout.pieceSize(index);
  }

  /**
   * A seed's upload is the swarm's scarcest resource, so it goes to the scarcest pieces. A
   * piece's copies are what we know of: how often we sent it, or how many connected peers
   * have it, whichever is more. A request for a piece with at least twice the copies (plus
   * one) of some piece the peer lacks is refused (BEP 6 reject), with up to
   * {@link SUGGESTIONS} of the scarcest such pieces suggested in its place. So every piece goes
   * out once before any goes out twice, and later the seed feeds what the swarm lacks most.
   * Returns the pieces to suggest, or none to serve the request.
   */
  private scarcerPieces(session: PeerSession, index: number): number[] {
    const copies = (i: number) => Math.max(this.timesSent[i]!, this.deps.availability[i]!);
    const asked = copies(index);
    // What a peer has is known whole only if it knew us as a seed from the start.
    const seeding = this.deps.seeding() && session.seedAtHandshake;
    if (!seeding || !session.fast || asked === 0 || !session.bits) return [];
    const bits = session.bits;
    const n = this.deps.layout.pieceCount;
    let least = Number.POSITIVE_INFINITY;
    let found: number[] = [];
    let seen = 0;
    // One pass from a random start; reservoir sampling keeps the suggestions spread.
    const start = this.deps.random(n);
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n;
      // A piece the peer is already getting from us is no alternative to suggest.
      if (bits.has(i) || session.seedAccepted.has(i)) continue;
      const c = copies(i);
      if (2 * c >= asked || c > least) continue;
      if (c < least) {
        least = c;
        found = [];
        seen = 0;
      }
      seen++;
      if (found.length < SUGGESTIONS) found.push(i);
      else {
        const j = this.deps.random(seen);
        if (j < SUGGESTIONS) found[j] = i;
      }
    }
    return found;
  }

  /** Caches a piece that was just verified (see {@link PieceCache.keep}). */
  keep(index: number, memory: Uint8Array, written: Promise<unknown>): void {
    this.cache.keep(index, memory, written);
  }

  private unchoke(session: PeerSession): void {
    if (session.closed || !session.handshake || !session.wire.amChoking) return;
    session.requestsWhileChoked = 0;
    session.lastRequestAt = this.deps.now();
    session.turnStartedAt = session.lastRequestAt;
    session.turnBytes = 0;
    session.announceHeld(); // what it may ask for, first
    session.wire.sendMessage({ type: 'unchoke' });
    this.unchoked.add(session);
  }

  private choke(session: PeerSession): void {
    if (session.closed || session.wire.amChoking) return;
    session.lastTurnEndedAt = this.deps.now();
    session.wire.sendMessage({ type: 'choke' });
    this.unchoked.delete(session);
    if (session.fast) for (const r of session.incoming) reject(session, r);
    session.incoming.length = 0;
  }
}

/**
 * Refuses a request (BEP 6). The fields are copied one by one: `r` may be the decoded request
 * message itself, whose own `type` would win over a spread.
 */
function reject(session: PeerSession, r: BlockRef): void {
  session.wire.sendMessage({ type: 'reject', index: r.index, begin: r.begin, length: r.length });
}
