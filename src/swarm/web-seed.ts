import { copyBytes } from '../runtime/page-arena.js';
import type { Clock, HttpClient, RandomSource } from '../runtime/runtime.js';
import type { TokenBucket } from '../shared/rate.js';
import type { PieceLayout } from '../storage/layout.js';
import type { StreamDeadlines } from './deadlines.js';
import type { PeerSession } from './peer-session.js';
import { type BufferPool, PieceJob, type PieceOrigin } from './piece-job.js';
import type { PiecePicker } from './piece-picker.js';

/** Bytes a web seed may have requested and not yet received, about (whole pieces). */
const IN_FLIGHT_BYTES = 2 * 1024 * 1024;
const MAX_IN_FLIGHT_PIECES = 16;
/** How long one range request may take. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Back-off after the first failure, doubling with each failure in a row, up to the maximum. */
const FIRST_BACKOFF_MS = 2000;
const MAX_BACKOFF_MS = 10 * 60_000;
/**
 * While a stream is open the web seed gives only what peers cannot give in time: a piece due
 * within the near horizon that no unchoking peer has, within the far horizon that no connected
 * peer has (the viewer ahead of all others fetches its readahead from the origin), or one this
 * late (and not started by peers).
 */
const NEAR_HORIZON_MS = 3000;
const FAR_HORIZON_MS = 10_000;
const LATE_MS = 1000;
/** A server that ignores `Range` may send a whole file this small instead (sliced here). */
const MAX_WHOLE_FILE_BYTES = 4 * 1024 * 1024;

/** Where a web seed stands. */
export type WebSeedState = 'active' | 'backing-off' | 'dropped';

/** A web seed's status, for stats and UIs. */
export interface WebSeedStatus {
  readonly url: string;
  readonly state: WebSeedState;
  /** Bytes received from it. */
  readonly bytes: number;
  /** Failures in a row (requests that failed or answered wrongly). */
  readonly failures: number;
  /** Why it was last backed off or dropped. */
  readonly error: string | null;
}

/** The torrent's name and file layout, as URLs need them. */
export interface WebSeedTorrent {
  readonly name: string;
  readonly singleFile: boolean;
}

/** What a web seed needs from its torrent. */
export interface WebSeedDeps {
  readonly torrent: WebSeedTorrent;
  readonly layout: PieceLayout;
  readonly http: HttpClient;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly picker: PiecePicker;
  readonly deadlines: StreamDeadlines;
  readonly buffers: BufferPool;
  /** Pieces in progress (shared with the peers' request scheduler). */
  readonly jobs: Map<number, PieceJob>;
  readonly sessions: () => Iterable<PeerSession>;
  readonly downloading: () => boolean;
  readonly canVerify: (index: number) => boolean;
  readonly isWriting: (index: number) => boolean;
  readonly bucket: TokenBucket;
  readonly globalBucket: TokenBucket;
  /** Every byte of `job` arrived: verify and write it like any other piece. */
  readonly pieceComplete: (job: PieceJob) => void;
  /** Bytes arrived from a web seed. */
  readonly received: (bytes: number) => void;
  readonly warn: (message: string) => void;
  /** Source address to send from (the node's listen address), if not "any". */
  readonly localAddress?: string;
}

/** A web seed answered in a way we cannot use. */
class WebSeedReplyError extends Error {}

/**
 * An HTTP server holding the torrent's files (BEP 19 `url-list`), used as a peer that has every
 * piece: it fetches whole pieces with `Range` requests for the byte ranges of the files they
 * span (`<url>/<name>/<path>` for a multi-file torrent), through the runtime's HTTP client (so
 * the egress policy applies), and hands them to the same verification as pieces from peers.
 * To spare the origin it takes only what peers cannot give: pieces no connected peer has, and,
 * while a stream is open, only the stream's pieces due within seconds that no unchoking peer
 * has, or that are late and not started from peers. A request that fails backs it off
 * (doubling up to ten minutes); a piece that fails its hash check drops it for good.
 */
export class WebSeed implements PieceOrigin {
  private stateNow: WebSeedState = 'active';
  private failures = 0;
  private retryAt = 0;
  private bytes = 0;
  private error: string | null = null;
  private readonly inFlight = new Set<number>();

  constructor(
    readonly url: string,
    private readonly deps: WebSeedDeps,
  ) {}

  /** Where it stands. */
  get state(): WebSeedState {
    if (this.stateNow === 'backing-off' && this.deps.clock.now() >= this.retryAt)
      this.stateNow = 'active';
    return this.stateNow;
  }

  status(): WebSeedStatus {
    return {
      url: this.url,
      state: this.state,
      bytes: this.bytes,
      failures: this.failures,
      error: this.error,
    };
  }

  /** Starts fetching whatever it should now, up to its in-flight budget. */
  kick(): void {
    const d = this.deps;
    const budget = Math.max(
      1,
      Math.min(MAX_IN_FLIGHT_PIECES, Math.floor(IN_FLIGHT_BYTES / d.layout.pieceLength)),
    );
    while (this.state === 'active' && this.inFlight.size < budget && d.downloading()) {
      if (!d.bucket.tryTake(0)) return;
      if (!d.globalBucket.unlimited && d.globalBucket.delayFor(1) > 0) return;
      const index = this.choose();
      if (index < 0) return;
      const size = d.layout.pieceSize(index);
      const job = new PieceJob(index, size, d.buffers.take(size));
      job.origin = this;
      d.jobs.set(index, job);
      this.inFlight.add(index);
      void this.fetch(job);
    }
  }

  /** Verification's verdict on a piece it sent. */
  pieceChecked(index: number, ok: boolean): void {
    if (ok) {
      this.failures = 0;
      return;
    }
    this.stateNow = 'dropped';
    this.error = `piece ${index} failed its hash check`;
    this.deps.warn(`web seed ${this.url} dropped: it sent piece ${index} with wrong data`);
  }

  /**
   * The next piece to fetch from it, or -1. While a stream is open: a piece due soon that no
   * unchoking peer has, or a late one, so viewers serve each other and the origin fills gaps.
   * Otherwise a piece no connected peer has.
   */
  private choose(): number {
    const d = this.deps;
    const free = (i: number) => !d.jobs.has(i) && !d.isWriting(i) && d.canVerify(i);
    if (d.deadlines.active) {
      const now = d.clock.now();
      for (const { index, deadline } of d.deadlines.pieces()) {
        const due = deadline - now;
        if (due > FAR_HORIZON_MS) break; // nearest first: the rest is later still
        if (!free(index)) continue;
        if (d.picker.availability[index] === 0) return index;
        if (due <= -LATE_MS || (due <= NEAR_HORIZON_MS && !this.unchokedPeerHas(index)))
          return index;
      }
      return -1;
    }
    const n = d.layout.pieceCount;
    if (n === 0) return -1;
    const start = d.picker.mode === 'sequential' ? 0 : d.random.int(n);
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n;
      if (d.picker.availability[i] === 0 && d.picker.wants(i) && free(i)) return i;
    }
    return -1;
  }

  private unchokedPeerHas(index: number): boolean {
    for (const s of this.deps.sessions())
      if (!s.closed && !s.wire.peerChoking && s.bits?.has(index)) return true;
    return false;
  }

  private async fetch(job: PieceJob): Promise<void> {
    const d = this.deps;
    try {
      await this.fill(job);
    } catch (error) {
      this.inFlight.delete(job.index);
      if (d.jobs.get(job.index) === job) d.jobs.delete(job.index);
      d.buffers.give(job.memory);
      this.backOff((error as Error).message);
      return;
    }
    this.inFlight.delete(job.index);
    if (d.jobs.get(job.index) !== job || !d.downloading()) {
      if (d.jobs.get(job.index) === job) d.jobs.delete(job.index);
      return;
    }
    job.received.fill(1);
    job.receivedCount = job.blockCount;
    d.pieceComplete(job);
    this.kick();
  }

  /** Fetches every file segment of `job`'s piece into its buffer (padding stays zeros). */
  private async fill(job: PieceJob): Promise<void> {
    const d = this.deps;
    const offset = job.index * d.layout.pieceLength;
    let at = 0;
    for (const seg of d.layout.segments(offset, job.size)) {
      if (seg.padding) {
        job.view.fill(0, at, at + seg.length);
      } else {
        const file = d.layout.files[seg.fileIndex]!;
        const body = await this.getRange(
          this.fileUrl(seg.fileIndex),
          seg.fileOffset,
          seg.length,
          file.length,
        );
        copyBytes(job.view, body, at);
        this.bytes += body.length;
        d.received(body.length);
        d.bucket.tryTake(body.length);
        d.globalBucket.tryTake(body.length);
      }
      at += seg.length;
    }
  }

  /** `length` bytes of the file at `url` from `from`. @throws {WebSeedReplyError} */
  private async getRange(
    url: string,
    from: number,
    length: number,
    fileLength: number,
  ): Promise<Uint8Array> {
    const whole = fileLength <= MAX_WHOLE_FILE_BYTES;
    const res = await this.deps.http.get(url, {
      timeoutMs: REQUEST_TIMEOUT_MS,
      maxBytes: whole ? Math.max(length, fileLength) : length,
      headers: { range: `bytes=${from}-${from + length - 1}` },
      ...(this.deps.localAddress !== undefined && { localAddress: this.deps.localAddress }),
    });
    if (res.status === 206 && res.body.length === length) return res.body;
    if (res.status === 200 && res.body.length === fileLength)
      return res.body.subarray(from, from + length);
    throw new WebSeedReplyError(
      `${url} answered HTTP ${res.status} with ${res.body.length} bytes for ${length} at ${from}`,
    );
  }

  /** The URL of file `fileIndex` (BEP 19: a folder URL gets the name, and the path below it). */
  private fileUrl(fileIndex: number): string {
    const t = this.deps.torrent;
    const enc = (part: string) => encodeURIComponent(part);
    if (t.singleFile) return this.url.endsWith('/') ? this.url + enc(t.name) : this.url;
    const base = this.url.endsWith('/') ? this.url : `${this.url}/`;
    const path = this.deps.layout.files[fileIndex]!.path.map(enc).join('/');
    return `${base}${enc(t.name)}/${path}`;
  }

  private backOff(reason: string): void {
    // Requests in flight together fail together: one failure in a row, not several.
    if (this.stateNow !== 'active') return;
    this.failures++;
    const wait = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (this.failures - 1));
    this.retryAt = this.deps.clock.now() + wait;
    this.stateNow = 'backing-off';
    this.error = reason;
    this.deps.warn(
      `web seed ${this.url} failed (${reason}); retrying in ${Math.round(wait / 1000)} s`,
    );
  }
}
