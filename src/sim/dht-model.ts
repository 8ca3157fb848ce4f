import { createHash } from 'node:crypto';
import type { Simulator } from './simulator.js';

/** Kademlia's parameters for the reference lookups. */
export interface DhtModelOptions {
  /** Bucket size and replication (BEP 5: 8). */
  readonly k: number;
  /** Queries in flight (BEP 5 suggests 3). */
  readonly alpha: number;
  /** How long a query to a dead node takes to time out. */
  readonly timeoutMs: number;
}

/** Defaults: k = 8, α = 3, 2 s timeouts. */
export const DEFAULT_DHT_MODEL: DhtModelOptions = { k: 8, alpha: 3, timeoutMs: 2_000 };

/** The outcome of one lookup. */
export interface LookupOutcome {
  readonly found: boolean;
  /** When the first live holder was learnt (ms after the start), if ever. */
  readonly firstMs: number | undefined;
  readonly doneMs: number;
  /** Requests and responses. */
  readonly messages: number;
}

/** 160-bit ids as bigints. */
function idOf(bytes: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

const BITS = 160;

/**
 * The structured reference: an exact-key Kademlia lookup over the same hosts, at the message
 * level. Routing tables are filled from the population when `build` runs (k random nodes per
 * bucket — what a settled DHT holds) and are not repaired afterwards, so nodes that leave or
 * fail become timeouts, as in a DHT between refreshes. Each item is stored on the k nodes
 * closest to its info-hash. A lookup is BEP 5's: α queries in flight to the closest nodes not
 * yet asked, until the k closest known have answered; it succeeds when a live holder is learnt
 * from a storing node. It needs the exact info-hash: it cannot search by keyword.
 */
export class DhtModel {
  readonly options: DhtModelOptions;
  private ids: bigint[] = [];
  private sorted: { id: bigint; node: number }[] = [];
  private tables = new Map<number, number[]>();
  private readonly stored = new Map<string, Set<number>>();

  constructor(
    private readonly sim: Simulator,
    /** One-way delay between two nodes, ms. */
    private readonly oneWayMs: (a: number, b: number) => number,
    private readonly alive: (node: number) => boolean,
    options: Partial<DhtModelOptions> = {},
  ) {
    this.options = { ...DEFAULT_DHT_MODEL, ...options };
  }

  /** The node id of a node key. */
  static nodeId(key: Uint8Array): bigint {
    return idOf(createHash('sha1').update(key).digest());
  }

  /** Fills routing tables from `nodes` (index and key), as a settled DHT would hold them. */
  build(nodes: readonly { index: number; key: Uint8Array }[]): void {
    this.ids = [];
    for (const n of nodes) this.ids[n.index] = DhtModel.nodeId(n.key);
    this.sorted = nodes
      .map((n) => ({ id: this.ids[n.index]!, node: n.index }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.tables.clear();
    for (const n of nodes) {
      const me = this.ids[n.index]!;
      const table: number[] = [];
      for (let b = 0; b < BITS; b++) {
        // Nodes sharing our first b bits and differing in bit b: one contiguous range.
        const shift = BigInt(BITS - b);
        const prefix = b === 0 ? 0n : (me >> shift) << shift;
        const flipped = prefix | ((((me >> (shift - 1n)) & 1n) ^ 1n) << (shift - 1n));
        const lo = this.lowerBound(flipped);
        const hi = this.lowerBound(flipped + (1n << (shift - 1n)));
        const size = hi - lo;
        if (size === 0) {
          if (b > 32) break;
          continue;
        }
        for (let i = 0; i < Math.min(this.options.k, size); i++) {
          const pick = size <= this.options.k ? lo + i : lo + this.sim.random.int(size);
          table.push(this.sorted[pick]!.node);
        }
      }
      this.tables.set(n.index, table);
    }
  }

  /**
   * Stores every item's live holders on the k live nodes closest to its info-hash (what
   * periodic announces leave in a DHT), replacing what was stored before.
   */
  announceAll(items: readonly { infoHash: Uint8Array; holders: readonly number[] }[]): void {
    this.stored.clear();
    const live = this.sorted.filter((e) => this.alive(e.node));
    for (const item of items) this.announce(live, item.infoHash, item.holders);
  }

  private announce(
    live: readonly { id: bigint; node: number }[],
    infoHash: Uint8Array,
    holders: readonly number[],
  ): void {
    const target = idOf(infoHash);
    const key = target.toString(16);
    const closest = this.closestLive(live, target, this.options.k);
    for (const node of closest) {
      const set = this.stored.get(`${key}/${node}`) ?? new Set<number>();
      for (const h of holders) set.add(h);
      this.stored.set(`${key}/${node}`, set);
    }
  }

  /** Looks `infoHash` up from node `from`; resolves when the lookup ends (in virtual time). */
  lookup(from: number, infoHash: Uint8Array): Promise<LookupOutcome> {
    const target = idOf(infoHash);
    const key = target.toString(16);
    const start = this.sim.now;
    const known = new Map<number, { state: 'new' | 'asked' | 'answered' | 'failed'; d: bigint }>();
    let shortlist: number[] = [];
    const byDistance = (a: number, b: number) => {
      const da = known.get(a)!.d;
      const db = known.get(b)!.d;
      return da < db ? -1 : da > db ? 1 : 0;
    };
    const consider = (nodes: readonly number[]) => {
      for (const n of nodes) {
        if (n !== from && !known.has(n)) known.set(n, { state: 'new', d: this.ids[n]! ^ target });
      }
      shortlist = [...known.keys()].filter((n) => known.get(n)!.state !== 'failed');
      shortlist.sort(byDistance);
    };
    consider(this.tables.get(from) ?? []);
    let messages = 0;
    let inFlight = 0;
    let firstMs: number | undefined;
    return new Promise((resolve) => {
      let finished = false;
      const finish = () => {
        finished = true;
        resolve({ found: firstMs !== undefined, firstMs, doneMs: this.sim.now - start, messages });
      };
      const step = () => {
        if (finished) return;
        const top = shortlist.slice(0, this.options.k);
        if (top.every((n) => known.get(n)!.state === 'answered') && inFlight === 0) {
          finish();
          return;
        }
        for (const n of top) {
          if (inFlight >= this.options.alpha) break;
          const entry = known.get(n)!;
          if (entry.state !== 'new') continue;
          entry.state = 'asked';
          inFlight++;
          messages++;
          if (!this.alive(n)) {
            this.sim.after(this.options.timeoutMs, () => {
              inFlight--;
              entry.state = 'failed';
              consider([]);
              step();
            });
            continue;
          }
          this.sim.after(this.oneWayMs(from, n) + this.oneWayMs(n, from), () => {
            inFlight--;
            messages++;
            entry.state = 'answered';
            const values = this.stored.get(`${key}/${n}`);
            if (firstMs === undefined && values !== undefined) {
              for (const h of values) {
                if (this.alive(h)) {
                  firstMs = this.sim.now - start;
                  break;
                }
              }
            }
            const table = this.tables.get(n) ?? [];
            const scored = table.map((m) => ({ m, d: this.ids[m]! ^ target }));
            scored.sort((a, b) => (a.d < b.d ? -1 : a.d > b.d ? 1 : 0));
            consider(scored.slice(0, this.options.k).map((e) => e.m));
            step();
          });
        }
        if (inFlight === 0 && !finished) finish();
      };
      step();
    });
  }

  private lowerBound(id: bigint): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.sorted[mid]!.id < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The `k` nodes of `live` (sorted by id) closest to `target` (by XOR). */
  private closestLive(
    live: readonly { id: bigint; node: number }[],
    target: bigint,
    k: number,
  ): number[] {
    // The closest by XOR share the longest prefix: widen the prefix block until it holds k.
    const bound = (id: bigint) => {
      let lo = 0;
      let hi = live.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (live[mid]!.id < id) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    for (let b = BITS; b >= 0; b--) {
      const shift = BigInt(BITS - b);
      const prefix = b === 0 ? 0n : (target >> shift) << shift;
      const lo = bound(prefix);
      const hi = bound(prefix + (1n << shift));
      if (hi - lo >= k || b === 0) {
        return live
          .slice(lo, hi)
          .sort((x, y) => ((x.id ^ target) < (y.id ^ target) ? -1 : 1))
          .slice(0, k)
          .map((e) => e.node);
      }
    }
    return [];
  }
}
