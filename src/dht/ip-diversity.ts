import { ipFamily, ipv4Number, ipv6Bytes } from '../codec/compact.js';
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
 * Items grouped by a key (an address, a subnet): who holds the places of each. A lone item is
 * stored as itself, not in an array: most addresses hold one place, and routing tables are
 * many in the simulator.
 */
export class Groups<T extends object> {
  private readonly groups = new Map<SubnetKey, T | T[]>();

  get(key: SubnetKey | undefined): readonly T[] {
    const group = key === undefined ? undefined : this.groups.get(key);
    return group === undefined ? [] : Array.isArray(group) ? group : [group];
  }

  add(key: SubnetKey | undefined, item: T): void {
    if (key === undefined) return;
    const group = this.groups.get(key);
    if (group === undefined) this.groups.set(key, item);
    else if (Array.isArray(group)) group.push(item);
    else this.groups.set(key, [group, item]);
  }

  remove(key: SubnetKey | undefined, item: T): void {
    if (key === undefined) return;
    const group = this.groups.get(key);
    if (group === item) this.groups.delete(key);
    else if (Array.isArray(group)) {
      const rest = group.filter((g) => g !== item);
      if (rest.length === 1) this.groups.set(key, rest[0]!);
      else if (rest.length === 0) this.groups.delete(key);
      else this.groups.set(key, rest);
    }
  }
}
