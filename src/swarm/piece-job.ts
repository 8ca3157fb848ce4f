import { Bitfield } from '../codec/bitfield.js';
import type { WriteMemory } from '../runtime/runtime.js';
import type { PeerSession } from './peer-session.js';

/** Bytes per request: the size every client uses and most accept as the maximum. */
export const BLOCK_BYTES = 16 * 1024;

/** A source other than peers that fetches whole pieces (a web seed), told how each checked out. */
export interface PieceOrigin {
  pieceChecked(index: number, ok: boolean): void;
}

/**
 * One piece being downloaded: its memory (a pool slot, which a hashing worker reads without a
 * copy), which blocks arrived, how many requests each block has in flight, and who contributed
 * (to blame when the piece fails its hash check).
 */
export class PieceJob {
  readonly view: Uint8Array;
  readonly blockCount: number;
  readonly received: Uint8Array;
  private readonly inFlight: Uint8Array;
  /** Every block before it is received or requested. */
  private cursor = 0;
  receivedCount = 0;
  readonly contributors = new Set<PeerSession>();
  verifying = false;
  /** After a failed check, only this peer may fetch the piece (to find the culprit). */
  exclusiveTo: PeerSession | undefined;
  /** Set when a source other than peers (a web seed) fetches the whole piece: peers leave it be. */
  origin: PieceOrigin | undefined;

  constructor(
    readonly index: number,
    readonly size: number,
    /** At least `size` bytes, from a {@link BufferPool}; reused from earlier pieces when possible. */
    readonly memory: Uint8Array = new Uint8Array(size),
  ) {
    this.view = memory.subarray(0, size);
    this.blockCount = Math.ceil(size / BLOCK_BYTES);
    this.received = new Uint8Array(this.blockCount);
    this.inFlight = new Uint8Array(this.blockCount);
  }

  /** Length of block `b`. */
  blockLength(b: number): number {
    return Math.min(BLOCK_BYTES, this.size - b * BLOCK_BYTES);
  }

  /** True when every block has arrived or been asked for. */
  get fullyRequested(): boolean {
    return this.cursor >= this.blockCount;
  }

  /** The next block nobody has asked for, or -1. */
  nextFreeBlock(): number {
    while (
      this.cursor < this.blockCount &&
      (this.received[this.cursor] || this.inFlight[this.cursor]! > 0)
    ) {
      this.cursor++;
    }
    return this.cursor < this.blockCount ? this.cursor : -1;
  }

  /** Endgame: a missing block already asked for once, that `mine(b)` has not asked for. */
  duplicateBlock(mine: (b: number) => boolean): number {
    for (let b = 0; b < this.blockCount; b++) {
      if (!this.received[b] && this.inFlight[b]! < 2 && !mine(b)) return b;
    }
    return -1;
  }

  /** Requests now in flight for block `b`. */
  requestsFor(b: number): number {
    return this.inFlight[b]!;
  }

  requested(b: number): void {
    this.inFlight[b]!++;
  }

  /** A request for block `b` was answered, cancelled or lost. */
  released(b: number): void {
    if (this.inFlight[b]! > 0) this.inFlight[b]!--;
    if (this.inFlight[b] === 0 && !this.received[b] && b < this.cursor) this.cursor = b;
  }

  /** True while no request is in flight and nothing has arrived. */
  get idle(): boolean {
    return this.receivedCount === 0 && this.inFlight.every((n) => n === 0);
  }

  /** True while a source other than peers fetches this piece. */
  get external(): boolean {
    return this.origin !== undefined;
  }

  get complete(): boolean {
    return this.receivedCount === this.blockCount;
  }
}

/**
 * The pieces being downloaded, by index: a `Map` that also keeps a bitfield of its keys, so
 * the piece picker can pass over eight pieces in progress at once instead of asking about each
 * (in a swarm most of what a peer has that we lack is already being fetched).
 */
export class PieceJobs extends Map<number, PieceJob> {
  /** Set while the piece has a job. */
  readonly bits: Bitfield;

  constructor(pieceCount: number) {
    super();
    this.bits = new Bitfield(pieceCount);
  }

  override set(index: number, job: PieceJob): this {
    super.set(index, job);
    this.bits.set(index);
    return this;
  }

  override delete(index: number): boolean {
    const had = super.delete(index);
    if (had) this.bits.clear(index);
    return had;
  }

  override clear(): void {
    for (const index of this.keys()) this.bits.clear(index);
    super.clear();
  }
}

/** A number identifying (piece, block) for request bookkeeping. */
export function blockKey(index: number, block: number): number {
  return index * 65536 + block;
}

/**
 * Spare piece buffers, so neither downloads nor uploads allocate (and zero) a fresh buffer per
 * piece: new memory is slow, since every page of it faults on first touch. New buffers come
 * from the file system's write memory when it lends any (page-aligned memory, written to disk
 * without a copy), else from the heap. Bounded: spares beyond `spareBytes` (and two buffers)
 * go back to the write memory or are left to the garbage collector.
 */
export class BufferPool {
  private readonly spare: Uint8Array[] = [];
  private readonly max: number;

  constructor(
    private readonly bytes: number,
    spareBytes = 32 * 1024 * 1024,
    private readonly memory?: WriteMemory,
  ) {
    this.max = this.buffersIn(spareBytes);
  }

  /** How many buffers `bytes` of spares hold (at least two). */
  private buffersIn(bytes: number): number {
    return Math.max(2, Math.floor(bytes / this.bytes));
  }

  /** A buffer of at least `size` bytes (contents undefined): a whole pool buffer when it fits. */
  take(size: number): Uint8Array {
    if (size > this.bytes) return new Uint8Array(size);
    return this.spare.pop() ?? this.fresh();
  }

  private fresh(): Uint8Array {
    const slot = this.memory?.take(this.bytes);
    return slot === undefined ? new Uint8Array(this.bytes) : slot.subarray(0, this.bytes);
  }

  /** Lets go of spares beyond `bytes` (and two buffers), e.g. once downloading is over. */
  shrink(bytes: number): void {
    const keep = this.buffersIn(bytes);
    while (this.spare.length > keep) this.letGo(this.spare.pop()!);
  }

  /**
   * Takes back a buffer from {@link take} that nothing uses any more (giving one twice is
   * ignored, not shared).
   */
  give(buffer: Uint8Array): void {
    if (buffer.byteLength !== this.bytes || this.spare.includes(buffer)) return;
    if (this.spare.length < this.max) this.spare.push(buffer);
    else this.letGo(buffer);
  }

  private letGo(buffer: Uint8Array): void {
    this.memory?.give(buffer);
  }
}
