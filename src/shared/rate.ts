import type { Clock } from '../runtime/runtime.js';

/**
 * A transfer rate in bytes per second, smoothed exponentially over about `windowMs`, so that
 * choking and pipelining decisions follow the recent past without jumping on every block.
 */
export class RateMeter {
  private rate = 0;
  private last: number;
  private pending = 0;
  total = 0;

  constructor(
    private readonly clock: Clock,
    private readonly windowMs = 5000,
  ) {
    this.last = clock.now();
  }

  add(bytes: number): void {
    this.pending += bytes;
    this.total += bytes;
    this.tick();
  }

  /** Bytes per second. */
  get bytesPerSecond(): number {
    this.tick();
    return this.rate;
  }

  private tick(): void {
    const now = this.clock.now();
    const elapsed = now - this.last;
    if (elapsed < 100) return;
    const instant = (this.pending * 1000) / elapsed;
    const alpha = Math.min(1, elapsed / this.windowMs);
    this.rate += alpha * (instant - this.rate);
    this.pending = 0;
    this.last = now;
  }
}

/**
 * A token bucket limiting a byte rate (global or per torrent). `take` grants what the bucket
 * holds now; `delayFor` says how long until `bytes` would be available. Unlimited when the rate
 * is 0.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly clock: Clock,
    /** Bytes per second; 0 means no limit. */
    public bytesPerSecond: number,
    private readonly burstSeconds = 0.25,
  ) {
    this.tokens = bytesPerSecond * burstSeconds;
    this.last = clock.now();
  }

  get unlimited(): boolean {
    return this.bytesPerSecond <= 0;
  }

  /** Tries to take `bytes`; true when granted. */
  tryTake(bytes: number): boolean {
    if (this.unlimited) return true;
    this.refill();
    if (this.tokens < bytes) return false;
    this.tokens -= bytes;
    return true;
  }

  /** Milliseconds until `bytes` tokens will be there. */
  delayFor(bytes: number): number {
    if (this.unlimited) return 0;
    this.refill();
    return this.tokens >= bytes
      ? 0
      : Math.ceil(((bytes - this.tokens) * 1000) / this.bytesPerSecond);
  }

  private refill(): void {
    const now = this.clock.now();
    const cap = Math.max(this.bytesPerSecond * this.burstSeconds, 16 * 1024);
    this.tokens = Math.min(cap, this.tokens + ((now - this.last) * this.bytesPerSecond) / 1000);
    this.last = now;
  }
}
