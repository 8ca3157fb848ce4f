import type { PieceLayout } from '../storage/layout.js';
import type { TorrentStorage } from '../storage/torrent-storage.js';
import type { BlockRef } from '../wire/messages.js';
import type { BufferPool } from './piece-job.js';

/**
 * A piece held in memory to serve from, and how many still use its buffer: blocks sent but not
 * yet flushed by their socket, a disk read or write in flight, a serve loop awaiting the read.
 * Once it has left the cache and nobody uses it, its buffer goes back to the pool: fresh
 * memory costs far more than the copies it saves (every new page faults).
 */
export interface CachedPiece {
  readonly data: Promise<Buffer>;
  /** The data, once read (at once for a piece just verified). */
  buffer: Buffer | undefined;
  /** The pool buffer holding the data: back to the pool once evicted and unused. */
  readonly memory: Uint8Array;
  users: number;
  evicted: boolean;
}

/**
 * The uploader's small cache of whole pieces, least recently used first: blocks are served
 * from memory rather than read one by one, and the pieces peers want most (the newest) are
 * there already. Buffers come from, and go back to, the pool shared with the download side.
 */
export class PieceCache {
  private readonly pieces = new Map<number, CachedPiece>();
  private readonly maxEntries: number;

  constructor(
    private readonly layout: PieceLayout,
    private readonly storage: TorrentStorage,
    private readonly buffers: BufferPool,
    cacheBytes: number,
  ) {
    this.maxEntries = Math.max(2, Math.floor(cacheBytes / layout.pieceLength));
  }

  /** The entry of piece `index` if cached (its buffer may still be being read). */
  get(index: number): CachedPiece | undefined {
    return this.pieces.get(index);
  }

  /**
   * Caches a piece that was just verified: in a swarm the pieces peers want from us are mostly
   * the newest, so they are served from memory rather than read back from disk. Its pool buffer
   * `memory` is also being written until `written` settles.
   */
  keep(index: number, memory: Uint8Array, written: Promise<unknown>): void {
    const data = Buffer.from(memory.buffer, memory.byteOffset, this.layout.pieceSize(index));
    const entry: CachedPiece = {
      data: Promise.resolve(data),
      buffer: data,
      memory,
      users: 1,
      evicted: false,
    };
    const done = () => this.release(entry);
    written.then(done, done);
    this.add(index, entry);
  }

  /**
   * Starts reading the next piece of `queue` (after `index`) if it is not cached, so the disk
   * works while the blocks of the current piece go out.
   */
  readAhead(queue: readonly BlockRef[], index: number): void {
    for (const q of queue) {
      if (q.index === index) continue;
      if (!this.pieces.has(q.index)) this.read(q.index);
      return;
    }
  }

  /** The cache entry of piece `index`, reading it from disk (into a pooled buffer) if need be. */
  read(index: number): CachedPiece {
    const hit = this.pieces.get(index);
    if (hit) {
      this.pieces.delete(index);
      this.pieces.set(index, hit);
      return hit;
    }
    const size = this.layout.pieceSize(index);
    const memory = this.buffers.take(size);
    const into = Buffer.from(memory.buffer, memory.byteOffset, size);
    const reading = this.storage.read(index * this.layout.pieceLength, size, into);
    const entry: CachedPiece = {
      data: reading,
      buffer: undefined,
      memory,
      users: 1,
      evicted: false,
    };
    reading.then(
      (b) => {
        entry.buffer = b;
        this.release(entry);
      },
      () => {
        if (this.pieces.get(index) === entry) this.pieces.delete(index);
      },
    );
    this.add(index, entry);
    return entry;
  }

  /** One use of `entry` ended. */
  release(entry: CachedPiece): void {
    if (--entry.users === 0 && entry.evicted) this.recycle(entry);
  }

  /** Adds a piece, evicting the least recently used beyond the cache's size. */
  private add(index: number, entry: CachedPiece): void {
    const old = this.pieces.get(index);
    if (old) this.evict(index, old);
    this.pieces.set(index, entry);
    for (const [oldest, e] of this.pieces) {
      if (this.pieces.size <= this.maxEntries) break;
      this.evict(oldest, e);
    }
  }

  private evict(index: number, entry: CachedPiece): void {
    this.pieces.delete(index);
    entry.evicted = true;
    if (entry.users === 0) this.recycle(entry);
  }

  private recycle(entry: CachedPiece): void {
    if (entry.buffer !== undefined) this.buffers.give(entry.memory);
  }
}
