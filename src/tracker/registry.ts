import type { PeerEndpoint } from '../codec/compact.js';
import type { RandomSource } from '../runtime/runtime.js';
import type { AnnounceRequest, AnnounceResponse, ScrapeCounts } from './http-messages.js';
import { PeerTable } from './peer-table.js';

/** Bounds and timing of a tracker's memory of swarms. */
export interface RegistryOptions {
  /** Seconds clients are told to wait between announces. */
  readonly intervalSeconds: number;
  readonly minIntervalSeconds: number;
  /** A peer that has not announced for this long is forgotten. */
  readonly peerTimeoutSeconds: number;
  readonly maxSwarms: number;
  readonly maxPeersPerSwarm: number;
  /**
   * Peers held across all swarms: with `maxSwarms` the tracker's memory budget (see
   * {@link SwarmRegistry}); announces of new peers beyond it are refused.
   */
  readonly maxPeers: number;
  /** When set, only these info-hashes (hex) are tracked. */
  readonly allowList?: ReadonlySet<string>;
}

/** How often, at most, a full tracker scans every swarm for expired peers to make room. */
const EXPIRE_WHEN_FULL_MS = 10_000;

/**
 * The outcome of an announce: the slots of the peers picked in their swarm's table and the
 * swarm's counts (a UDP reply is built straight from these; {@link SwarmRegistry.response}
 * makes the HTTP one), or the reason to refuse. Slots are valid until the next announce.
 */
export type AnnounceOutcome =
  | {
      ok: true;
      peers: PeerTable;
      picked: readonly number[];
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
 * addresses are kept ready. Memory is bounded by `maxSwarms` swarms (a map entry, its key and
 * a {@link PeerTable}: about 300 bytes for a one-peer swarm) and `maxPeers` peers (44 bytes
 * each, up to twice that while a table is half empty, plus 8 per slot of a large swarm's
 * index); past either limit announces that would add to it are refused.
 */
export class SwarmRegistry {
  private readonly swarms = new Map<string, PeerTable>();
  /** Peers in all swarms. */
  private peerCount = 0;
  private lastFullExpiry = Number.NEGATIVE_INFINITY;
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

  /**
   * Records an announce from `host` and picks peers for the reply: of `family` only (a UDP
   * reply carries one family), or of either (0).
   */
  announce(
    r: AnnounceRequest,
    host: string,
    nowMs: number,
    family: 0 | 4 | 6 = 0,
  ): AnnounceOutcome {
    const key = keyOf(r.infoHash);
    if (this.options.allowList && !this.options.allowList.has(hexOf(r.infoHash))) {
      return { ok: false, reason: 'torrent not allowed on this tracker' };
    }
    this.announces++;
    let peers = this.swarms.get(key);
    if (!peers) {
      if (r.event === 'stopped') return this.outcome(undefined, []);
      if (this.swarms.size >= this.options.maxSwarms) this.expireWhenFull(nowMs);
      if (this.swarms.size >= this.options.maxSwarms)
        return {
          ok: false,
          reason: `tracker is full (${this.options.maxSwarms} torrents); try later`,
        };
    }
    let slot = peers ? peers.find(host, r.port) : -1;
    if (r.event === 'stopped') {
      if (peers && slot >= 0) this.removePeer(peers, slot);
      if (peers && peers.size === 0 && peers.downloaded === 0) this.swarms.delete(key);
      return this.outcome(peers, []);
    }
    if (slot < 0 && this.peerCount >= this.options.maxPeers) {
      this.expireWhenFull(nowMs);
      if (this.peerCount >= this.options.maxPeers)
        return { ok: false, reason: `tracker is full (${this.options.maxPeers} peers); try later` };
    }
    if (!peers) {
      peers = new PeerTable();
      this.swarms.set(key, peers);
    }
    if (r.event === 'completed' && slot >= 0 && !peers.isSeed(slot)) peers.downloaded++;
    const seed = r.left === 0;
    if (slot >= 0) peers.update(slot, r.peerId, seed, nowMs);
    else {
      if (peers.size >= this.options.maxPeersPerSwarm) this.removePeer(peers, peers.oldest());
      slot = peers.add(host, r.port, r.peerId, seed, nowMs, this.randomBelow(peers.size + 1));
      this.peerCount++;
    }
    return this.outcome(peers, this.pick(peers, slot, r.numWant, family, nowMs));
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
        incomplete: s ? s.size - s.seeders : 0,
      });
    }
    return out;
  }

  /** Forgets peers that stopped announcing, and empty swarms. */
  expire(nowMs: number): void {
    const before = nowMs - this.options.peerTimeoutSeconds * 1000;
    for (const [key, peers] of this.swarms) {
      const size = peers.size;
      peers.expire(before);
      this.peerCount -= size - peers.size;
      if (peers.size === 0) this.swarms.delete(key);
    }
  }

  /** Totals for the stats endpoint. */
  stats(): { swarms: number; peers: number; seeders: number; announces: number; scrapes: number } {
    let seeders = 0;
    for (const s of this.swarms.values()) seeders += s.seeders;
    return {
      swarms: this.swarms.size,
      peers: this.peerCount,
      seeders,
      announces: this.announces,
      scrapes: this.scrapes,
    };
  }

  /**
   * Expires peers to make room, at most every {@link EXPIRE_WHEN_FULL_MS}: a scan of every
   * swarm per refused announce would let a flood of them cost a full scan each.
   */
  private expireWhenFull(nowMs: number): void {
    if (nowMs - this.lastFullExpiry < EXPIRE_WHEN_FULL_MS) return;
    this.lastFullExpiry = nowMs;
    this.expire(nowMs);
  }

  private removePeer(peers: PeerTable, slot: number): void {
    peers.remove(slot);
    this.peerCount--;
  }

  /** The reply to an announce in the shape the HTTP encoder takes. */
  response(outcome: Extract<AnnounceOutcome, { ok: true }>): AnnounceResponse {
    return {
      interval: outcome.interval,
      minInterval: outcome.minInterval,
      complete: outcome.complete,
      incomplete: outcome.incomplete,
      peers: outcome.picked.map(
        (slot): PeerEndpoint => ({
          host: outcome.peers.host(slot),
          port: outcome.peers.port(slot),
        }),
      ),
    };
  }

  private outcome(swarm: PeerTable | undefined, picked: readonly number[]): AnnounceOutcome {
    const peers = swarm ?? EMPTY;
    return {
      ok: true,
      peers,
      picked,
      interval: this.options.intervalSeconds,
      minInterval: this.options.minIntervalSeconds,
      complete: peers.seeders,
      incomplete: peers.size - peers.seeders,
    };
  }

  /**
   * Up to `want` random live peers other than the asker (seeds get no other seeds): the swarm's
   * table holds its peers in random order (each newcomer takes a random slot), so the peers
   * from a random place on are a random set, read without copying or a set of seen indexes.
   */
  private pick(
    peers: PeerTable,
    self: number,
    want: number,
    family: 0 | 4 | 6,
    nowMs: number,
  ): number[] {
    const n = peers.size;
    if (n <= 1 || want <= 0) return [];
    const since = nowMs - this.options.peerTimeoutSeconds * 1000;
    return peers.sample(self, want, family, since, this.randomBelow(n));
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
}

/** The table of a swarm nobody is in. */
const EMPTY = new PeerTable();

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
