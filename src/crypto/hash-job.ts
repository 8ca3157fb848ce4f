import { sha1 } from './hash.js';
import { blockHashes, HASH_BYTES, MERKLE_BLOCK_BYTES, merkleRoot } from './merkle.js';

/** A run of consecutive pieces to hash, as sent to a hashing worker. */
export interface HashJob {
  /**
   * Holds the data: an `ArrayBuffer` is transferred to the worker and back so it can be reused;
   * a `SharedArrayBuffer` is read where it is.
   */
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** Where the data starts in `buffer` (0 when absent). */
  readonly offset?: number;
  /** Bytes of real data at the start of the data. */
  readonly length: number;
  readonly pieceLength: number;
  /** v1: SHA-1 each piece of `buffer[0, v1Length)` (bytes past `length` must be zero). */
  readonly v1Length?: number;
  /** v2: for each piece, the merkle root of its 16 KiB blocks padded to `v2Width` leaves. */
  readonly v2Width?: number;
}

/** What a hashing worker sends back for a {@link HashJob}. */
export interface HashJobResult {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** Concatenated 20-byte SHA-1 piece hashes. */
  readonly v1?: Uint8Array;
  /** Concatenated 32-byte per-piece subtree roots (the v2 piece layer). */
  readonly v2?: Uint8Array;
}

/**
 * Whatever hashes pieces for verification and torrent creation: the worker-thread `HashPool` in
 * production, or an `InlineHasher` where hashing must happen on the calling thread (the
 * simulator, whose virtual time cannot wait for real threads).
 */
export interface PieceHasher {
  /** How many jobs it works on at once (callers keep about twice that many in flight). */
  readonly size: number;
  /** Hashes `job`; an `ArrayBuffer` in `job.buffer` is unusable until the result hands it back. */
  run(job: HashJob): Promise<HashJobResult>;
  /** Jobs are about to come: get ready now (start threads), not on the first job. */
  warm(): void;
}

/** Does the hashing of one job; runs inside a worker (and inline when no pool is wanted). */
export function runHashJob(job: HashJob): HashJobResult {
  const data = new Uint8Array(job.buffer, job.offset ?? 0);
  let v1: Uint8Array | undefined;
  let v2: Uint8Array | undefined;
  if (job.v1Length !== undefined) {
    const count = Math.ceil(job.v1Length / job.pieceLength);
    const out = new Uint8Array(count * 20);
    for (let i = 0; i < count; i++) {
      const end = Math.min((i + 1) * job.pieceLength, job.v1Length);
      out.set(sha1(data.subarray(i * job.pieceLength, end)), i * 20);
    }
    v1 = out;
  }
  if (job.v2Width !== undefined) {
    const count = Math.ceil(job.length / job.pieceLength);
    const out = new Uint8Array(count * HASH_BYTES);
    for (let i = 0; i < count; i++) {
      const end = Math.min((i + 1) * job.pieceLength, job.length);
      const leaves = blockHashes(data.subarray(i * job.pieceLength, end));
      out.set(merkleRoot(leaves, job.v2Width), i * HASH_BYTES);
    }
    v2 = out;
  }
  return { buffer: job.buffer, ...(v1 && { v1 }), ...(v2 && { v2 }) };
}

/** Leaves per piece: the tree width of one piece's subtree. */
export function leavesPerPiece(pieceLength: number): number {
  return Math.max(1, pieceLength / MERKLE_BLOCK_BYTES);
}

/** What to transfer with a job or its result: an `ArrayBuffer` moves, shared memory stays. */
export function transferList(buffer: ArrayBuffer | SharedArrayBuffer): ArrayBuffer[] {
  return buffer instanceof ArrayBuffer ? [buffer] : [];
}
