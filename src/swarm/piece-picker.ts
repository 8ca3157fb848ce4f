import type { Bitfield } from '../codec/bitfield.js';
import type { RandomSource } from '../runtime/runtime.js';

/** How many pieces are picked at random before switching to rarest first. */
const RANDOM_FIRST_PIECES = 4;

/**
 * How new pieces are chosen: `rarest` first (the default, which keeps a swarm healthy) or
 * `sequential` (lowest index first, for players that read a file from the start). Pieces with
 * streaming deadlines come before either (see `StreamDeadlines`).
 */
export type PickMode = 'rarest' | 'sequential';

/**
 * Chooses which piece to start next from a peer: pieces we want (priority > 0) and lack,
 * that the peer has and that are not already being fetched, higher priority before lower. In
 * `rarest` mode the first few at random (so a new peer quickly has something to trade), then
 * rarest first with random tie-breaks; in `sequential` mode the lowest index first.
 */
export class PiecePicker {
  /** How many connected peers have each piece. */
  readonly availability: Uint32Array;
  /** Per-piece priority: 0 = skip, 1 = normal, up to 7 = highest. */
  readonly priority: Uint8Array;
  /** The highest priority of any piece (kept by {@link prioritiesChanged}). */
  private topPriority = 1;
  /** How new pieces are chosen. */
  mode: PickMode = 'rarest';

  constructor(
    readonly pieceCount: number,
    private readonly have: Bitfield,
    private readonly random: RandomSource,
  ) {
    this.availability = new Uint32Array(pieceCount);
    this.priority = new Uint8Array(pieceCount).fill(1);
  }

  /** Call after writing to {@link priority}. */
  prioritiesChanged(): void {
    this.topPriority = 0;
    for (const p of this.priority) if (p > this.topPriority) this.topPriority = p;
  }

  /** A peer announced all the pieces in `bits`. */
  addPeer(bits: Bitfield): void {
    for (const i of bits.indices()) this.availability[i]!++;
  }

  /** A peer with `bits` left. */
  removePeer(bits: Bitfield): void {
    for (const i of bits.indices()) if (this.availability[i]! > 0) this.availability[i]!--;
  }

  /** A peer announced piece `index`. */
  addHave(index: number): void {
    this.availability[index]!++;
  }

  /** True when piece `index` is wanted and missing. */
  wants(index: number): boolean {
    return this.priority[index]! > 0 && !this.have.has(index);
  }

  /** True while some wanted piece is missing. */
  wantsMore(): boolean {
    for (let i = 0; i < this.pieceCount; i++)
      if (this.priority[i]! > 0 && !this.have.has(i)) return true;
    return false;
  }

  /** True when `peer` has a piece we want. */
  interestedIn(peer: Bitfield): boolean {
    const ours = this.have.bytes;
    const theirs = peer.bytes;
    const bytes = Math.min(ours.length, theirs.length);
    // A byte at a time: in a swarm most bytes hold nothing the peer has and we lack.
    for (let b = 0; b < bytes; b++) {
      const lacking = theirs[b]! & ~ours[b]!;
      if (lacking === 0) continue;
      const end = Math.min(this.pieceCount, b * 8 + 8);
      for (let i = b * 8; i < end; i++)
        if ((lacking & (0x80 >> (i & 7))) !== 0 && this.priority[i]! > 0) return true;
    }
    return false;
  }

  /**
   * The next piece to start from `peer`, or -1. `busy(i)` excludes pieces already in progress;
   * `skip`, when given, is a bitfield of pieces `busy` is known to exclude, passed over eight at
   * a time (the choice is the same, found sooner).
   */
  pick(peer: Bitfield, busy: (index: number) => boolean, skip?: Uint8Array): number {
    if (this.mode === 'sequential') return this.pickSequential(peer, busy);
    const n = this.pieceCount;
    const start = n > 0 ? this.random.int(n) : 0;
    const randomMode = this.have.cardinality < RANDOM_FIRST_PIECES;
    let best = -1;
    let bestPriority = 0;
    let bestAvail = Number.POSITIVE_INFINITY;
    const ours = this.have.bytes;
    const theirs = peer.bytes;
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n;
      // Eight pieces at once where the peer has none we lack (or none not in `skip`), as in
      // most of a swarm's bytes (the pieces are still visited in the same order, so the choice
      // is the same).
      if (
        (i & 7) === 0 &&
        i + 8 <= n &&
        (theirs[i >> 3]! & ~ours[i >> 3]! & ~(skip === undefined ? 0 : skip[i >> 3]!)) === 0
      ) {
        k += 7;
        continue;
      }
      const p = this.priority[i]!;
      if (p === 0 || this.have.has(i) || !peer.has(i)) continue;
      const a = this.availability[i]!;
      // `busy` is the costly test: only for pieces that would be picked.
      if (!randomMode && !(p > bestPriority || (p === bestPriority && a < bestAvail))) continue;
      if (busy(i)) continue;
      // Nothing is rarer than a piece only this peer has, at the top priority.
      if (randomMode || (a <= 1 && p === this.topPriority)) return i;
      best = i;
      bestPriority = p;
      bestAvail = a;
    }
    return best;
  }

  /** The lowest-index piece of the highest priority that `peer` has and we lack, or -1. */
  private pickSequential(peer: Bitfield, busy: (index: number) => boolean): number {
    let best = -1;
    let bestPriority = 0;
    for (let i = 0; i < this.pieceCount; i++) {
      const p = this.priority[i]!;
      if (p <= bestPriority || this.have.has(i) || !peer.has(i) || busy(i)) continue;
      if (p === this.topPriority) return i;
      best = i;
      bestPriority = p;
    }
    return best;
  }
}
