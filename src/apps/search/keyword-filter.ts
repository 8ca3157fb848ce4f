import { createHash } from 'node:crypto';
import { OverlayMessageError } from '../../overlay/errors.js';

/** Bits of every keyword filter (fixed by the protocol, so filters can be OR-ed together). */
export const FILTER_BITS = 1 << 16;
/** Bits set per keyword. */
export const FILTER_HASHES = 4;
/** Bytes of a dense filter. */
const DENSE_BYTES = FILTER_BITS / 8;
/** Below this many set bits a filter is kept and sent as a list of positions. */
const SPARSE_LIMIT = DENSE_BYTES / 2;

const SPARSE = 0;
const DENSE = 1;

/**
 * The bit positions of a keyword: four 16-bit slices of its SHA-256. Every node computes the
 * same ones, so a query's positions can be tested against anyone's filter.
 */
export function keywordPositions(keyword: string): number[] {
  const h = createHash('sha256').update(keyword, 'utf8').digest();
  const out: number[] = [];
  for (let i = 0; i < FILTER_HASHES; i++) out.push(h.readUInt16BE(2 * i));
  return out;
}

/**
 * A Bloom filter of hashed keywords: a node's summary of what it shares, sent by leaves to
 * their ultrapeers and, OR-ed over all their leaves, by ultrapeers to each other. It may say
 * yes wrongly (a query is then forwarded for nothing), never no wrongly. 65,536 bits and four
 * hashes: a leaf sharing 50 keywords sets about 200 bits, and an ultrapeer's union of 100 such
 * leaves (about a quarter of its bits set) still answers a two-word query wrongly less than
 * once in 10,000. A filter with few bits set is held and sent as its sorted positions, so a
 * leaf's summary costs hundreds of bytes, not 8 KiB.
 */
export class KeywordFilter {
  private constructor(
    /** Sorted set positions, while sparse. */
    private sparse: Uint16Array | undefined,
    /** The bitmap, once dense. */
    private dense: Uint8Array | undefined,
  ) {}

  /** An empty filter. */
  static empty(): KeywordFilter {
    return new KeywordFilter(new Uint16Array(0), undefined);
  }

  /** The filter of these keywords. */
  static of(words: Iterable<string>): KeywordFilter {
    const positions = new Set<number>();
    for (const w of words) for (const p of keywordPositions(w)) positions.add(p);
    return KeywordFilter.fromPositions(positions);
  }

  /** The union of several filters. */
  static union(filters: Iterable<KeywordFilter>): KeywordFilter {
    const bits = new Uint8Array(DENSE_BYTES);
    for (const f of filters) f.orInto(bits);
    return KeywordFilter.fromBitmap(bits);
  }

  /** Reads a filter written by {@link encode}; throws `OverlayMessageError`. */
  static decode(bytes: Uint8Array): KeywordFilter {
    if (bytes.length === 0) throw new OverlayMessageError('a keyword filter is empty');
    if (bytes[0] === DENSE) {
      if (bytes.length !== 1 + DENSE_BYTES)
        throw new OverlayMessageError(`a dense keyword filter is ${1 + DENSE_BYTES} bytes`);
      return KeywordFilter.fromBitmap(Uint8Array.from(bytes.subarray(1)));
    }
    if (bytes[0] !== SPARSE || (bytes.length - 1) % 2 !== 0 || bytes.length - 1 > DENSE_BYTES)
      throw new OverlayMessageError('a sparse keyword filter is a list of 16-bit positions');
    const positions = new Uint16Array((bytes.length - 1) / 2);
    for (let i = 0; i < positions.length; i++) {
      const p = (bytes[1 + 2 * i]! << 8) | bytes[2 + 2 * i]!;
      if (i > 0 && p <= positions[i - 1]!)
        throw new OverlayMessageError('keyword filter positions must increase');
      positions[i] = p;
    }
    return new KeywordFilter(positions, undefined);
  }

  private static fromPositions(positions: Iterable<number>): KeywordFilter {
    const sorted = Uint16Array.from(positions).sort();
    if (sorted.length <= SPARSE_LIMIT) return new KeywordFilter(sorted, undefined);
    const bits = new Uint8Array(DENSE_BYTES);
    for (const p of sorted) bits[p >> 3]! |= 1 << (p & 7);
    return new KeywordFilter(undefined, bits);
  }

  private static fromBitmap(bits: Uint8Array): KeywordFilter {
    let count = 0;
    for (const b of bits) count += POPCOUNT[b]!;
    if (count > SPARSE_LIMIT) return new KeywordFilter(undefined, bits);
    const positions = new Uint16Array(count);
    let n = 0;
    for (let i = 0; i < bits.length; i++) {
      const b = bits[i]!;
      if (b === 0) continue;
      for (let j = 0; j < 8; j++) if (b & (1 << j)) positions[n++] = i * 8 + j;
    }
    return new KeywordFilter(positions, undefined);
  }

  /** Bits set. */
  get bitCount(): number {
    if (this.sparse !== undefined) return this.sparse.length;
    let count = 0;
    for (const b of this.dense!) count += POPCOUNT[b]!;
    return count;
  }

  /** Whether every position of every keyword (precomputed with {@link keywordPositions}) is set. */
  matches(positions: readonly number[]): boolean {
    for (const p of positions) if (!this.has(p)) return false;
    return true;
  }

  /** The filter as bytes: a form byte, then 16-bit positions or the 8 KiB bitmap. */
  encode(): Buffer {
    if (this.dense !== undefined) return Buffer.concat([Buffer.of(DENSE), this.dense]);
    const out = Buffer.allocUnsafe(1 + 2 * this.sparse!.length);
    out[0] = SPARSE;
    for (let i = 0; i < this.sparse!.length; i++) out.writeUInt16BE(this.sparse![i]!, 1 + 2 * i);
    return out;
  }

  /** Whether two filters have the same bits. */
  equals(other: KeywordFilter): boolean {
    return this.encode().equals(other.encode());
  }

  private has(p: number): boolean {
    if (this.dense !== undefined) return (this.dense[p >> 3]! & (1 << (p & 7))) !== 0;
    const s = this.sparse!;
    let lo = 0;
    let hi = s.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = s[mid]!;
      if (v === p) return true;
      if (v < p) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }

  private orInto(bits: Uint8Array): void {
    if (this.dense !== undefined) {
      for (let i = 0; i < bits.length; i++) bits[i]! |= this.dense[i]!;
      return;
    }
    for (const p of this.sparse!) bits[p >> 3]! |= 1 << (p & 7);
  }
}

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, i) => {
  let n = 0;
  for (let v = i; v > 0; v >>= 1) n += v & 1;
  return n;
});
