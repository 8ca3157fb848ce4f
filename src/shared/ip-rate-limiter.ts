import type { Clock } from '../runtime/runtime.js';

/**
 * Requests per second allowed per source address, so a flood from one address is refused
 * without slowing anyone else. Each address costs one number, the time its token bucket will
 * be full again (the generic cell rate algorithm: a bucket of `burst` tokens refilled at
 * `perSecond`, kept as when it is due rather than how full it is). An address whose bucket is
 * full is indistinguishable from one never seen, so such entries are swept out: the table holds
 * only the addresses heard from in the last `burst / perSecond` seconds or so, and never more
 * than `maxAddresses` (the least recently seen are forgotten first).
 */
export class IpRateLimiter {
  /** When each address's bucket is full again, in milliseconds of the clock; least recent first. */
  private readonly fullAt = new Map<string, number>();
  /** Milliseconds one request's token takes to come back. */
  private readonly intervalMs: number;
  /** How far ahead of now `fullAt` may be while a token is left: `burst - 1` intervals. */
  private readonly toleranceMs: number;
  private nextSweep = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly clock: Clock,
    /** Sustained requests per second per address; 0 disables the limit. */
    private readonly perSecond: number,
    burst: number,
    private readonly maxAddresses = 65_536,
  ) {
    this.intervalMs = 1000 / perSecond;
    this.toleranceMs = (burst - 1) * this.intervalMs;
  }

  /** Takes one request's token for `address`; false when it is over its rate. */
  allow(address: string): boolean {
    if (this.perSecond <= 0) return true;
    const now = this.clock.now();
    if (now >= this.nextSweep) this.sweep(now);
    const due = this.fullAt.get(address);
    if (due !== undefined) this.fullAt.delete(address);
    const from = due === undefined || due < now ? now : due;
    const allowed = from - now <= this.toleranceMs;
    this.fullAt.set(address, allowed ? from + this.intervalMs : from);
    if (this.fullAt.size > this.maxAddresses) this.fullAt.delete(this.fullAt.keys().next().value!);
    return allowed;
  }

  /** Addresses remembered (those whose bucket is not yet full again, at most). */
  get size(): number {
    return this.fullAt.size;
  }

  /** Forgets every address whose bucket is full again; runs about once per full-refill time. */
  private sweep(now: number): void {
    for (const [address, due] of this.fullAt) if (due <= now) this.fullAt.delete(address);
    this.nextSweep = now + this.toleranceMs + this.intervalMs;
  }
}
