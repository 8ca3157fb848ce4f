import type { PeerEndpoint } from '../codec/compact.js';
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

interface PeerEntry {
  host: string;
  port: number;
  peerId: Uint8Array;
  seed: boolean;
  lastSeenMs: number;
}

interface Swarm {
  readonly peers: Map<string, PeerEntry>;
  seeders: number;
  downloaded: number;
}

/** The outcome of an announce: a reply, or the reason to refuse. */
export type AnnounceOutcome =
  | { ok: true; response: AnnounceResponse; peerIds: Map<string, Uint8Array> }
  | { ok: false; reason: string };

/**
 * Who is in which swarm: the whole state of a tracker. Peers are keyed by address and port,
 * expire when they stop announcing, and every structure is bounded. It never sees content.
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
        return { ok: true, response: this.reply(undefined, []), peerIds: new Map() };
      if (this.swarms.size >= this.options.maxSwarms) this.expire(nowMs);
      if (this.swarms.size >= this.options.maxSwarms)
        return { ok: false, reason: 'tracker is full' };
      swarm = { peers: new Map(), seeders: 0, downloaded: 0 };
      this.swarms.set(key, swarm);
    }
    const peerKey = `${host}:${r.port}`;
    const existing = swarm.peers.get(peerKey);
    if (existing?.seed) swarm.seeders--;
    if (r.event === 'stopped') {
      swarm.peers.delete(peerKey);
      if (swarm.peers.size === 0 && swarm.downloaded === 0) this.swarms.delete(key);
      return { ok: true, response: this.reply(swarm, []), peerIds: new Map() };
    }
    if (r.event === 'completed' && existing && !existing.seed) swarm.downloaded++;
    if (!existing && swarm.peers.size >= this.options.maxPeersPerSwarm) this.evictOldest(swarm);
    const seed = r.left === 0;
    swarm.peers.set(peerKey, {
      host,
      port: r.port,
      peerId: Buffer.from(r.peerId),
      seed,
      lastSeenMs: nowMs,
    });
    if (seed) swarm.seeders++;
    const picked = this.pick(swarm, peerKey, r.numWant, nowMs, seed);
    const peerIds = new Map(picked.map((p) => [`${p.host}:${p.port}`, p.peerId]));
    return { ok: true, response: this.reply(swarm, picked), peerIds };
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
      for (const [peerKey, p] of swarm.peers) {
        if (nowMs - p.lastSeenMs > limit) {
          swarm.peers.delete(peerKey);
          if (p.seed) swarm.seeders--;
        }
      }
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

  private reply(swarm: Swarm | undefined, peers: PeerEntry[]): AnnounceResponse {
    return {
      interval: this.options.intervalSeconds,
      minInterval: this.options.minIntervalSeconds,
      complete: swarm?.seeders ?? 0,
      incomplete: swarm ? swarm.peers.size - swarm.seeders : 0,
      peers: peers.map((p): PeerEndpoint => ({ host: p.host, port: p.port })),
    };
  }

  /** Up to `want` random live peers other than the asker (seeds get no other seeds). */
  private pick(
    swarm: Swarm,
    self: string,
    want: number,
    nowMs: number,
    askerIsSeed: boolean,
  ): PeerEntry[] {
    const limit = this.options.peerTimeoutSeconds * 1000;
    const all: PeerEntry[] = [];
    for (const [key, p] of swarm.peers) {
      if (key === self || nowMs - p.lastSeenMs > limit || (askerIsSeed && p.seed)) continue;
      all.push(p);
    }
    if (all.length <= want) return all;
    for (let i = 0; i < want; i++) {
      const j = i + this.random.int(all.length - i);
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    return all.slice(0, want);
  }

  private evictOldest(swarm: Swarm): void {
    let oldestKey: string | undefined;
    let oldest = Number.POSITIVE_INFINITY;
    for (const [k, p] of swarm.peers) {
      if (p.lastSeenMs < oldest) {
        oldest = p.lastSeenMs;
        oldestKey = k;
      }
    }
    if (oldestKey === undefined) return;
    if (swarm.peers.get(oldestKey)?.seed) swarm.seeders--;
    swarm.peers.delete(oldestKey);
  }
}
