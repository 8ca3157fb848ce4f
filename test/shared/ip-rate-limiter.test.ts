import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ManualClock } from '../../src/runtime/manual-clock.js';
import { IpRateLimiter } from '../../src/shared/ip-rate-limiter.js';
import { FUZZ_RUNS } from '../support/fuzz.js';

/**
 * The textbook token bucket the limiter must behave as, refilled per ms. Tokens are counted in
 * thousandths, so the arithmetic is exact: with fractions, 0.92 + 0.08 tokens came to just under
 * one and the reference refused a request that was due.
 */
class ReferenceBucket {
  private milliTokens: number;
  private last = 0;
  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {
    this.milliTokens = burst * 1000;
  }
  allow(now: number): boolean {
    this.milliTokens = Math.min(
      this.burst * 1000,
      this.milliTokens + (now - this.last) * this.perSecond,
    );
    this.last = now;
    if (this.milliTokens < 1000) return false;
    this.milliTokens -= 1000;
    return true;
  }
}

test('a burst is allowed, then one request per interval, and other addresses are untouched', () => {
  const clock = new ManualClock();
  const limiter = new IpRateLimiter(clock, 10, 3);
  assert.deepEqual(
    [1, 2, 3, 4].map(() => limiter.allow('192.0.2.1')),
    [true, true, true, false],
  );
  assert.equal(limiter.allow('192.0.2.2'), true, 'another address has its own bucket');
  clock.advance(99);
  assert.equal(limiter.allow('192.0.2.1'), false, 'a token takes 100 ms to come back');
  clock.advance(1);
  assert.equal(limiter.allow('192.0.2.1'), true);
  assert.equal(limiter.allow('192.0.2.1'), false);
});

test('a limit of 0 per second allows everything', () => {
  const limiter = new IpRateLimiter(new ManualClock(), 0, 1);
  for (let i = 0; i < 1000; i++) assert.equal(limiter.allow('192.0.2.1'), true);
});

test('addresses whose bucket has refilled are forgotten, so the table holds only recent ones', () => {
  const clock = new ManualClock();
  const limiter = new IpRateLimiter(clock, 50, 100);
  for (let i = 0; i < 5000; i++) {
    limiter.allow(`10.0.${i >> 8}.${i & 255}`);
    clock.advance(10);
  }
  // A bucket of 100 at 50/s refills within 2 s = 200 requests of this stream, plus one sweep period.
  assert.ok(limiter.size <= 400, `${limiter.size} addresses remembered`);
  assert.ok(limiter.size >= 200, `${limiter.size} addresses remembered`);
});

test('a flood of distinct addresses never holds more than maxAddresses, least recent first out', () => {
  const clock = new ManualClock();
  const limiter = new IpRateLimiter(clock, 1, 1, 100);
  for (let i = 0; i < 10_000; i++) limiter.allow(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
  assert.equal(limiter.size, 100);
  assert.equal(limiter.allow('10.0.39.15'), false, 'the most recent address is still limited');
  assert.equal(limiter.allow('10.0.0.1'), true, 'an early address was forgotten');
});

test('property: the limiter decides exactly as a token bucket does, address by address', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(1, 2, 4, 5, 10, 20, 50, 100),
      fc.integer({ min: 1, max: 20 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 700 })), {
        maxLength: 300,
      }),
      (perSecond, burst, requests) => {
        const clock = new ManualClock();
        const limiter = new IpRateLimiter(clock, perSecond, burst);
        const reference = new Map<number, ReferenceBucket>();
        for (const [address, waitMs] of requests) {
          clock.advance(waitMs);
          let bucket = reference.get(address);
          if (!bucket) {
            bucket = new ReferenceBucket(perSecond, burst);
            reference.set(address, bucket);
          }
          assert.equal(limiter.allow(`192.0.2.${address}`), bucket.allow(clock.now()));
        }
      },
    ),
    { numRuns: Math.min(FUZZ_RUNS, 2_000) },
  );
});
