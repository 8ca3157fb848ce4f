import type { NodeContact } from '../codec/compact.js';
import { insertAt, removeAt } from '../shared/array-edit.js';
import { visitByDistance } from './by-distance.js';
import { type IdKey, idKey, keyBytes, keyHead, keyPrefixBits } from './id-key.js';
import { DiversityQuota, Groups, hostKey, type SubnetKey, subnetKey } from './ip-diversity.js';
import { commonPrefixBits, ID_BYTES, idMatchesIp } from './node-id.js';

/** Nodes per bucket (Kademlia's k). */
export const K = 8;
/** A node unheard of for this long is "questionable" (BEP 5). */
export const QUESTIONABLE_AFTER_MS = 15 * 60_000;
/**
 * The buckets farthest from us hold more than k nodes: 512, 256, 128, 64, 32 and 16 (an
 * "extended" table, as libtorrent keeps one, wider). They cover most of the id space, so a
 * lookup's first step lands about 6 bits closer to its target than with 8 per bucket: in the
 * simulator's 10,000-node DHT the median lookup took 1.99 RTTs against 2.1–2.3 with libtorrent's
 * 128/64/32/16 (measured before announces went wider, see `DhtOptions.announceWidth`), for at
 * most about 1,000 entries (~100 KB) per table.
 */
const EXTENDED_BUCKETS = 6;
/** Failed queries after which a node is "bad". */
const BAD_AFTER_FAILURES = 2;

/**
 * Who may enter the table, with defaults in {@link DEFAULT_ROUTING_LIMITS}: without these one
 * address could run many node ids next to a target and be every node a lookup meets (an
 * eclipse). Subnet limits apply to public addresses only (see {@link subnetKey}).
 */
export interface RoutingLimits {
  /** BEP 42: a node at a public address whose id was not derived from it never enters. */
  readonly enforceNodeId: boolean;
  /** Nodes from one IP address in the whole table. */
  readonly maxPerIp: number;
  /** Nodes from one /24 (IPv6 /64) in the whole table. */
  readonly maxPerSubnet: number;
  /** Nodes from one /24 (IPv6 /64) in one bucket. */
  readonly maxPerSubnetPerBucket: number;
}

/** Two nodes per address (a few clients behind one NAT), eight per subnet, two of them per bucket. */
export const DEFAULT_ROUTING_LIMITS: RoutingLimits = {
  enforceNodeId: true,
  maxPerIp: 2,
  maxPerSubnet: 8,
  maxPerSubnetPerBucket: 2,
};

/** {@link RoutingTable.closest} names at most this many nodes of one address… */
export const MAX_CLOSEST_PER_IP = 2;
/** …and of one public /24 (IPv6 /64). */
export const MAX_CLOSEST_PER_SUBNET = 2;

/**
 * `lastSeen` of a node only named in another's reply: long ago, but a small integer, so the
 * field stays unboxed (−∞ would make every entry's `lastSeen` a heap number).
 */
const NEVER_SEEN = -(2 ** 30);

const PORT_MASK = 0xffff;
const FAILURES_SHIFT = 16;
const FAILURES_MASK = 0xff << FAILURES_SHIFT;
const RESPONDED = 1 << 24;
const CONFIRMED = 1 << 25;

/**
 * A node in the routing table; its id is kept as an {@link IdKey}. Port, failure count and
 * flags share one small integer: tables of a 100,000-node simulation hold tens of millions of
 * entries, and four fields fewer is a third of each.
 */
export class RoutingEntry implements NodeContact {
  private bits: number;
  /** When we last heard from it, in whole milliseconds of the table's clock. */
  lastSeen: number;

  constructor(
    readonly key: IdKey,
    readonly host: string,
    port: number,
    lastSeen: number,
    /** It has answered one of our queries (so its address is really its own). */
    responded: boolean,
    /** We have heard from it directly; false for a node only named in another's reply. */
    confirmed: boolean,
  ) {
    this.bits = (port & PORT_MASK) | (responded ? RESPONDED : 0) | (confirmed ? CONFIRMED : 0);
    this.lastSeen = lastSeen;
  }

  get port(): number {
    return this.bits & PORT_MASK;
  }

  /** Queries to it that failed in a row (counted up to 255). */
  get failures(): number {
    return (this.bits & FAILURES_MASK) >>> FAILURES_SHIFT;
  }

  set failures(n: number) {
    this.bits = (this.bits & ~FAILURES_MASK) | (Math.min(n, 255) << FAILURES_SHIFT);
  }

  get responded(): boolean {
    return (this.bits & RESPONDED) !== 0;
  }

  set responded(yes: boolean) {
    this.bits = yes ? this.bits | RESPONDED : this.bits & ~RESPONDED;
  }

  get confirmed(): boolean {
    return (this.bits & CONFIRMED) !== 0;
  }

  set confirmed(yes: boolean) {
    this.bits = yes ? this.bits | CONFIRMED : this.bits & ~CONFIRMED;
  }

  /** The id (a fresh copy: tables keep only the key). */
  get id(): Buffer {
    return keyBytes(this.key);
  }
}

interface Bucket {
  nodes: RoutingEntry[];
  /**
   * Each node's id head ({@link keyHead}), index for index: buckets of 512 are scanned and
   * ordered by these packed small integers without visiting every entry.
   */
  heads: number[];
  /**
   * Each node's `lastSeen` and {@link replaceability}, index for index: a full bucket is
   * searched for a place at nearly every newcomer, and at 100,000 nodes visiting its 512
   * entries (a cache miss each) was a third of the simulator's time.
   */
  seen: number[];
  marks: number[];
  replacements: RoutingEntry[];
  lastChanged: number;
}

/** {@link Bucket.marks}: the node is bad (failed twice) … */
const MARK_BAD = 1;
/** … or was never heard from directly; either gives its place to a newcomer. */
const MARK_UNCONFIRMED = 2;

function replaceability(n: RoutingEntry): number {
  return (n.failures >= BAD_AFTER_FAILURES ? MARK_BAD : 0) | (n.confirmed ? 0 : MARK_UNCONFIRMED);
}

/** What {@link RoutingTable.insert} did, and whom to ping if the bucket was full. */
export type InsertOutcome =
  | { readonly kind: 'added' | 'updated' | 'replaced' | 'cached' | 'ignored' }
  | { readonly kind: 'full'; readonly ping: RoutingEntry };

/**
 * The Kademlia routing table of BEP 5: 160-bit ids, buckets of k = 8 (more in the first few,
 * see {@link EXTENDED_BUCKETS}), splitting only the bucket our own id falls in. Bucket j holds
 * the nodes sharing exactly j leading bits with us (the last bucket everything deeper). Good nodes are kept; bad ones (two failed queries) give way to
 * newcomers; when a bucket is full the least recently seen questionable node is handed out to
 * be pinged, and newcomers wait in a bounded replacement cache. One address:port holds one
 * entry, and addresses and subnets are limited ({@link RoutingLimits}); BEP 42 ids are required
 * of public addresses.
 */
export class RoutingTable {
  private buckets: Bucket[];
  readonly limits: RoutingLimits;
  /** Entries by public subnet, or by address where there is none ({@link groupOf}). */
  private readonly groups = new Groups<RoutingEntry>();

  constructor(
    public id: Buffer,
    private readonly clock: () => number,
    limits: Partial<RoutingLimits> = {},
  ) {
    this.limits = { ...DEFAULT_ROUTING_LIMITS, ...limits };
    this.buckets = [emptyBucket(clock())];
  }

  /** Number of nodes in the table. */
  get size(): number {
    return this.buckets.reduce((n, b) => n + b.nodes.length, 0);
  }

  /** Number of buckets (a measure of how deep the table has split). */
  get depth(): number {
    return this.buckets.length;
  }

  /** Adds or refreshes a node heard from; `responded` when it answered our query. */
  insert(contact: NodeContact, responded: boolean): InsertOutcome {
    if (contact.id.length !== ID_BYTES || contact.id.equals(this.id)) return { kind: 'ignored' };
    const now = Math.floor(this.clock());
    const key = idKey(contact.id);
    let checked = false;
    for (;;) {
      const depth = this.depthOf(contact.id);
      const bucket = this.buckets[depth]!;
      const at = indexInBucket(bucket, key);
      const existing = bucket.nodes[at];
      if (existing) {
        // An id seen at another address is not moved: that would let anyone hijack an entry.
        if (existing.host !== contact.host || existing.port !== contact.port)
          return { kind: 'ignored' };
        existing.lastSeen = now;
        existing.failures = 0;
        existing.responded ||= responded;
        existing.confirmed = true;
        bucket.seen[at] = now;
        bucket.marks[at] = 0;
        bucket.lastChanged = now;
        return { kind: 'updated' };
      }
      // One entry per address:port. A node that answered from it (which proves the address)
      // or a newcomer in place of a bad or unconfirmed entry takes it over; a query claiming a
      // new id for a live node's address (it may be spoofed) does not.
      // A newcomer (known nodes were checked when they came): BEP 42 first.
      if (!checked && !this.derivedId(contact)) return { kind: 'ignored' };
      checked = true;
      const holder = this.holderOf(contact);
      if (holder) {
        if (!responded && holder.confirmed && holder.failures < BAD_AFTER_FAILURES)
          return { kind: 'ignored' };
        this.removeKey(holder.key);
        continue;
      }
      if (!this.fits(contact, bucket)) return { kind: 'ignored' };
      const entry = new RoutingEntry(key, contact.host, contact.port, now, responded, true);
      if (bucket.nodes.length < bucketCapacity(depth)) {
        this.place(bucket, entry);
        bucket.lastChanged = now;
        return { kind: 'added' };
      }
      if (bucket === this.buckets.at(-1) && this.buckets.length < ID_BYTES * 8) {
        this.split();
        continue;
      }
      const { replaceable, stalest } = scanFull(bucket);
      if (replaceable >= 0) {
        this.replaceAt(bucket, replaceable, entry);
        bucket.lastChanged = now;
        return { kind: 'replaced' };
      }
      const cache = bucket.replacements;
      const cached = indexOfKey(cache, key);
      if (cached >= 0) cache.splice(cached, 1);
      cache.push(entry);
      if (cache.length > K) cache.shift();
      return now - stalest.lastSeen > QUESTIONABLE_AFTER_MS
        ? { kind: 'full', ping: stalest }
        : { kind: 'cached' };
    }
  }

  /**
   * A node named in another node's reply (we have not heard from it): it takes a free place in
   * its bucket, unconfirmed, until it fails twice or a node we do hear from needs the place.
   * Lookups meet far more nodes than query us, so this is what fills the large far buckets;
   * it never displaces a confirmed node, so a lying reply can only fill empty places.
   */
  heardAbout(contact: NodeContact): void {
    if (contact.id.length !== ID_BYTES || contact.id.equals(this.id)) return;
    const depth = this.depthOf(contact.id);
    const bucket = this.buckets[depth]!;
    if (bucket.nodes.length >= bucketCapacity(depth)) return;
    const key = idKey(contact.id);
    if (indexInBucket(bucket, key) >= 0) return;
    if (!this.derivedId(contact) || this.holderOf(contact) || !this.fits(contact, bucket)) return;
    const { host, port } = contact;
    this.place(bucket, new RoutingEntry(key, host, port, NEVER_SEEN, false, false));
  }

  /** A query to `id` failed; after two failures it is replaced from the cache if possible. */
  failed(id: Uint8Array): void {
    const bucket = this.bucketFor(id);
    const i = indexInBucket(bucket, idKey(id));
    if (i < 0) return;
    const n = bucket.nodes[i]!;
    n.failures++;
    bucket.marks[i] = replaceability(n);
    if (n.failures < BAD_AFTER_FAILURES || bucket.replacements.length === 0) return;
    this.unplace(bucket, i);
    // The newest cached node that is not in the table meanwhile and still fits the limits.
    while (bucket.replacements.length > 0) {
      const next = bucket.replacements.pop()!;
      if (this.getKey(next.key) || this.holderOf(next)) continue;
      if (!this.fits(next, bucket)) continue;
      this.place(bucket, next, i);
      bucket.lastChanged = this.clock();
      return;
    }
    this.place(bucket, n, i);
  }

  /** Removes a node (e.g. one that proved hostile). */
  remove(id: Uint8Array): void {
    this.removeKey(idKey(id));
  }

  private removeKey(key: IdKey): void {
    const bucket = this.bucketOfKey(key);
    const i = indexInBucket(bucket, key);
    if (i >= 0) this.unplace(bucket, i);
  }

  /**
   * The `count` known good-or-questionable nodes closest to `target`. Buckets are visited in
   * order of distance, so only a few small ones are sorted: the target's own bucket j holds
   * nodes sharing more than j bits with it, every deeper bucket nodes sharing exactly j, and
   * each shallower bucket i < j nodes sharing exactly i. At most {@link MAX_CLOSEST_PER_IP}
   * come from one address and {@link MAX_CLOSEST_PER_SUBNET} from one public subnet (the next
   * closest take their place), so ids clustered round a target by one host fill few places.
   */
  closest(target: Uint8Array, count = K): RoutingEntry[] {
    const out: RoutingEntry[] = [];
    if (count <= 0) return out;
    const j = this.depthOf(target);
    const quota = new DiversityQuota(MAX_CLOSEST_PER_IP, MAX_CLOSEST_PER_SUBNET);
    const take = (nodes: readonly RoutingEntry[], heads: readonly number[]) =>
      visitByDistance(target, nodes, heads, (n) => {
        if (n.failures < BAD_AFTER_FAILURES && quota.admit(n.host)) out.push(n);
        return out.length < count;
      });
    take(this.buckets[j]!.nodes, this.buckets[j]!.heads);
    if (out.length < count) {
      const deeper = this.buckets.slice(j + 1);
      take(
        deeper.flatMap((b) => b.nodes),
        deeper.flatMap((b) => b.heads),
      );
    }
    for (let i = j - 1; i >= 0 && out.length < count; i--)
      take(this.buckets[i]!.nodes, this.buckets[i]!.heads);
    return out;
  }

  /**
   * {@link closest} as plain contacts, each id decoded once: for lookups, which compare ids
   * many times.
   */
  closestContacts(target: Uint8Array, count = K): NodeContact[] {
    return this.closest(target, count).map((n) => ({ id: n.id, host: n.host, port: n.port }));
  }

  /** Every node (for persistence and stats). */
  all(): RoutingEntry[] {
    return this.buckets.flatMap((b) => b.nodes);
  }

  /** Finds a node by id. */
  get(id: Uint8Array): RoutingEntry | undefined {
    return this.getKey(idKey(id));
  }

  private getKey(key: IdKey): RoutingEntry | undefined {
    const bucket = this.bucketOfKey(key);
    return bucket.nodes[indexInBucket(bucket, key)];
  }

  /** Buckets unchanged for `ageMs`, as random ids inside each (targets for refresh lookups). */
  staleBucketTargets(ageMs: number, random: (n: number) => Buffer): Buffer[] {
    const now = this.clock();
    const out: Buffer[] = [];
    this.buckets.forEach((b, depth) => {
      if (now - b.lastChanged < ageMs) return;
      out.push(this.randomIdInBucket(depth, random));
      b.lastChanged = now;
    });
    return out;
  }

  /** Counts of good, questionable and bad nodes (routing-table health). */
  health(): { good: number; questionable: number; bad: number } {
    const now = this.clock();
    let good = 0;
    let questionable = 0;
    let bad = 0;
    for (const n of this.all()) {
      if (n.failures >= BAD_AFTER_FAILURES) bad++;
      else if (now - n.lastSeen > QUESTIONABLE_AFTER_MS) questionable++;
      else good++;
    }
    return { good, questionable, bad };
  }

  /** BEP 42 (when enforced): the id was derived from the address, or the address is exempt. */
  private derivedId(contact: NodeContact): boolean {
    return !this.limits.enforceNodeId || idMatchesIp(contact.id, hostKey(contact.host));
  }

  /** True when one more node from `contact`'s address fits the table's and `bucket`'s limits. */
  private fits(contact: NodeContact, bucket: Bucket): boolean {
    const ip = hostKey(contact.host);
    const subnet = subnetKey(ip);
    const group = this.groups.get(subnet ?? ip);
    let sameIp = 0;
    let inBucket = 0;
    for (const n of group) {
      if (hostKey(n.host) === ip) sameIp++;
      if (this.bucketOfKey(n.key) === bucket) inBucket++;
    }
    if (sameIp >= this.limits.maxPerIp) return false;
    return (
      subnet === undefined ||
      (group.length < this.limits.maxPerSubnet && inBucket < this.limits.maxPerSubnetPerBucket)
    );
  }

  /** The entry at `contact`'s address and port, whatever its id. */
  private holderOf(contact: NodeContact): RoutingEntry | undefined {
    const ip = hostKey(contact.host);
    return this.groups
      .get(groupOf(ip))
      .find((n) => n.port === contact.port && hostKey(n.host) === ip);
  }

  /** Puts `entry` in `bucket` (at `index`, or at the end) and counts it. */
  private place(bucket: Bucket, entry: RoutingEntry, index = bucket.nodes.length): void {
    insertAt(bucket.nodes, index, entry);
    insertAt(bucket.heads, index, keyHead(entry.key));
    insertAt(bucket.seen, index, entry.lastSeen);
    insertAt(bucket.marks, index, replaceability(entry));
    this.groups.add(groupOf(hostKey(entry.host)), entry);
  }

  /** Takes the node at `index` out of `bucket` and uncounts it. */
  private unplace(bucket: Bucket, index: number): void {
    const entry = removeAt(bucket.nodes, index);
    removeAt(bucket.heads, index);
    removeAt(bucket.seen, index);
    removeAt(bucket.marks, index);
    if (entry) this.groups.remove(groupOf(hostKey(entry.host)), entry);
  }

  /** Puts `entry` where the node at `index` was (as unplace then place, without moving the rest). */
  private replaceAt(bucket: Bucket, index: number, entry: RoutingEntry): void {
    const old = bucket.nodes[index]!;
    this.groups.remove(groupOf(hostKey(old.host)), old);
    bucket.nodes[index] = entry;
    bucket.heads[index] = keyHead(entry.key);
    bucket.seen[index] = entry.lastSeen;
    bucket.marks[index] = replaceability(entry);
    this.groups.add(groupOf(hostKey(entry.host)), entry);
  }

  private bucketFor(id: Uint8Array): Bucket {
    return this.buckets[this.depthOf(id)]!;
  }

  private bucketOfKey(key: IdKey): Bucket {
    return this.buckets[Math.min(keyPrefixBits(this.id, key), this.buckets.length - 1)]!;
  }

  /** Index of the bucket `id` belongs in. */
  private depthOf(id: Uint8Array): number {
    return Math.min(commonPrefixBits(this.id, id), this.buckets.length - 1);
  }

  private split(): void {
    const last = this.buckets.at(-1)!;
    const depth = this.buckets.length - 1;
    const stay = emptyBucket(last.lastChanged);
    const deeper = emptyBucket(last.lastChanged);
    last.nodes.forEach((n, i) => {
      const into = keyPrefixBits(this.id, n.key) > depth ? deeper : stay;
      into.nodes.push(n);
      into.heads.push(last.heads[i]!);
      into.seen.push(last.seen[i]!);
      into.marks.push(last.marks[i]!);
    });
    for (const n of last.replacements)
      (keyPrefixBits(this.id, n.key) > depth ? deeper : stay).replacements.push(n);
    this.buckets[depth] = stay;
    this.buckets.push(deeper);
  }

  /** A random id sharing exactly `depth` leading bits with ours (or ≥ depth for the last bucket). */
  private randomIdInBucket(depth: number, random: (n: number) => Buffer): Buffer {
    const id = random(ID_BYTES);
    for (let bit = 0; bit < depth && bit < 160; bit++) {
      const byte = bit >> 3;
      const mask = 0x80 >> (bit & 7);
      id[byte] = (id[byte]! & ~mask) | (this.id[byte]! & mask);
    }
    if (depth < 160 && depth < this.buckets.length - 1) {
      const byte = depth >> 3;
      const mask = 0x80 >> (depth & 7);
      id[byte] = (id[byte]! & ~mask) | (~this.id[byte]! & mask);
    }
    return id;
  }
}

/**
 * Where an address is counted: its public subnet (which holds few nodes, so its members are
 * scanned for per-address counts), or the address itself when it has none (private, loopback).
 */
function groupOf(ip: string): SubnetKey {
  return subnetKey(ip) ?? ip;
}

/**
 * One pass over a full bucket's marks and times (not its entries): the first bad node, else the
 * first unconfirmed one (−1 if none), which a newcomer replaces; and the least recently seen
 * node, to ping.
 */
function scanFull(bucket: Bucket): { replaceable: number; stalest: RoutingEntry } {
  const { marks, seen } = bucket;
  let bad = -1;
  let unconfirmed = -1;
  let stalest = 0;
  for (let i = 0; i < marks.length; i++) {
    const m = marks[i]!;
    if (m !== 0) {
      if (bad < 0 && (m & MARK_BAD) !== 0) bad = i;
      if (unconfirmed < 0 && (m & MARK_UNCONFIRMED) !== 0) unconfirmed = i;
    }
    if (seen[i]! < seen[stalest]!) stalest = i;
  }
  return { replaceable: bad >= 0 ? bad : unconfirmed, stalest: bucket.nodes[stalest]! };
}

/** Where the node with `key` is in `bucket`, or −1: its heads are scanned, not its entries. */
function indexInBucket(bucket: Bucket, key: IdKey): number {
  const head = keyHead(key);
  const { heads } = bucket;
  for (let i = heads.indexOf(head); i >= 0; i = heads.indexOf(head, i + 1))
    if (bucket.nodes[i]!.key === key) return i;
  return -1;
}

/** Where the node with `key` is in a short list (the replacement cache), or −1. */
function indexOfKey(nodes: readonly RoutingEntry[], key: IdKey): number {
  return nodes.findIndex((n) => n.key === key);
}

function emptyBucket(lastChanged: number): Bucket {
  return { nodes: [], heads: [], seen: [], marks: [], replacements: [], lastChanged };
}

/** How many nodes the bucket at `depth` holds. */
function bucketCapacity(depth: number): number {
  return depth < EXTENDED_BUCKETS ? K << (EXTENDED_BUCKETS - depth) : K;
}
