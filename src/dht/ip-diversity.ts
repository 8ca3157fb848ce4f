import { ipFamily, ipv6Bytes } from '../codec/compact.js';
import { isExemptAddress } from './node-id.js';

/** An address as the DHT counts it: IPv4-mapped IPv6 addresses are their IPv4 address. */
export function hostKey(host: string): string {
  return host.startsWith('::ffff:') && host.includes('.') ? host.slice(7) : host.toLowerCase();
}

/**
 * The subnet an address belongs to for diversity limits: its /24 for IPv4, its /64 for IPv6
 * (what one operator typically holds). Undefined for loopback and private addresses, where many
 * honest nodes share a subnet (a LAN, a test network) and an attacker is not cheap to tell
 * apart: those are limited per address only.
 */
export function subnetKey(host: string): string | undefined {
  const h = hostKey(host);
  if (isExemptAddress(h)) return undefined;
  const family = ipFamily(h);
  if (family === 4) return `${h.slice(0, h.lastIndexOf('.'))}/24`;
  if (family === 6) return `${ipv6Bytes(h).subarray(0, 8).toString('hex')}/64`;
  return undefined;
}

/**
 * Counts addresses and subnets while a list is built, and says whether one more from an
 * address still fits: at most `perIp` entries per address and `perSubnet` per subnet. Keeps
 * one address (or one operator's subnet) from filling a list that should come from many.
 */
export class DiversityQuota {
  private readonly ips = new Map<string, number>();
  private readonly subnets = new Map<string, number>();

  constructor(
    private readonly perIp: number,
    private readonly perSubnet: number,
  ) {}

  /** True, and counted, when one more entry from `host` fits. */
  admit(host: string): boolean {
    const ip = hostKey(host);
    const subnet = subnetKey(ip);
    const byIp = this.ips.get(ip) ?? 0;
    const bySubnet = subnet === undefined ? 0 : (this.subnets.get(subnet) ?? 0);
    if (byIp >= this.perIp || bySubnet >= this.perSubnet) return false;
    this.ips.set(ip, byIp + 1);
    if (subnet !== undefined) this.subnets.set(subnet, bySubnet + 1);
    return true;
  }
}

/** A multiset of keys (addresses, subnets) with counts, for limits kept while entries come and go. */
export class KeyCounts {
  private readonly counts = new Map<string, number>();

  get(key: string | undefined): number {
    return key === undefined ? 0 : (this.counts.get(key) ?? 0);
  }

  add(key: string | undefined): void {
    if (key !== undefined) this.counts.set(key, this.get(key) + 1);
  }

  remove(key: string | undefined): void {
    if (key === undefined) return;
    const n = this.get(key) - 1;
    if (n > 0) this.counts.set(key, n);
    else this.counts.delete(key);
  }
}
