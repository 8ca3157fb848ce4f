/** uTP sequence and ack numbers are 16 bits and wrap; these compare them modulo 2^16. */

/** Mask of a 16-bit sequence number. */
export const SEQ_MASK = 0xffff;

/** Signed distance `a − b` in sequence space, in [−32768, 32767]. */
export function seqDiff(a: number, b: number): number {
  return ((a - b + 0x8000) & SEQ_MASK) - 0x8000;
}

/** `n + k` in sequence space. */
export function seqAdd(n: number, k: number): number {
  return (n + k) & SEQ_MASK;
}

/**
 * A table from sequence number to entry, for the packets of one window: a power-of-two array
 * indexed by `seq & mask`, grown (up to `maxSize`) when a sequence number further than its
 * size from `base` must be stored. Callers keep every stored sequence number within
 * `maxSize` of each other.
 */
export class SeqRing<T> {
  private slots: (T | undefined)[];
  private mask: number;

  constructor(
    initialSize: number,
    readonly maxSize: number,
  ) {
    this.slots = new Array<T | undefined>(initialSize);
    this.mask = initialSize - 1;
  }

  /** The entry at `seq`, where `base` is the lowest sequence number still stored. */
  get(seq: number, base: number): T | undefined {
    const k = seqDiff(seq, base);
    return k >= 0 && k < this.slots.length ? this.slots[seq & this.mask] : undefined;
  }

  /** Stores `value` at `seq`; `base` is the lowest sequence number still stored. */
  set(seq: number, value: T, base: number): void {
    const span = seqDiff(seq, base) + 1;
    if (span > this.slots.length) this.grow(span, base);
    this.slots[seq & this.mask] = value;
  }

  /** Removes and returns the entry at `seq` (`base` as for {@link get}). */
  take(seq: number, base: number): T | undefined {
    const k = seqDiff(seq, base);
    if (k < 0 || k >= this.slots.length) return undefined;
    const i = seq & this.mask;
    const v = this.slots[i];
    this.slots[i] = undefined;
    return v;
  }

  private grow(span: number, base: number): void {
    let size = this.slots.length;
    while (size < span) size *= 2;
    if (size > this.maxSize) throw new RangeError(`sequence window of ${span} exceeds the ring`);
    const old = this.slots;
    const oldMask = this.mask;
    this.slots = new Array<T | undefined>(size);
    this.mask = size - 1;
    for (let k = 0; k < old.length; k++) {
      const seq = (base + k) & SEQ_MASK;
      const v = old[seq & oldMask];
      if (v !== undefined) this.slots[seq & this.mask] = v;
    }
  }
}
