import type { Bitfield } from '../codec/bitfield.js';
import type { Clock } from '../runtime/runtime.js';

/** Seconds of media the readahead window covers, at the stream's bitrate. */
export const READAHEAD_SECONDS = 20;
/** The readahead window is never smaller than this many pieces, nor than this many bytes. */
const MIN_READAHEAD_PIECES = 2;
const MIN_READAHEAD_BYTES = 1024 * 1024;
/** Nor larger than this. */
const MAX_READAHEAD_BYTES = 64 * 1024 * 1024;

/** A missing piece some open stream needs, and when it needs it (the clock's milliseconds). */
export interface PieceDeadline {
  readonly index: number;
  readonly deadline: number;
}

/** Where one stream reads and how fast it consumes. */
export interface StreamPosition {
  /** Stream offset of the next byte the reader wants. */
  readonly position: number;
  /** Stream offset just past the last byte it may read. */
  readonly end: number;
  /** The rate the reader consumes at (its media's bitrate), bytes per second. */
  readonly bytesPerSecond: number;
}

interface Window extends StreamPosition {
  readonly first: number;
  readonly last: number;
  readonly at: number;
}

/** The shape of the torrent the windows lie in. */
export interface DeadlineLayout {
  readonly pieceLength: number;
  readonly pieceCount: number;
}

/**
 * The pieces open streams need soon, with deadlines, as libtorrent's `set_piece_deadline` keeps
 * them: each stream has a window from its read position over the readahead (sized from its
 * bitrate), and piece k of it is due when the reader will reach it at that bitrate — the piece
 * at the read position at once. The request scheduler fetches these pieces first, nearest
 * deadline first, from the fastest peers, and doubles up on late ones. Moving a window (a seek)
 * or closing it drops what is no longer needed; {@link takeDropped} says which pieces those were
 * so their requests can be cancelled. Sans-I/O: time comes from the clock given.
 */
export class StreamDeadlines {
  private readonly windows = new Map<number, Window>();
  private nextId = 1;
  private sorted: PieceDeadline[] | undefined;
  /** Pieces that were in some window and no longer are, since the last {@link takeDropped}. */
  private dropped = new Set<number>();

  constructor(
    private readonly layout: DeadlineLayout,
    private readonly have: Bitfield,
    private readonly clock: Clock,
  ) {}

  /** How many bytes ahead of the read position a stream at `bytesPerSecond` should fetch. */
  readaheadBytes(bytesPerSecond: number): number {
    const floor = Math.max(MIN_READAHEAD_BYTES, MIN_READAHEAD_PIECES * this.layout.pieceLength);
    return Math.min(MAX_READAHEAD_BYTES, Math.max(floor, bytesPerSecond * READAHEAD_SECONDS));
  }

  /** Opens a window; returns its id. */
  open(at: StreamPosition): number {
    const id = this.nextId++;
    this.set(id, at);
    return id;
  }

  /** Moves window `id` (the reader advanced or sought). */
  move(id: number, at: StreamPosition): void {
    if (this.windows.has(id)) this.set(id, at);
  }

  /** Closes window `id`: its pieces are no longer urgent (unless another window has them). */
  close(id: number): void {
    const w = this.windows.get(id);
    if (!w) return;
    this.windows.delete(id);
    this.sorted = undefined;
    this.noteDropped(w);
  }

  /** True while some stream is open. */
  get active(): boolean {
    return this.windows.size > 0;
  }

  /** How many streams are open. */
  get size(): number {
    return this.windows.size;
  }

  /** The missing pieces of every window, nearest deadline first (cached until a change). */
  pieces(): readonly PieceDeadline[] {
    if (this.sorted) {
      // Pieces that arrived since leave the list (cheap: verified pieces are few per call).
      if (this.sorted.some((p) => this.have.has(p.index)))
        this.sorted = this.sorted.filter((p) => !this.have.has(p.index));
      return this.sorted;
    }
    const best = new Map<number, number>();
    for (const w of this.windows.values()) {
      for (let i = w.first; i <= w.last; i++) {
        if (this.have.has(i)) continue;
        const start = Math.max(0, i * this.layout.pieceLength - w.position);
        const due = w.at + (start * 1000) / Math.max(1, w.bytesPerSecond);
        const known = best.get(i);
        if (known === undefined || due < known) best.set(i, due);
      }
    }
    this.sorted = [...best]
      .map(([index, deadline]) => ({ index, deadline }))
      .sort((a, b) => a.deadline - b.deadline || a.index - b.index);
    return this.sorted;
  }

  /** The deadline of piece `index`, if a window holds it. */
  deadlineOf(index: number): number | undefined {
    return this.pieces().find((p) => p.index === index)?.deadline;
  }

  /** True when some window holds piece `index` (missing or not). */
  covers(index: number): boolean {
    for (const w of this.windows.values()) if (index >= w.first && index <= w.last) return true;
    return false;
  }

  /** Pieces that left every window since the last call (their requests may be cancelled). */
  takeDropped(): number[] {
    const out: number[] = [];
    for (const i of this.dropped) if (!this.covers(i) && !this.have.has(i)) out.push(i);
    this.dropped = new Set();
    return out;
  }

  private set(id: number, at: StreamPosition): void {
    const pieceLength = this.layout.pieceLength;
    const end = Math.min(at.end, at.position + this.readaheadBytes(at.bytesPerSecond));
    const lastPiece = Math.max(0, this.layout.pieceCount - 1);
    const first = Math.min(lastPiece, Math.floor(at.position / pieceLength));
    const last = Math.min(lastPiece, Math.floor((Math.max(end, 1) - 1) / pieceLength));
    const before = this.windows.get(id);
    // A reader at its end needs nothing: an empty window.
    const w: Window =
      at.position >= at.end
        ? { ...at, first: 0, last: -1, at: this.clock.now() }
        : { ...at, first, last: Math.max(first, last), at: this.clock.now() };
    this.windows.set(id, w);
    this.sorted = undefined;
    if (before) this.noteDropped(before, w);
  }

  /** Remembers the pieces of `old` that `now` (if any) no longer holds. */
  private noteDropped(old: Window, now?: Window): void {
    for (let i = old.first; i <= old.last; i++)
      if (!now || i < now.first || i > now.last) this.dropped.add(i);
  }
}
