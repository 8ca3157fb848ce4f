/**
 * Memory for encrypted writes. RC4 cannot encrypt a caller's chunks in place (callers send the
 * same piece buffer to many peers), so each write is copied and encrypted into space carved
 * from shared slabs. A slab is reused once every write carved from it has been flushed; a
 * stream that never reports flushes (the simulator's) just lets its slabs go to the collector.
 * Shared by every stream of the process, so memory follows the data in flight, not the number
 * of connections.
 */

const SLAB_BYTES = 256 * 1024;
/** Writes larger than this get memory of their own rather than most of a slab. */
const MAX_CARVED_BYTES = 64 * 1024;
/** Released slabs kept for reuse. */
const MAX_SPARE_SLABS = 4;

interface Slab {
  readonly buffer: Buffer;
  used: number;
  /** Carved views not yet released. */
  users: number;
}

/** Space for one write, and how to give it back. */
export interface Lease {
  readonly bytes: Buffer;
  /** Call once the stream no longer holds `bytes`. */
  release(): void;
}

const spares: Slab[] = [];
let current: Slab | undefined;

const noRelease = (): void => {};

/** `length` bytes of scratch memory for an encrypted write (contents undefined). */
export function lease(length: number): Lease {
  if (length > MAX_CARVED_BYTES) return { bytes: Buffer.allocUnsafe(length), release: noRelease };
  let slab = current;
  if (slab === undefined || slab.used + length > SLAB_BYTES) {
    slab = spares.pop() ?? { buffer: Buffer.allocUnsafe(SLAB_BYTES), used: 0, users: 0 };
    current = slab;
  }
  const bytes = slab.buffer.subarray(slab.used, slab.used + length);
  slab.used += length;
  slab.users++;
  const owner = slab;
  let released = false;
  return {
    bytes,
    release: () => {
      if (released) return;
      released = true;
      release(owner);
    },
  };
}

function release(slab: Slab): void {
  if (--slab.users > 0) return;
  if (slab === current) {
    slab.used = 0; // nothing carved from it is in use: start over
  } else if (spares.length < MAX_SPARE_SLABS) {
    slab.used = 0;
    spares.push(slab);
  }
}
