import type { Bitfield } from '../codec/bitfield.js';
import { realFileIndices } from '../metainfo/file-selection.js';
import type { Clock } from '../runtime/runtime.js';
import type { PieceLayout } from '../storage/layout.js';
import type { TorrentStorage } from '../storage/torrent-storage.js';
import { StreamDeadlines, type StreamPosition } from './deadlines.js';
import { TorrentError } from './options.js';
import { PieceReader, type ReaderHost } from './piece-reader.js';

/** Which part of a file to read: byte offsets within the file, `end` inclusive (as `fs`). */
export interface ReadRange {
  readonly start?: number;
  readonly end?: number;
  /** The media's bitrate in bytes per second, when known (else measured while reading). */
  readonly bytesPerSecond?: number;
}

/** What a torrent's streams need from it. */
export interface TorrentStreamsDeps {
  readonly layout: PieceLayout;
  readonly have: Bitfield;
  readonly storage: TorrentStorage;
  readonly clock: Clock;
  /** The torrent's name: the path of a single-file torrent's file. */
  readonly name: string;
  readonly singleFile: boolean;
  /** Make sure the pieces of file `fileIndex` are wanted (a stream reads it). */
  readonly wantFile: (fileIndex: number) => void;
  /** Windows moved, opened or closed: re-plan requests. */
  readonly windowsChanged: () => void;
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

/**
 * The reading side of a torrent: files by index or path, readers over byte ranges of them
 * (each with its deadline window in {@link deadlines}), and the waits of readers for pieces,
 * settled as pieces are verified or when the torrent stops.
 */
export class TorrentStreams implements ReaderHost {
  readonly deadlines: StreamDeadlines;
  readonly pieceLength: number;
  readonly clock: Clock;
  private readonly waiters = new Map<number, Set<Waiter>>();
  private readonly readers = new Set<PieceReader>();
  private stoppedWith: Error | undefined;

  constructor(private readonly deps: TorrentStreamsDeps) {
    this.deadlines = new StreamDeadlines(deps.layout, deps.have, deps.clock);
    this.pieceLength = deps.layout.pieceLength;
    this.clock = deps.clock;
  }

  /**
   * Where a file given by number (counting real files, padding skipped, as users see them) or
   * by its path ("dir/file.mkv", or the name) is in the layout's file list.
   */
  fileIndex(file: number | string): number {
    const files = this.deps.layout.files;
    if (typeof file === 'number') {
      const real = realFileIndices(this.deps.layout);
      const index = Number.isInteger(file) ? real[file] : undefined;
      if (index !== undefined) return index;
      throw new TorrentError(`the torrent has no file ${file} (it has ${real.length})`);
    }
    const wanted = file.replace(/^\/+/, '');
    for (const [i, f] of files.entries()) {
      if (f.padding) continue;
      const path = this.deps.singleFile ? this.deps.name : f.path.join('/');
      if (path === wanted || `${this.deps.name}/${path}` === wanted) return i;
    }
    throw new TorrentError(`the torrent has no file "${file}"`);
  }

  /**
   * A reader of file `file` from `range.start` to `range.end` (inclusive; default the whole
   * file). Its pieces become wanted if they were not.
   */
  createReader(file: number | string, range: ReadRange = {}): PieceReader {
    if (this.stoppedWith) throw this.stoppedWith;
    const index = this.fileIndex(file);
    const f = this.deps.layout.files[index]!;
    const start = range.start ?? 0;
    const last = range.end ?? f.length - 1;
    if (!Number.isInteger(start) || !Number.isInteger(last) || start < 0 || last >= f.length)
      throw new TorrentError(
        `bytes ${start}-${last} are not within file ${index} (${f.length} bytes)`,
      );
    this.deps.wantFile(index);
    const reader = new PieceReader(this, {
      start: f.offset + start,
      end: f.offset + Math.max(start, last + 1),
      ...(range.bytesPerSecond !== undefined && { bytesPerSecond: range.bytesPerSecond }),
    });
    this.readers.add(reader);
    return reader;
  }

  /** Readers open now. */
  openReaders(): readonly PieceReader[] {
    return [...this.readers];
  }

  hasPiece(index: number): boolean {
    return this.deps.have.has(index);
  }

  waitForPiece(index: number): { readonly done: Promise<void>; cancel(): void } {
    let waiter: Waiter | undefined;
    const done = new Promise<void>((resolve, reject) => {
      if (this.stoppedWith) reject(this.stoppedWith);
      else if (this.deps.have.has(index)) resolve();
      else waiter = { resolve, reject };
    });
    if (waiter) {
      let set = this.waiters.get(index);
      if (!set) {
        set = new Set();
        this.waiters.set(index, set);
      }
      set.add(waiter);
    }
    return {
      done,
      cancel: () => {
        if (!waiter) return;
        this.waiters.get(index)?.delete(waiter);
        waiter.resolve();
      },
    };
  }

  readVerified(offset: number, length: number): Promise<Uint8Array> {
    return this.deps.storage.read(offset, length);
  }

  openWindow(at: StreamPosition): number {
    const id = this.deadlines.open(at);
    this.deps.windowsChanged();
    return id;
  }

  moveWindow(id: number, at: StreamPosition): void {
    this.deadlines.move(id, at);
    this.deps.windowsChanged();
  }

  closeWindow(id: number): void {
    this.deadlines.close(id);
    for (const r of this.readers) if (r.isClosed) this.readers.delete(r);
    this.deps.windowsChanged();
  }

  /** Piece `index` was verified: readers waiting for it go on. */
  pieceVerified(index: number): void {
    const set = this.waiters.get(index);
    if (!set) return;
    this.waiters.delete(index);
    for (const w of set) w.resolve();
  }

  /** The torrent stopped: every wait fails with `error`, and so does every new reader. */
  stop(error: Error): void {
    this.stoppedWith = error;
    for (const set of this.waiters.values()) for (const w of set) w.reject(error);
    this.waiters.clear();
    for (const r of this.readers) r.close();
    this.readers.clear();
  }
}
