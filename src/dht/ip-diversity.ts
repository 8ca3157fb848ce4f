import { ipFamily, ipv4Number, ipv6Bytes } from '../codec/compact.js';
import { insertAt, removeAt } from '../shared/array-edit.js';
import { isExemptAddress, isExemptIpv4 } from './node-id.js';

/** An address as the DHT counts it: IPv4-mapped IPv6 addresses are their IPv4 address. */
export function hostKey(host: string): string {
  if (!host.includes(':')) return host;
  return host.startsWith('::ffff:') && host.includes('.') ? host.slice(7) : host.toLowerCase();
}

/** A subnet as {@link subnetKey} names it: a number for IPv4 (no string kept per entry). */
export type SubnetKey = number | string;

/**
 * The subnet an address belongs to for diversity limits: its /24 for IPv4, its /64 for IPv6
 * (what one operator typically holds). Undefined for loopback and private addresses, where many
 * honest nodes share a subnet (a LAN, a test network) and an attacker is not cheap to tell
 * apart: those are limited per address only.
 */
export function subnetKey(host: string): SubnetKey | undefined {
  const h = hostKey(host);
  const v4 = ipv4Number(h);
  if (v4 >= 0) return isExemptIpv4(v4) ? undefined : v4 >>> 8;
  if (ipFamily(h) !== 6 || isExemptAddress(h)) return undefined;
  return `${ipv6Bytes(h).subarray(0, 8).toString('hex')}/64`;
}

/**
 * Counts addresses and subnets while a list is built, and says whether one more from an
 * address still fits: at most `perIp` entries per address and `perSubnet` per subnet. Keeps
 * one address (or one operator's subnet) from filling a list that should come from many.
 * Lists are short (8 or 16 nodes), so the counts are kept in arrays.
 */
export class DiversityQuota {
  private readonly ips: string[] = [];
  private readonly subnets: SubnetKey[] = [];

  constructor(
    private readonly perIp: number,
    private readonly perSubnet: number,
  ) {}

  /** True, and counted, when one more entry from `host` fits. */
  admit(host: string): boolean {
    const ip = hostKey(host);
    const subnet = subnetKey(ip);
    if (count(this.ips, ip) >= this.perIp) return false;
    if (subnet !== undefined && count(this.subnets, subnet) >= this.perSubnet) return false;
    this.ips.push(ip);
    if (subnet !== undefined) this.subnets.push(subnet);
    return true;
  }
}

function count<T>(list: readonly T[], item: T): number {
  let n = 0;
  for (const x of list) if (x === item) n++;
  return n;
}

/** A multiset of keys (addresses, subnets) with counts, for limits kept while entries come and go. */
export class KeyCounts {
  private readonly counts = new Map<SubnetKey, number>();

  get(key: SubnetKey | undefined): number {
    return key === undefined ? 0 : (this.counts.get(key) ?? 0);
  }

  add(key: SubnetKey | undefined): void {
    if (key !== undefined) this.counts.set(key, this.get(key) + 1);
  }

  remove(key: SubnetKey | undefined): void {
    if (key === undefined) return;
    const n = this.get(key) - 1;
    if (n > 0) this.counts.set(key, n);
    else this.counts.delete(key);
  }
}

/**
 * Items grouped by a key (an address, a subnet): who holds the places of each. IPv4 subnets,
 * nearly every key, are numbers kept sorted in a plain array beside their items: a few bytes a
 * place where a Map spent about forty, and routing tables are many in the simulator. String
 * keys (IPv6 subnets, addresses without a subnet) go in a map made on first use.
 */
export class Groups<T extends object> {
  /** Numeric keys in ascending order, one per item, repeated for a group of several. */
  private readonly keys: number[] = [];
  /** The item of each place in {@link keys}. */
  private readonly items: T[] = [];
  private named: Map<string, T[]> | undefined;

  get(key: SubnetKey | undefined): readonly T[] {
    if (key === undefined) return [];
    if (typeof key === 'string') return this.named?.get(key) ?? [];
    const out: T[] = [];
    for (let i = this.firstAtLeast(key); this.keys[i] === key; i++) out.push(this.items[i]!);
    return out;
  }

  add(key: SubnetKey | undefined, item: T): void {
    if (key === undefined) return;
    if (typeof key === 'string') {
      this.named ??= new Map();
      const group = this.named.get(key);
      if (group) group.push(item);
      else this.named.set(key, [item]);
      return;
    }
    const i = this.firstAtLeast(key + 1);
    insertAt(this.keys, i, key);
    insertAt(this.items, i, item);
  }

  remove(key: SubnetKey | undefined, item: T): void {
    if (key === undefined) return;
    if (typeof key === 'string') {
      const group = this.named?.get(key);
      const at = group ? group.indexOf(item) : -1;
      if (at < 0) return;
      // A fresh array: a caller may still be reading the one get() handed out.
      const rest = group!.filter((_, i) => i !== at);
      if (rest.length > 0) this.named!.set(key, rest);
      else this.named!.delete(key);
      return;
    }
    for (let i = this.firstAtLeast(key); this.keys[i] === key; i++)
      if (this.items[i] === item) {
        removeAt(this.keys, i);
        removeAt(this.items, i);
        return;
      }
  }

  /** Index of the first numeric key not below `key` (binary search). */
  private firstAtLeast(key: number): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
