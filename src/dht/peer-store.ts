import type { PeerEndpoint } from '../codec/compact.js';
import type { RandomSource } from '../runtime/runtime.js';
import { hostKey, KeyCounts, type SubnetKey, subnetKey } from './ip-diversity.js';

/** Bounds of what the DHT stores for others. */
export interface PeerStoreLimits {
  readonly maxInfoHashes: number;
  readonly maxPeersPerInfoHash: number;
  /** Announced peers are forgotten after this long (BEP 5 suggests 30 minutes). */
  readonly ttlMs: number;
  /** Peers of one info-hash at one IP address (ports: a few clients behind one NAT). */
  readonly maxPeersPerIp: number;
  /** Peers of one info-hash in one public /24 (IPv6 /64). */
  readonly maxPeersPerSubnet: number;
  /** Entries of one IP address over every info-hash (a node is asked to store few). */
  readonly maxEntriesPerIp: number;
}

/** Defaults of the per-address bounds (the others are the DHT's options). */
export const DEFAULT_PEER_DIVERSITY = {
  maxPeersPerIp: 4,
  maxPeersPerSubnet: 16,
  maxEntriesPerIp: 64,
} as const;

interface Stored {
  readonly host: string;
  readonly port: number;
  readonly seed: boolean;
  readonly at: number;
  /** The address as counted ({@link hostKey}). */
  readonly ip: string;
  /** Its public subnet, or for a private or loopback address the address itself. */
  readonly group: SubnetKey;
}

/**
 * Peers announced to us per info-hash (BEP 5 announce_peer), bounded in info-hashes and peers
 * per hash, expiring after a TTL. Also answers BEP 51 samples of the info-hashes held.
 *
 * No address can crowd out the others: one IP holds at most `maxPeersPerIp` places in an
 * info-hash's list and one public /24 (/64) `maxPeersPerSubnet` (a newcomer beyond that takes
 * the place of its own address's or subnet's oldest entry), a full list gives way from its
 * largest address group, never from a smaller one than the newcomer's, and one IP holds at
 * most `maxEntriesPerIp` entries over the whole store.
 */
export class PeerStore {
  private readonly byHash = new Map<string, Map<string, Stored>>();
  private readonly perIp = new KeyCounts();
  private readonly limits: PeerStoreLimits;

  constructor(
    limits: Omit<PeerStoreLimits, keyof typeof DEFAULT_PEER_DIVERSITY> & Partial<PeerStoreLimits>,
    private readonly random: RandomSource,
  ) {
    this.limits = { ...DEFAULT_PEER_DIVERSITY, ...limits };
  }

  /** Stores (or refreshes) `peer` for `infoHash`; false when its address may store no more. */
  add(infoHash: Uint8Array, peer: PeerEndpoint, seed: boolean, now: number): boolean {
    const ip = hostKey(peer.host);
    const peerKey = `${ip}:${peer.port}`;
    const key = Buffer.from(infoHash).toString('hex');
    let peers = this.byHash.get(key);
    const old = peers?.get(peerKey);
    if (peers && old) {
      peers.delete(peerKey);
      peers.set(peerKey, { ...old, seed, at: now });
      return true;
    }
    if (this.perIp.get(ip) >= this.limits.maxEntriesPerIp) {
      this.expire(now);
      if (this.perIp.get(ip) >= this.limits.maxEntriesPerIp) return false;
    }
    if (!peers) {
      if (this.byHash.size >= this.limits.maxInfoHashes) this.expire(now);
      if (this.byHash.size >= this.limits.maxInfoHashes) {
        const oldest = this.byHash.keys().next().value!; // the oldest info-hash gives way
        this.dropHash(oldest);
      }
      peers = new Map();
      this.byHash.set(key, peers);
    }
    const entry: Stored = {
      host: peer.host,
      port: peer.port,
      seed,
      at: now,
      ip,
      group: subnetKey(ip) ?? ip,
    };
    const evict = this.placeFor(peers, entry, now);
    if (evict !== undefined) this.drop(peers, evict);
    peers.set(peerKey, entry);
    this.perIp.add(ip);
    return true;
  }

  /** Up to `count` random live peers for `infoHash`. */
  get(infoHash: Uint8Array, count: number, now: number): PeerEndpoint[] {
    const peers = this.byHash.get(Buffer.from(infoHash).toString('hex'));
    if (!peers) return [];
    const live = [...peers.values()].filter((p) => now - p.at < this.limits.ttlMs);
    for (let i = live.length - 1; i > 0; i--) {
      const j = this.random.int(i + 1);
      [live[i], live[j]] = [live[j]!, live[i]!];
    }
    return live.slice(0, count).map((p) => ({ host: p.host, port: p.port }));
  }

  /** Up to `count` random info-hashes held (BEP 51). */
  sample(count: number): { samples: Buffer[]; total: number } {
    const keys = [...this.byHash.keys()];
    for (let i = keys.length - 1; i > 0 && keys.length - i <= count; i--) {
      const j = this.random.int(i + 1);
      [keys[i], keys[j]] = [keys[j]!, keys[i]!];
    }
    return { samples: keys.slice(-count).map((k) => Buffer.from(k, 'hex')), total: keys.length };
  }

  expire(now: number): void {
    for (const [key, peers] of this.byHash) {
      for (const [pk, p] of peers) if (now - p.at >= this.limits.ttlMs) this.drop(peers, pk);
      if (peers.size === 0) this.byHash.delete(key);
    }
  }

  get size(): number {
    return this.byHash.size;
  }

  /**
   * Makes room in `peers` for `entry` (expired entries go first) and returns the key of the
   * entry it must replace, if any: the oldest of its own address when that address is at its
   * limit, else of its own subnet when that is; in a full list the oldest of the largest
   * address group, or of the newcomer's own group when none is larger.
   */
  private placeFor(peers: Map<string, Stored>, entry: Stored, now: number): string | undefined {
    let sameIp: string | undefined;
    let ipCount = 0;
    let sameGroup: string | undefined;
    let groupCount = 0;
    for (const [k, p] of peers) {
      if (now - p.at >= this.limits.ttlMs) {
        this.drop(peers, k);
        continue;
      }
      if (p.ip === entry.ip && ipCount++ === 0) sameIp = k;
      if (p.group === entry.group && groupCount++ === 0) sameGroup = k;
    }
    if (ipCount >= this.limits.maxPeersPerIp) return sameIp;
    if (groupCount >= this.limits.maxPeersPerSubnet) return sameGroup;
    if (peers.size < this.limits.maxPeersPerInfoHash) return undefined;
    const groups = new Map<SubnetKey, number>();
    let largest = 0;
    for (const p of peers.values()) {
      const n = (groups.get(p.group) ?? 0) + 1;
      groups.set(p.group, n);
      largest = Math.max(largest, n);
    }
    if (groupCount >= largest) return sameGroup;
    for (const [k, p] of peers) if (groups.get(p.group) === largest) return k;
    return undefined;
  }

  private drop(peers: Map<string, Stored>, peerKey: string): void {
    const p = peers.get(peerKey);
    if (!p) return;
    peers.delete(peerKey);
    this.perIp.remove(p.ip);
  }

  private dropHash(key: string): void {
    const peers = this.byHash.get(key);
    if (!peers) return;
    for (const p of peers.values()) this.perIp.remove(p.ip);
    this.byHash.delete(key);
  }
}
