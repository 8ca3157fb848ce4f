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
  /** IPv4 peers: the address as a 32-bit number, so a UDP reply writes it without a copy call. */
  readonly ip4: number;
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

/**
 * The outcome of an announce: the peers picked and the swarm's counts (a UDP reply is built
 * straight from these; {@link SwarmRegistry.response} makes the HTTP one), or the reason to
 * refuse.
 */
export type AnnounceOutcome =
  | {
      ok: true;
      picked: readonly TrackedPeer[];
      interval: number;
      minInterval: number;
      complete: number;
      incomplete: number;
    }
  | { ok: false; reason: string };

/**
 * Who is in which swarm: the whole state of a tracker. Peers are keyed by address and port,
 * expire when they stop announcing, and every structure is bounded. It never sees content.
 * Built for speed: peers are sampled at random without copying the swarm, and their compact
 * addresses are kept ready.
 */
export class SwarmRegistry {
  private readonly swarms = new Map<string, Swarm>();
  /** xorshift32 state: peer sampling needs speed, not secrecy (seeded from the runtime). */
  private rng: number;
  announces = 0;
  scrapes = 0;

  constructor(
    private readonly options: RegistryOptions,
    random: RandomSource,
  ) {
    this.rng = random.bytes(4).readUInt32BE(0) || 1;
  }

  /** Records an announce from `host` and picks peers for the reply. */
  announce(r: AnnounceRequest, host: string, nowMs: number): AnnounceOutcome {
    const key = keyOf(r.infoHash);
    if (this.options.allowList && !this.options.allowList.has(hexOf(r.infoHash))) {
      return { ok: false, reason: 'torrent not allowed on this tracker' };
    }
    this.announces++;
    let swarm = this.swarms.get(key);
    if (!swarm) {
      if (r.event === 'stopped') return this.outcome(undefined, []);
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
      return this.outcome(swarm, []);
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
      const compact = encodeCompactPeers([{ host, port: r.port }], family);
      peer = {
        host,
        port: r.port,
        family,
        compact,
        ip4: family === 4 ? compact.readUInt32BE(0) : 0,
        peerId: Buffer.from(r.peerId),
        seed,
        lastSeenMs: nowMs,
        slot: swarm.list.length,
      };
      swarm.peers.set(peerKey, peer);
      swarm.list.push(peer);
      if (seed) swarm.seeders++;
    }
    return this.outcome(swarm, this.pick(swarm, peer, r.numWant, nowMs));
  }

  /** Counts for each info-hash (hex) asked about; unknown ones are all zero. */
  scrape(infoHashes: readonly Uint8Array[]): Map<string, ScrapeCounts> {
    this.scrapes++;
    const out = new Map<string, ScrapeCounts>();
    for (const h of infoHashes) {
      const s = this.swarms.get(keyOf(h));
      out.set(hexOf(h), {
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

  /** The reply to an announce in the shape the HTTP encoder takes. */
  response(outcome: Extract<AnnounceOutcome, { ok: true }>): AnnounceResponse {
    return {
      interval: outcome.interval,
      minInterval: outcome.minInterval,
      complete: outcome.complete,
      incomplete: outcome.incomplete,
      peers: outcome.picked.map((p): PeerEndpoint => ({ host: p.host, port: p.port })),
    };
  }

  private outcome(swarm: Swarm | undefined, picked: readonly TrackedPeer[]): AnnounceOutcome {
    return {
      ok: true,
      picked,
      interval: this.options.intervalSeconds,
      minInterval: this.options.minIntervalSeconds,
      complete: swarm?.seeders ?? 0,
      incomplete: swarm ? swarm.peers.size - swarm.seeders : 0,
    };
  }

  /**
   * Up to `want` random live peers other than the asker (seeds get no other seeds). The swarm
   * is walked from a random place with a random stride coprime to its size, which visits every
   * peer once, in an order that changes each time, without copying or a set of seen indexes.
   */
  private pick(swarm: Swarm, self: TrackedPeer, want: number, nowMs: number): TrackedPeer[] {
    const limit = this.options.peerTimeoutSeconds * 1000;
    const list = swarm.list;
    const n = list.length;
    const out: TrackedPeer[] = [];
    if (n <= 1 || want <= 0) return out;
    let i = this.randomBelow(n);
    let step = 1 + this.randomBelow(n - 1);
    while (gcd(step, n) !== 1) step = (step % (n - 1)) + 1;
    for (let k = 0; k < n && out.length < want; k++, i = (i + step) % n) {
      const p = list[i]!;
      if (p !== self && nowMs - p.lastSeenMs <= limit && !(self.seed && p.seed)) out.push(p);
    }
    return out;
  }

  /** A number in [0, n) from the xorshift32 generator. */
  private randomBelow(n: number): number {
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0 || 1;
    return this.rng % n;
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

function gcd(a: number, b: number): number {
  while (b !== 0) {
    const r = a % b;
    a = b;
    b = r;
  }
  return a;
}

/** The swarms map's key for an info-hash: its 20 bytes as a latin1 string (half of hex). */
function keyOf(bytes: Uint8Array): string {
  return bufferOf(bytes).toString('latin1');
}

function bufferOf(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** Hex of an info-hash without copying it first when it is already a Buffer. */
function hexOf(bytes: Uint8Array): string {
  return bufferOf(bytes).toString('hex');
}
