import type { Clock } from '../runtime/runtime.js';

/**
 * Requests per second allowed per source address, as token buckets kept for at most
 * `maxAddresses` addresses (the least recently seen are forgotten first), so a flood from one
 * address is refused without slowing anyone else and the table itself stays bounded.
 */
export class IpRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; last: number }>();

  constructor(
    private readonly clock: Clock,
    /** Sustained requests per second per address; 0 disables the limit. */
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly maxAddresses = 65_536,
  ) {}

  /** Takes one request's token for `address`; false when it is over its rate. */
  allow(address: string): boolean {
    if (this.perSecond <= 0) return true;
    const now = this.clock.now();
    let b = this.buckets.get(address);
    if (b) this.buckets.delete(address);
    else b = { tokens: this.burst, last: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.last) * this.perSecond) / 1000);
    b.last = now;
    this.buckets.set(address, b);
    if (this.buckets.size > this.maxAddresses)
      this.buckets.delete(this.buckets.keys().next().value!);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
