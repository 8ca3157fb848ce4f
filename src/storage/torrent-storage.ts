import { join } from 'node:path';
import { copyBytes } from '../runtime/page-arena.js';
import type { FileHandle, FileStat, FileSystem } from '../runtime/runtime.js';
import type { PieceLayout } from './layout.js';

/** Options of {@link TorrentStorage}. */
export interface StorageOptions {
  /** Handles open at once; the least recently used is closed first (default 32). */
  readonly maxOpenFiles?: number;
  /** Write long aligned runs past the page cache (O_DIRECT) where possible (default false). */
  readonly directWrites?: boolean;
}

interface OpenFile {
  handle: Promise<FileHandle>;
  writable: boolean;
  /** Reads and writes using the handle now; it is closed only once they are done. */
  users: number;
  /** Evicted (or replaced) while in use: closed when the last user is done. */
  closeWhenIdle: boolean;
}

/** Closes an open file's handle, once nothing uses it. */
function closeOpenFile(o: OpenFile): void {
  if (o.users > 0) {
    o.closeWhenIdle = true;
    return;
  }
  void o.handle.then((h) => h.close()).catch(() => undefined);
}

/**
 * Reads and writes a torrent's pieces in its files: positional I/O only, padding never
 * written, files created sparse at their full length on first write, and at most
 * `maxOpenFiles` handles kept open (least recently used closed first, once no read or write
 * is using it). Every file is opened
 * with {@link FileSystem.openBeneath}: a symbolic link (or a FIFO, a device) anywhere below the
 * download folder makes that file fail with `UnsafeFileError`, and nothing outside the folder is
 * ever read, created or written.
 */
export class TorrentStorage {
  private readonly open = new Map<number, OpenFile>();
  /** Writes not yet finished, by stream offset: reads of their bytes are answered from memory. */
  private readonly inFlight = new Map<number, { data: Uint8Array; done: Promise<void> }>();
  private unwritten = 0;
  /**
   * The last buffered write queued per file. Buffered writes to one file go one at a time: the
   * kernel serialises them on the file's inode lock anyway, and worker threads spinning for
   * that lock cost a leecher a tenth of its CPU.
   */
  private readonly fileWrites = new Map<number, Promise<void>>();

  constructor(
    private readonly fs: FileSystem,
    /** The folder the torrent is saved in. */
    readonly root: string,
    private readonly layout: PieceLayout,
    /** `name` for a single-file torrent, otherwise the torrent's folder name. */
    private readonly name: string,
    private readonly singleFile: boolean,
    private readonly options: StorageOptions = {},
  ) {}

  /** Where file `fileIndex` lives on disk. */
  filePath(fileIndex: number): string {
    return join(this.root, ...this.pathBelowRoot(fileIndex));
  }

  /** `lstat` of file `fileIndex`, reached without following a link. @throws when absent */
  stat(fileIndex: number): Promise<FileStat> {
    return this.fs.statBeneath(this.root, this.pathBelowRoot(fileIndex));
  }

  /** The components of file `fileIndex`'s path below the download folder. */
  private pathBelowRoot(fileIndex: number): readonly string[] {
    const f = this.layout.files[fileIndex]!;
    return this.singleFile ? [this.name] : [this.name, ...f.path];
  }

  /**
   * Reads `length` bytes at stream offset `offset` into `into` (a buffer of at least `length`
   * bytes, to reuse memory) or else a new buffer, which the caller owns; padding reads as
   * zeros. Bytes of a write still in flight are never read from disk half-written: a read of
   * the start of one is answered with a copy of its data, and any other overlap waits for the
   * write.
   */
  async read(offset: number, length: number, into?: Buffer): Promise<Buffer> {
    // Every byte of `out` is written below: data, or zeros.
    const out = into ? into.subarray(0, length) : Buffer.allocUnsafe(length);
    const pending = this.inFlight.get(offset);
    if (pending && pending.data.length >= length) {
      copyBytes(out, pending.data.subarray(0, length));
      return out;
    }
    for (const [at, w] of this.inFlight)
      if (at < offset + length && offset < at + w.data.length) await w.done.catch(() => undefined);
    let at = 0;
    for (const s of this.layout.segments(offset, length)) {
      let done = 0;
      if (!s.padding) {
        const base = at;
        done = await this.using(s.fileIndex, false, async (h) => {
          let got = 0;
          while (got < s.length) {
            const n = await h.read(out, base + got, s.length - got, s.fileOffset + got);
            if (n === 0) break; // short file: the rest reads as zeros and will fail verification
            got += n;
          }
          return got;
        });
      }
      out.fill(0, at + done, at + s.length);
      at += s.length;
    }
    out.fill(0, at);
    return out;
  }

  /**
   * Writes `data` at stream offset `offset`, skipping padding. Until it finishes, `data` must
   * not change: reads of those bytes are answered from it.
   */
  async write(offset: number, data: Uint8Array): Promise<void> {
    const writes: Promise<void>[] = [];
    let at = 0;
    for (const s of this.layout.segments(offset, data.length)) {
      if (!s.padding)
        writes.push(this.writeSegment(s.fileIndex, data.subarray(at, at + s.length), s.fileOffset));
      at += s.length;
    }
    // Done once every segment's write has ended, even after one failed: until then `data` is
    // still being read.
    const done = Promise.allSettled(writes).then((results) => {
      for (const r of results) if (r.status === 'rejected') throw r.reason;
    });
    const entry = { data, done };
    this.inFlight.set(offset, entry);
    this.unwritten += data.length;
    try {
      await entry.done;
    } finally {
      this.unwritten -= data.length;
      if (this.inFlight.get(offset) === entry) this.inFlight.delete(offset);
    }
  }

  /** Bytes handed to {@link write} that are not on disk yet. */
  get unwrittenBytes(): number {
    return this.unwritten;
  }

  private writeSegment(fileIndex: number, data: Uint8Array, position: number): Promise<void> {
    return this.using(fileIndex, true, (h) =>
      // Direct writes go in parallel: one at a time, each waited for its turn through a busy
      // event loop while the disk sat idle, and verified pieces piled up until downloading
      // stalled.
      h.writesDirect?.(data.length, position)
        ? h.write(data, position)
        : this.queued(fileIndex, () => h.write(data, position)),
    );
  }

  /** Runs `run` after the buffered writes queued before it to the same file. */
  private queued(fileIndex: number, run: () => Promise<void>): Promise<void> {
    const previous = this.fileWrites.get(fileIndex) ?? Promise.resolve();
    const write = previous.then(run);
    // The queue goes on after a failed write (which its own caller hears about).
    const queued = write.catch(() => undefined);
    this.fileWrites.set(fileIndex, queued);
    void queued.then(() => {
      if (this.fileWrites.get(fileIndex) === queued) this.fileWrites.delete(fileIndex);
    });
    return write;
  }

  /**
   * Creates the torrent's empty files, which no piece covers and so no write would create.
   * One that cannot be created does not stop the others; the first failure is thrown after.
   */
  async createEmptyFiles(): Promise<void> {
    let failure: unknown;
    for (const [i, f] of this.layout.files.entries()) {
      if (f.padding || f.length > 0) continue;
      try {
        await (await this.fs.openBeneath(this.root, this.pathBelowRoot(i), 'create')).close();
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
  }

  /** Flushes and closes every open file. */
  async close(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.all(
      all.map(async (o) => {
        const h = await o.handle.catch(() => undefined);
        if (h) {
          if (o.writable) await h.sync().catch(() => undefined);
          await h.close().catch(() => undefined);
        }
      }),
    );
  }

  /** Flushes written data to disk without closing. */
  async sync(): Promise<void> {
    await Promise.all(
      [...this.open.values()].filter((o) => o.writable).map(async (o) => (await o.handle).sync()),
    );
  }

  /**
   * Runs `use` with file `fileIndex`'s handle, which stays open until `use` is done even if the
   * handle is evicted meanwhile (a closed handle under a read or a write in flight failed it,
   * and could have sent it to a file opened since under the same descriptor number).
   */
  private async using<T>(
    fileIndex: number,
    writable: boolean,
    use: (h: FileHandle) => Promise<T>,
  ): Promise<T> {
    const entry = this.entry(fileIndex, writable);
    entry.users++;
    try {
      return await use(await entry.handle);
    } finally {
      entry.users--;
      if (entry.closeWhenIdle && entry.users === 0) closeOpenFile(entry);
    }
  }

  private entry(fileIndex: number, writable: boolean): OpenFile {
    const cached = this.open.get(fileIndex);
    if (cached && (cached.writable || !writable)) {
      this.open.delete(fileIndex); // re-insert: most recently used last
      this.open.set(fileIndex, cached);
      return cached;
    }
    if (cached) {
      this.open.delete(fileIndex);
      closeOpenFile(cached);
    }
    const handle = writable
      ? this.openForWrite(fileIndex)
      : this.fs.openBeneath(this.root, this.pathBelowRoot(fileIndex), 'read');
    const entry: OpenFile = { handle, writable, users: 0, closeWhenIdle: false };
    this.open.set(fileIndex, entry);
    handle.catch(() => {
      if (this.open.get(fileIndex) === entry) this.open.delete(fileIndex);
    });
    while (this.open.size > (this.options.maxOpenFiles ?? 32)) {
      const [oldest, o] = this.open.entries().next().value as [number, OpenFile];
      this.open.delete(oldest);
      closeOpenFile(o);
    }
    return entry;
  }

  private async openForWrite(fileIndex: number): Promise<FileHandle> {
    const length = this.layout.files[fileIndex]!.length;
    const h = await this.fs.openBeneath(this.root, this.pathBelowRoot(fileIndex), 'create', {
      directWrites: this.options.directWrites === true,
    });
    try {
      if ((await h.stat()).size !== length) await h.truncate(length);
    } catch (error) {
      await h.close().catch(() => undefined);
      throw error;
    }
    return h;
  }
}
