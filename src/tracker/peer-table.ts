import { ipv4Number, ipv6Bytes } from '../codec/compact.js';

/** Bytes of one slot's address: 16 for the IP (an IPv4 one in the first 4), 2 for the port. */
const ADDRESS_BYTES = 18;
const PEER_ID_BYTES = 20;
const INITIAL_CAPACITY = 8;

/**
 * One swarm's peers as parallel arrays indexed by slot, with their compact addresses in one
 * byte array. A tracker's hot path samples dozens of peers per announce: with a JS object per
 * peer each sample is a cache miss and every new peer is garbage to collect, and that was most
 * of an announce's time. Slots are dense (removal moves the last one into the hole).
 */
export class PeerTable {
  /** Live peers, in slots 0 … size − 1. */
  size = 0;
  seeders = 0;
  private readonly slots = new Map<PeerKey, number>();
  private keys: PeerKey[] = [];
  private hosts: string[] = [];
  private addresses = new Uint8Array(INITIAL_CAPACITY * ADDRESS_BYTES);
  private peerIds = new Uint8Array(INITIAL_CAPACITY * PEER_ID_BYTES);
  private families = new Uint8Array(INITIAL_CAPACITY);
  private seeds = new Uint8Array(INITIAL_CAPACITY);
  private lastSeen = new Float64Array(INITIAL_CAPACITY);

  /** The slot of the peer at `key` (see {@link peerKey}), or −1. */
  slotOf(key: PeerKey): number {
    return this.slots.get(key) ?? -1;
  }

  /** Adds the peer at `host`:`port` (its `key`), not yet in the table; returns its slot. */
  add(
    key: PeerKey,
    host: string,
    port: number,
    peerId: Uint8Array,
    seed: boolean,
    now: number,
  ): number {
    if (this.size === this.families.length) this.grow();
    const slot = this.size++;
    this.slots.set(key, slot);
    this.keys[slot] = key;
    this.hosts[slot] = host;
    const at = slot * ADDRESS_BYTES;
    if (typeof key === 'number') {
      const ip = Math.floor(key / 65536);
      this.families[slot] = 4;
      this.addresses[at] = ip >>> 24;
      this.addresses[at + 1] = (ip >>> 16) & 255;
      this.addresses[at + 2] = (ip >>> 8) & 255;
      this.addresses[at + 3] = ip & 255;
    } else {
      this.families[slot] = 6;
      this.addresses.set(ipv6Bytes(host), at);
    }
    this.addresses[at + 16] = port >>> 8;
    this.addresses[at + 17] = port & 255;
    this.seeds[slot] = 0;
    this.update(slot, peerId, seed, now);
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
    this.slots.delete(this.keys[slot]!);
    const last = --this.size;
    if (slot !== last) {
      this.keys[slot] = this.keys[last]!;
      this.hosts[slot] = this.hosts[last]!;
      this.families[slot] = this.families[last]!;
      this.seeds[slot] = this.seeds[last]!;
      this.lastSeen[slot] = this.lastSeen[last]!;
      this.addresses.copyWithin(
        slot * ADDRESS_BYTES,
        last * ADDRESS_BYTES,
        (last + 1) * ADDRESS_BYTES,
      );
      this.peerIds.copyWithin(
        slot * PEER_ID_BYTES,
        last * PEER_ID_BYTES,
        (last + 1) * PEER_ID_BYTES,
      );
      this.slots.set(this.keys[slot]!, slot);
    }
    this.keys.length = this.hosts.length = last;
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

  host(slot: number): string {
    return this.hosts[slot]!;
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

  private grow(): void {
    const capacity = this.families.length * 2;
    this.addresses = grown(this.addresses, new Uint8Array(capacity * ADDRESS_BYTES));
    this.peerIds = grown(this.peerIds, new Uint8Array(capacity * PEER_ID_BYTES));
    this.families = grown(this.families, new Uint8Array(capacity));
    this.seeds = grown(this.seeds, new Uint8Array(capacity));
    this.lastSeen = grown(this.lastSeen, new Float64Array(capacity));
  }
}

function grown<T extends Uint8Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

/** How a {@link PeerTable} knows a peer: a number for IPv4 (cheap to hash), else a string. */
export type PeerKey = number | string;

/** The key of the peer at `host` (an IPv4 or IPv6 address) and `port`. */
export function peerKey(host: string, port: number): PeerKey {
  const ip = ipv4Number(host);
  return ip >= 0 ? ip * 65536 + port : `${host}:${port}`;
}
