/**
 * A fixed-size set of piece indices, stored as the BEP 3 bitfield (high bit of byte 0 is
 * piece 0), so it goes on the wire without conversion.
 */
export class Bitfield {
  readonly bytes: Uint8Array;
  private count = 0;

  constructor(
    readonly size: number,
    bytes?: Uint8Array,
  ) {
    const needed = Math.ceil(size / 8);
    this.bytes = new Uint8Array(needed);
    if (bytes) {
      this.bytes.set(bytes.subarray(0, needed));
      const spare = needed * 8 - size;
      if (needed > 0 && spare > 0) this.bytes[needed - 1]! &= (0xff << spare) & 0xff;
      for (const b of this.bytes) this.count += POPCOUNT[b]!;
    }
  }

  /** True when `bytes` is a valid bitfield for `size` pieces: right length, spare bits clear. */
  static isValid(size: number, bytes: Uint8Array): boolean {
    const needed = Math.ceil(size / 8);
    if (bytes.length !== needed) return false;
    const spare = needed * 8 - size;
    return spare === 0 || (bytes[needed - 1]! & ((1 << spare) - 1)) === 0;
  }

  /** A bitfield with every piece set. */
  static full(size: number): Bitfield {
    const b = new Bitfield(size);
    for (let i = 0; i < size; i++) b.set(i);
    return b;
  }

  has(index: number): boolean {
    return (
      index >= 0 && index < this.size && (this.bytes[index >> 3]! & (0x80 >> (index & 7))) !== 0
    );
  }

  set(index: number): void {
    if (this.has(index) || index < 0 || index >= this.size) return;
    this.bytes[index >> 3]! |= 0x80 >> (index & 7);
    this.count++;
  }

  clear(index: number): void {
    if (!this.has(index)) return;
    this.bytes[index >> 3]! &= ~(0x80 >> (index & 7));
    this.count--;
  }

  /** Number of pieces set. */
  get cardinality(): number {
    return this.count;
  }

  get complete(): boolean {
    return this.count === this.size;
  }

  /** How many pieces are set here and not in `other` (of the same size): what a peer lacks of ours. */
  countNotIn(other: Bitfield): number {
    let n = 0;
    const theirs = other.bytes;
    for (let i = 0; i < this.bytes.length; i++) n += POPCOUNT[this.bytes[i]! & ~theirs[i]!]!;
    return n;
  }

  /** Indices set, in order. */
  *indices(): IterableIterator<number> {
    for (let i = 0; i < this.size; i++) if (this.has(i)) yield i;
  }
}

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, i) => {
  let n = 0;
  for (let v = i; v; v >>= 1) n += v & 1;
  return n;
});
