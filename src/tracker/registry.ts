import { encodeCompactPeers, ipFamily, type PeerEndpoint } from '../codec/compact.js';
import type { RandomSource } from '../runtime/runtime.js';
import type { AnnounceRequest, AnnounceResponse, ScrapeCounts } from './http-messages.js';

/** Bounds and timing of a tracker's memory of swarms. */
export interface RegistryOptions {
  /** Seconds clients are told to wait between announces. */
  readonly intervalSeconds: number;
  readonly minIntervalSeconds: number;
  /** A peer that has not announced for this long is forgotten. */
  readonly peerTimeoutSeconds: number;
  readonly maxSwarms: number;
  readonly maxPeersPerSwarm: number;
  /** When set, only these info-hashes (hex) are tracked. */
  readonly allowList?: ReadonlySet<string>;
}

/** A peer as the tracker keeps it: its compact address is computed once, at its first announce. */
export interface TrackedPeer {
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
  /** 6 (IPv4) or 18 (IPv6) bytes, ready for compact replies. */
  readonly compact: Buffer;
  peerId: Uint8Array;
  seed: boolean;
  lastSeenMs: number;
  /** Position in its swarm's list (for O(1) removal). */
  slot: number;
}

interface Swarm {
  readonly peers: Map<string, TrackedPeer>;
  readonly list: TrackedPeer[];
  seeders: number;
  downloaded: number;
}

/** The outcome of an announce: a reply with the peers picked, or the reason to refuse. */
export type AnnounceOutcome =
  | { ok: true; response: AnnounceResponse; picked: readonly TrackedPeer[] }
  | { ok: false; reason: string };

/**
 * Who is in which swarm: the whole state of a tracker. Peers are keyed by address and port,
 * expire when they stop announcing, and every structure is bounded. It never sees content.
 * Built for speed: peers are sampled at random without copying the swarm, and their compact
 * addresses are kept ready.
 */
export class SwarmRegistry {
  private readonly swarms = new Map<string, Swarm>();
  announces = 0;
  scrapes = 0;

  constructor(
    private readonly options: RegistryOptions,
    private readonly random: RandomSource,
  ) {}

  /** Records an announce from `host` and picks peers for the reply. */
  announce(r: AnnounceRequest, host: string, nowMs: number): AnnounceOutcome {
    const key = Buffer.from(r.infoHash).toString('hex');
    if (this.options.allowList && !this.options.allowList.has(key)) {
      return { ok: false, reason: 'torrent not allowed on this tracker' };
    }
    this.announces++;
    let swarm = this.swarms.get(key);
    if (!swarm) {
      if (r.event === 'stopped')
        return { ok: true, response: this.reply(undefined, []), picked: [] };
      if (this.swarms.size >= this.options.maxSwarms) this.expire(nowMs);
      if (this.swarms.size >= this.options.maxSwarms)
        return { ok: false, reason: 'tracker is full' };
      swarm = { peers: new Map(), list: [], seeders: 0, downloaded: 0 };
      this.swarms.set(key, swarm);
    }
    const peerKey = `${host}:${r.port}`;
    let peer = swarm.peers.get(peerKey);
    if (r.event === 'stopped') {
      if (peer) this.remove(swarm, peerKey, peer);
      if (swarm.peers.size === 0 && swarm.downloaded === 0) this.swarms.delete(key);
      return { ok: true, response: this.reply(swarm, []), picked: [] };
    }
    if (r.event === 'completed' && peer && !peer.seed) swarm.downloaded++;
    const seed = r.left === 0;
    if (peer) {
      if (peer.seed !== seed) swarm.seeders += seed ? 1 : -1;
      peer.seed = seed;
      peer.lastSeenMs = nowMs;
      peer.peerId = Buffer.from(r.peerId);
    } else {
      if (swarm.peers.size >= this.options.maxPeersPerSwarm) this.evictOldest(swarm);
      const family = ipFamily(host) === 6 ? 6 : 4;
      peer = {
        host,
        port: r.port,
        family,
        compact: encodeCompactPeers([{ host, port: r.port }], family),
        peerId: Buffer.from(r.peerId),
        seed,
        lastSeenMs: nowMs,
        slot: swarm.list.length,
      };
      swarm.peers.set(peerKey, peer);
      swarm.list.push(peer);
      if (seed) swarm.seeders++;
    }
    const picked = this.pick(swarm, peer, r.numWant, nowMs);
    return { ok: true, response: this.reply(swarm, picked), picked };
  }

  /** Counts for each info-hash (hex) asked about; unknown ones are all zero. */
  scrape(infoHashes: readonly Uint8Array[]): Map<string, ScrapeCounts> {
    this.scrapes++;
    const out = new Map<string, ScrapeCounts>();
    for (const h of infoHashes) {
      const key = Buffer.from(h).toString('hex');
      const s = this.swarms.get(key);
      out.set(key, {
        complete: s?.seeders ?? 0,
        downloaded: s?.downloaded ?? 0,
        incomplete: s ? s.peers.size - s.seeders : 0,
      });
    }
    return out;
  }

  /** Forgets peers that stopped announcing, and empty swarms. */
  expire(nowMs: number): void {
    const limit = this.options.peerTimeoutSeconds * 1000;
    for (const [key, swarm] of this.swarms) {
      for (const [peerKey, p] of swarm.peers)
        if (nowMs - p.lastSeenMs > limit) this.remove(swarm, peerKey, p);
      if (swarm.peers.size === 0) this.swarms.delete(key);
    }
  }

  /** Totals for the stats endpoint. */
  stats(): { swarms: number; peers: number; seeders: number; announces: number; scrapes: number } {
    let peers = 0;
    let seeders = 0;
    for (const s of this.swarms.values()) {
      peers += s.peers.size;
      seeders += s.seeders;
    }
    return {
      swarms: this.swarms.size,
      peers,
      seeders,
      announces: this.announces,
      scrapes: this.scrapes,
    };
  }

  private reply(swarm: Swarm | undefined, picked: readonly TrackedPeer[]): AnnounceResponse {
    return {
      interval: this.options.intervalSeconds,
      minInterval: this.options.minIntervalSeconds,
      complete: swarm?.seeders ?? 0,
      incomplete: swarm ? swarm.peers.size - swarm.seeders : 0,
      peers: picked.map((p): PeerEndpoint => ({ host: p.host, port: p.port })),
    };
  }

  /**
   * Up to `want` random live peers other than the asker (seeds get no other seeds), sampled
   * by random index so a large swarm is not copied for every announce.
   */
  private pick(swarm: Swarm, self: TrackedPeer, want: number, nowMs: number): TrackedPeer[] {
    const limit = this.options.peerTimeoutSeconds * 1000;
    const usable = (p: TrackedPeer) =>
      p !== self && nowMs - p.lastSeenMs <= limit && !(self.seed && p.seed);
    const list = swarm.list;
    if (list.length - 1 <= want) return list.filter(usable);
    const out: TrackedPeer[] = [];
    const seen = new Set<number>();
    for (let tries = 0; out.length < want && tries < want * 3; tries++) {
      const i = this.random.int(list.length);
      if (seen.has(i)) continue;
      seen.add(i);
      const p = list[i]!;
      if (usable(p)) out.push(p);
    }
    return out;
  }

  private remove(swarm: Swarm, key: string, peer: TrackedPeer): void {
    swarm.peers.delete(key);
    if (peer.seed) swarm.seeders--;
    const last = swarm.list.pop()!;
    if (last !== peer) {
      swarm.list[peer.slot] = last;
      last.slot = peer.slot;
    }
  }

  private evictOldest(swarm: Swarm): void {
    let oldest: TrackedPeer | undefined;
    for (const p of swarm.list) if (!oldest || p.lastSeenMs < oldest.lastSeenMs) oldest = p;
    if (oldest) this.remove(swarm, `${oldest.host}:${oldest.port}`, oldest);
  }
}
