import { decodeCompactPeers, ipv4Number, ipv6Bytes } from '../codec/compact.js';

/** Bytes of one slot's address: 16 for the IP (an IPv4 one in the first 4), 2 for the port. */
const ADDRESS_BYTES = 18;
const PEER_ID_BYTES = 20;
const INITIAL_CAPACITY = 8;

/**
 * One swarm's peers as parallel typed arrays indexed by a dense slot, found by address through
 * an open-addressing hash index that is itself a typed array. A tracker's hot path samples
 * dozens of peers per announce and a busy one keeps millions: with a JS object, a string or a
 * map entry per peer, each sample is a cache miss and the garbage collector walks them all,
 * which was most of an announce's time. Removal moves the last slot into the hole.
 */
export class PeerTable {
  /** Live peers, in slots 0 … size − 1. */
  size = 0;
  seeders = 0;
  private addresses = new Uint8Array(INITIAL_CAPACITY * ADDRESS_BYTES);
  private peerIds = new Uint8Array(INITIAL_CAPACITY * PEER_ID_BYTES);
  private families = new Uint8Array(INITIAL_CAPACITY);
  private seeds = new Uint8Array(INITIAL_CAPACITY);
  private lastSeen = new Float64Array(INITIAL_CAPACITY);
  /** Linear-probing hash index: slot + 1, or 0 for an empty place; at most half full. */
  private index = new Int32Array(INITIAL_CAPACITY * 2);
  /** The address being looked up or added, in the layout of {@link addresses}. */
  private readonly probe = new Uint8Array(ADDRESS_BYTES);
  private probeFamily: 4 | 6 = 4;

  /** The slot of the peer at `host` (an IPv4 or IPv6 address) and `port`, or −1. */
  find(host: string, port: number): number {
    this.setProbe(host, port);
    const mask = this.index.length - 1;
    for (let at = this.hashOf(this.probe, 0) & mask; ; at = (at + 1) & mask) {
      const entry = this.index[at]!;
      if (entry === 0) return -1;
      if (this.matchesProbe(entry - 1)) return entry - 1;
    }
  }

  /** Adds the peer at `host`:`port`, which must not be in the table; returns its slot. */
  add(host: string, port: number, peerId: Uint8Array, seed: boolean, now: number): number {
    if (this.size === this.families.length) this.grow();
    this.setProbe(host, port);
    const slot = this.size++;
    this.addresses.set(this.probe, slot * ADDRESS_BYTES);
    this.families[slot] = this.probeFamily;
    this.seeds[slot] = 0;
    this.update(slot, peerId, seed, now);
    this.indexInsert(slot);
    return slot;
  }

  /** Records a re-announce. `peerId` is copied (20 bytes, as every decoder checks). */
  update(slot: number, peerId: Uint8Array, seed: boolean, now: number): void {
    const was = this.seeds[slot] === 1;
    if (was !== seed) this.seeders += seed ? 1 : -1;
    this.seeds[slot] = seed ? 1 : 0;
    this.lastSeen[slot] = now;
    this.peerIds.set(peerId.subarray(0, PEER_ID_BYTES), slot * PEER_ID_BYTES);
  }

  /** Removes the peer in `slot`; the last slot's peer moves into it. */
  remove(slot: number): void {
    if (this.seeds[slot] === 1) this.seeders--;
    this.indexDelete(this.positionOf(slot));
    const last = --this.size;
    if (slot === last) return;
    this.index[this.positionOf(last)] = slot + 1;
    this.families[slot] = this.families[last]!;
    this.seeds[slot] = this.seeds[last]!;
    this.lastSeen[slot] = this.lastSeen[last]!;
    this.addresses.copyWithin(
      slot * ADDRESS_BYTES,
      last * ADDRESS_BYTES,
      (last + 1) * ADDRESS_BYTES,
    );
    this.peerIds.copyWithin(slot * PEER_ID_BYTES, last * PEER_ID_BYTES, (last + 1) * PEER_ID_BYTES);
  }

  /** Removes peers not seen since `before`. */
  expire(before: number): void {
    for (let slot = this.size - 1; slot >= 0; slot--)
      if (this.lastSeen[slot]! < before) this.remove(slot);
  }

  /** The slot announced least recently, or −1 when empty. */
  oldest(): number {
    let found = -1;
    for (let slot = 0; slot < this.size; slot++)
      if (found < 0 || this.lastSeen[slot]! < this.lastSeen[found]!) found = slot;
    return found;
  }

  /** The slot's IP address as text (made on demand: only HTTP replies and tests need it). */
  host(slot: number): string {
    const family = this.family(slot);
    const compact = Buffer.alloc(family === 4 ? 6 : ADDRESS_BYTES);
    this.writeCompact(slot, compact, 0);
    return decodeCompactPeers(compact, family)[0]!.host;
  }

  port(slot: number): number {
    const at = slot * ADDRESS_BYTES;
    return (this.addresses[at + 16]! << 8) | this.addresses[at + 17]!;
  }

  family(slot: number): 4 | 6 {
    return this.families[slot] === 6 ? 6 : 4;
  }

  peerId(slot: number): Uint8Array {
    return this.peerIds.slice(slot * PEER_ID_BYTES, (slot + 1) * PEER_ID_BYTES);
  }

  isSeed(slot: number): boolean {
    return this.seeds[slot] === 1;
  }

  /** Writes the slot's compact address (6 or 18 bytes, BEP 23 / BEP 7) at `at`; returns its end. */
  writeCompact(slot: number, out: Uint8Array, at: number): number {
    const from = slot * ADDRESS_BYTES;
    const a = this.addresses;
    if (this.families[slot] === 6) {
      out.set(a.subarray(from, from + ADDRESS_BYTES), at);
      return at + ADDRESS_BYTES;
    }
    // Plain stores: a copy call per 6-byte entry costs more than the bytes.
    out[at] = a[from]!;
    out[at + 1] = a[from + 1]!;
    out[at + 2] = a[from + 2]!;
    out[at + 3] = a[from + 3]!;
    out[at + 4] = a[from + 16]!;
    out[at + 5] = a[from + 17]!;
    return at + 6;
  }

  /**
   * Up to `want` peers other than `self`, seen at or after `since`, of `family` (0: either);
   * a seed gets no seeds. The table is walked from `start` with stride `step` (coprime to its
   * size), which visits every slot once in an order the caller randomises.
   */
  sample(
    self: number,
    want: number,
    family: 0 | 4 | 6,
    since: number,
    start: number,
    step: number,
  ): number[] {
    const out: number[] = [];
    const n = this.size;
    const selfSeed = this.seeds[self] === 1;
    let i = start;
    for (let k = 0; k < n && out.length < want; k++) {
      if (
        i !== self &&
        this.lastSeen[i]! >= since &&
        (family === 0 || this.families[i] === family) &&
        !(selfSeed && this.seeds[i] === 1)
      )
        out.push(i);
      i += step;
      if (i >= n) i -= n;
    }
    return out;
  }

  private setProbe(host: string, port: number): void {
    const p = this.probe;
    const ip = ipv4Number(host);
    if (ip >= 0) {
      p.fill(0);
      p[0] = ip >>> 24;
      p[1] = (ip >>> 16) & 255;
      p[2] = (ip >>> 8) & 255;
      p[3] = ip & 255;
      this.probeFamily = 4;
    } else {
      p.set(ipv6Bytes(host), 0);
      this.probeFamily = 6;
    }
    p[16] = port >>> 8;
    p[17] = port & 255;
  }

  private matchesProbe(slot: number): boolean {
    if (this.families[slot] !== this.probeFamily) return false;
    const a = this.addresses;
    const p = this.probe;
    const at = slot * ADDRESS_BYTES;
    for (let i = 0; i < ADDRESS_BYTES; i++) if (a[at + i] !== p[i]) return false;
    return true;
  }

  /** A 32-bit hash of the 18 address bytes at `at` in `bytes` (FNV-1a, then mixed). */
  private hashOf(bytes: Uint8Array, at: number): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < ADDRESS_BYTES; i++) h = Math.imul(h ^ bytes[at + i]!, 0x01000193);
    h ^= h >>> 16;
    return Math.imul(h, 0x45d9f3b) ^ (h >>> 13);
  }

  private indexInsert(slot: number): void {
    const mask = this.index.length - 1;
    let at = this.hashOf(this.addresses, slot * ADDRESS_BYTES) & mask;
    while (this.index[at] !== 0) at = (at + 1) & mask;
    this.index[at] = slot + 1;
  }

  /** Where in the index `slot` sits. */
  private positionOf(slot: number): number {
    const mask = this.index.length - 1;
    let at = this.hashOf(this.addresses, slot * ADDRESS_BYTES) & mask;
    while (this.index[at] !== slot + 1) at = (at + 1) & mask;
    return at;
  }

  /** Empties place `hole`, moving later entries of its probe run back so none is cut off. */
  private indexDelete(hole: number): void {
    const mask = this.index.length - 1;
    let gap = hole;
    for (let at = (gap + 1) & mask; this.index[at] !== 0; at = (at + 1) & mask) {
      const home = this.hashOf(this.addresses, (this.index[at]! - 1) * ADDRESS_BYTES) & mask;
      // Move the entry into the gap unless its home lies cyclically in (gap, at].
      const inRun = gap <= at ? home > gap && home <= at : home > gap || home <= at;
      if (inRun) continue;
      this.index[gap] = this.index[at]!;
      gap = at;
    }
    this.index[gap] = 0;
  }

  private grow(): void {
    const capacity = this.families.length * 2;
    this.addresses = grown(this.addresses, new Uint8Array(capacity * ADDRESS_BYTES));
    this.peerIds = grown(this.peerIds, new Uint8Array(capacity * PEER_ID_BYTES));
    this.families = grown(this.families, new Uint8Array(capacity));
    this.seeds = grown(this.seeds, new Uint8Array(capacity));
    this.lastSeen = grown(this.lastSeen, new Float64Array(capacity));
    this.index = new Int32Array(capacity * 2);
    for (let slot = 0; slot < this.size; slot++) this.indexInsert(slot);
  }
}

function grown<T extends Uint8Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
