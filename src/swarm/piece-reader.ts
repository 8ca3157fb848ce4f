import type { Clock } from '../runtime/runtime.js';
import type { StreamPosition } from './deadlines.js';

/** The bitrate assumed until a reader has been read for a while: 4 Mbit/s. */
export const DEFAULT_STREAM_BYTES_PER_SECOND = 500_000;
/** The measured bitrate is kept within these bounds (a burst read from cache is no bitrate). */
const MIN_BYTES_PER_SECOND = 32_000;
const MAX_BYTES_PER_SECOND = 4_000_000;
/** The bitrate is measured over the reads of about this long. */
const RATE_WINDOW_MS = 10_000;
/** ... once they span at least this long. */
const MIN_RATE_SPAN_MS = 2000;
/** Bytes handed out per read, at most (reads never cross a piece boundary either). */
const MAX_CHUNK_BYTES = 256 * 1024;
/** The window follows the read position at most this often within a piece. */
const MOVE_INTERVAL_MS = 500;
/** {@link PieceReader.bufferedAhead} looks this many pieces ahead at most. */
const MAX_BUFFER_SCAN_PIECES = 4096;

/** What a reader needs from its torrent. */
export interface ReaderHost {
  readonly pieceLength: number;
  readonly clock: Clock;
  /** True when piece `index` is verified (and so may be read). */
  hasPiece(index: number): boolean;
  /**
   * Settles when piece `index` is verified; rejects when the torrent stops. `cancel` settles it
   * at once (the reader was closed).
   */
  waitForPiece(index: number): { readonly done: Promise<void>; cancel(): void };
  /** Reads verified bytes of the torrent's stream (the caller owns the buffer returned). */
  readVerified(offset: number, length: number): Promise<Uint8Array>;
  /** Opens, moves and closes the reader's deadline window. */
  openWindow(at: StreamPosition): number;
  moveWindow(id: number, at: StreamPosition): void;
  closeWindow(id: number): void;
}

/** Where a reader reads. */
export interface PieceReaderOptions {
  /** Stream offset of the first byte. */
  readonly start: number;
  /** Stream offset just past the last byte. */
  readonly end: number;
  /** The media's bitrate, when known; otherwise measured from how fast the reader is read. */
  readonly bytesPerSecond?: number;
}

interface ReadSample {
  readonly at: number;
  readonly bytes: number;
}

/**
 * Reads a range of a torrent while it downloads: each read waits until the piece under the read
 * position is verified, then hands out verified bytes only. The reader keeps a deadline window
 * at its read position (see `StreamDeadlines`), sized from the rate it is read at over the last
 * seconds (a player past its start-up buffer reads at the media's bitrate; one that reads as
 * fast as it can, at the download rate), so the pieces it needs next are fetched first.
 * Reads are pulled, one at a time, so a slow consumer is back-pressure: nothing is read ahead of
 * it but the window's downloads. Closing drops the window (its urgency) and ends a waiting read.
 * Free of `node:stream`; `toReadable` adapts it.
 */
export class PieceReader {
  private pos: number;
  private readonly windowId: number;
  private closed = false;
  private wait: { readonly done: Promise<void>; cancel(): void } | undefined;
  private samples: ReadSample[] = [];
  private movedAt: number;
  private movedPiece: number;
  /** Reads that had to wait for a piece, and for how long in all. */
  stalls = 0;
  stalledMs = 0;

  constructor(
    private readonly host: ReaderHost,
    private readonly options: PieceReaderOptions,
  ) {
    this.pos = options.start;
    this.movedAt = host.clock.now();
    this.movedPiece = this.pieceAt(this.pos);
    this.windowId = host.openWindow(this.where());
  }

  /** Stream offset of the next byte to read. */
  get position(): number {
    return this.pos;
  }

  /** Stream offset just past the last byte. */
  get end(): number {
    return this.options.end;
  }

  /** True while a read waits for a piece. */
  get waiting(): boolean {
    return this.wait !== undefined;
  }

  /** True once closed. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** The bitrate the window is sized for: given, or measured. */
  get bytesPerSecond(): number {
    if (this.options.bytesPerSecond !== undefined) return this.options.bytesPerSecond;
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.at - first.at < MIN_RATE_SPAN_MS)
      return DEFAULT_STREAM_BYTES_PER_SECOND;
    let bytes = 0;
    for (const s of this.samples.slice(1)) bytes += s.bytes;
    const rate = (bytes * 1000) / Math.max(1, last.at - first.at);
    return Math.min(MAX_BYTES_PER_SECOND, Math.max(MIN_BYTES_PER_SECOND, rate));
  }

  /**
   * The next verified bytes (at most to the end of the piece under the read position), waiting
   * for that piece when it is missing; undefined at the end or once closed.
   * @throws what the torrent rejects a wait with (it stopped)
   */
  async read(): Promise<Uint8Array | undefined> {
    if (this.closed || this.pos >= this.options.end) return undefined;
    const clock = this.host.clock;
    const piece = this.pieceAt(this.pos);
    if (!this.host.hasPiece(piece)) {
      this.moveWindow(true);
      const startedAt = clock.now();
      this.stalls++;
      const wait = this.host.waitForPiece(piece);
      this.wait = wait;
      try {
        await wait.done;
      } finally {
        this.wait = undefined;
        this.stalledMs += clock.now() - startedAt;
      }
      if (this.closed) return undefined;
    }
    const pieceEnd = (piece + 1) * this.host.pieceLength;
    const length = Math.min(this.options.end, pieceEnd, this.pos + MAX_CHUNK_BYTES) - this.pos;
    const data = await this.host.readVerified(this.pos, length);
    if (this.closed) return undefined;
    this.pos += length;
    this.record({ at: clock.now(), bytes: length });
    this.moveWindow(false);
    return data;
  }

  /** Moves the read position (a seek): the window follows at once. */
  seek(offset: number): void {
    if (this.closed) return;
    this.pos = Math.max(this.options.start, Math.min(this.options.end, offset));
    this.samples = [];
    this.moveWindow(true);
  }

  /** Verified bytes from the read position on, up to the first missing piece (or the end). */
  bufferedAhead(): number {
    let piece = this.pieceAt(this.pos);
    const lastPiece = this.pieceAt(Math.max(this.pos, this.options.end - 1));
    let scanned = 0;
    while (piece <= lastPiece && scanned < MAX_BUFFER_SCAN_PIECES && this.host.hasPiece(piece)) {
      piece++;
      scanned++;
    }
    return Math.max(0, Math.min(this.options.end, piece * this.host.pieceLength) - this.pos);
  }

  /** Stops reading: the window's pieces are no longer urgent; a waiting read returns undefined. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.host.closeWindow(this.windowId);
    this.wait?.cancel();
  }

  private pieceAt(offset: number): number {
    return Math.floor(offset / this.host.pieceLength);
  }

  private where(): StreamPosition {
    return { position: this.pos, end: this.options.end, bytesPerSecond: this.bytesPerSecond };
  }

  /** Moves the window to the read position: at once when `now`, else on a new piece or later. */
  private moveWindow(now: boolean): void {
    const at = this.host.clock.now();
    const piece = this.pieceAt(this.pos);
    if (!now && piece === this.movedPiece && at - this.movedAt < MOVE_INTERVAL_MS) return;
    this.movedAt = at;
    this.movedPiece = piece;
    this.host.moveWindow(this.windowId, this.where());
  }

  private record(sample: ReadSample): void {
    this.samples.push(sample);
    while (this.samples.length > 2 && sample.at - this.samples[0]!.at > RATE_WINDOW_MS)
      this.samples.shift();
  }
}
