import type { PeerEndpoint } from '../codec/compact.js';
import type { RandomSource } from '../runtime/runtime.js';

/** Bounds of what the DHT stores for others. */
export interface PeerStoreLimits {
  readonly maxInfoHashes: number;
  readonly maxPeersPerInfoHash: number;
  /** Announced peers are forgotten after this long (BEP 5 suggests 30 minutes). */
  readonly ttlMs: number;
}

interface Stored {
  host: string;
  port: number;
  seed: boolean;
  at: number;
}

/**
 * Peers announced to us per info-hash (BEP 5 announce_peer), bounded in info-hashes and peers
 * per hash, expiring after a TTL. Also answers BEP 51 samples of the info-hashes held.
 */
export class PeerStore {
  private readonly byHash = new Map<string, Map<string, Stored>>();

  constructor(
    private readonly limits: PeerStoreLimits,
    private readonly random: RandomSource,
  ) {}

  add(infoHash: Uint8Array, peer: PeerEndpoint, seed: boolean, now: number): void {
    const key = Buffer.from(infoHash).toString('hex');
    let peers = this.byHash.get(key);
    if (!peers) {
      if (this.byHash.size >= this.limits.maxInfoHashes) this.expire(now);
      if (this.byHash.size >= this.limits.maxInfoHashes) {
        this.byHash.delete(this.byHash.keys().next().value!); // the oldest info-hash gives way
      }
      peers = new Map();
      this.byHash.set(key, peers);
    }
    const peerKey = `${peer.host}:${peer.port}`;
    peers.delete(peerKey);
    peers.set(peerKey, { host: peer.host, port: peer.port, seed, at: now });
    if (peers.size > this.limits.maxPeersPerInfoHash) peers.delete(peers.keys().next().value!);
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
      for (const [pk, p] of peers) if (now - p.at >= this.limits.ttlMs) peers.delete(pk);
      if (peers.size === 0) this.byHash.delete(key);
    }
  }

  get size(): number {
    return this.byHash.size;
  }
}
