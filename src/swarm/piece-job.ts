import { Bitfield } from '../codec/bitfield.js';
import type { PeerSession } from './peer-session.js';

/** Bytes per request: the size every client uses and most accept as the maximum. */
export const BLOCK_BYTES = 16 * 1024;

/** A source other than peers that fetches whole pieces (a web seed), told how each checked out. */
export interface PieceOrigin {
  pieceChecked(index: number, ok: boolean): void;
}

/**
 * One piece being downloaded: its buffer (a whole `ArrayBuffer`, so it can be handed to a
 * hashing worker without a copy), which blocks arrived, how many requests each block has in
 * flight, and who contributed (to blame when the piece fails its hash check).
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
    /** At least `size` bytes; reused from earlier pieces when possible. */
    readonly buffer: ArrayBuffer = new ArrayBuffer(size),
  ) {
    this.view = new Uint8Array(buffer, 0, size);
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
 * piece: new memory is slow, since every page of it faults on first touch. Bounded: spares
 * beyond `spareBytes` (and two buffers) are left to the garbage collector.
 */
export class BufferPool {
  private readonly spare: ArrayBuffer[] = [];
  private readonly max: number;

  constructor(
    private readonly bytes: number,
    spareBytes = 32 * 1024 * 1024,
  ) {
    this.max = this.buffersIn(spareBytes);
  }

  /** How many buffers `bytes` of spares hold (at least two). */
  private buffersIn(bytes: number): number {
    return Math.max(2, Math.floor(bytes / this.bytes));
  }

  /** A buffer of at least `size` bytes (contents undefined). */
  take(size: number): ArrayBuffer {
    if (size <= this.bytes) {
      const b = this.spare.pop();
      if (b) return b;
      return new ArrayBuffer(this.bytes);
    }
    return new ArrayBuffer(size);
  }

  /** Lets go of spares beyond `bytes` (and two buffers), e.g. once downloading is over. */
  shrink(bytes: number): void {
    this.spare.length = Math.min(this.spare.length, this.buffersIn(bytes));
  }

  /** Takes back a buffer nothing uses any more (giving one twice is ignored, not shared). */
  give(buffer: ArrayBuffer): void {
    if (buffer.byteLength !== this.bytes || this.spare.length >= this.max) return;
    if (!this.spare.includes(buffer)) this.spare.push(buffer);
  }
}
