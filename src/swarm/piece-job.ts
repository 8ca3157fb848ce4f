import type { PeerSession } from './peer-session.js';

/** Bytes per request: the size every client uses and most accept as the maximum. */
export const BLOCK_BYTES = 16 * 1024;

/**
 * One piece being downloaded: its buffer (a whole `ArrayBuffer`, so it can be handed to a
 * hashing worker without a copy), which blocks arrived, how many requests each block has in
 * flight, and who contributed (to blame when the piece fails its hash check).
 */
export class PieceJob {
  readonly buffer: ArrayBuffer;
  readonly view: Uint8Array;
  readonly blockCount: number;
  readonly received: Uint8Array;
  readonly inFlight: Uint8Array;
  receivedCount = 0;
  readonly contributors = new Set<PeerSession>();
  verifying = false;
  /** After a failed check, only this peer may fetch the piece (to find the culprit). */
  exclusiveTo: PeerSession | undefined;

  constructor(
    readonly index: number,
    readonly size: number,
  ) {
    this.buffer = new ArrayBuffer(size);
    this.view = new Uint8Array(this.buffer);
    this.blockCount = Math.ceil(size / BLOCK_BYTES);
    this.received = new Uint8Array(this.blockCount);
    this.inFlight = new Uint8Array(this.blockCount);
  }

  /** Length of block `b`. */
  blockLength(b: number): number {
    return Math.min(BLOCK_BYTES, this.size - b * BLOCK_BYTES);
  }

  /** Next block nobody is fetching, or -1. With `duplicates`, also blocks fetched by others. */
  nextBlock(skip: (b: number) => boolean, duplicates: boolean): number {
    for (let b = 0; b < this.blockCount; b++) {
      if (this.received[b] || skip(b)) continue;
      if (this.inFlight[b] === 0 || (duplicates && this.inFlight[b]! < 2)) return b;
    }
    return -1;
  }

  get complete(): boolean {
    return this.receivedCount === this.blockCount;
  }
}

/** A number identifying (piece, block) for request bookkeeping. */
export function blockKey(index: number, block: number): number {
  return index * 65536 + block;
}
