import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NO_SEED_LIMITS, SeedLimiter, type SeedLimits } from '../../src/swarm/seed-limits.js';

const MIN = 60_000;
const size = 1000;

/** Ticks once a second from `from` to `to` (ms), seeding, with `uploaded(t)` bytes sent by then. */
function run(
  l: SeedLimiter,
  from: number,
  to: number,
  uploaded: (t: number) => number,
  downloaded = 0,
) {
  for (let t = from; t <= to; t += 1000) {
    const r = l.tick(t, true, { uploaded: uploaded(t), downloaded, totalLength: size });
    if (r) return { at: t, ...r };
  }
  return undefined;
}

test('ratio: uploaded over downloaded, or over the size for a torrent seeded from the start', () => {
  const node: SeedLimits = { ...NO_SEED_LIMITS, ratio: 2 };
  const fromStart = new SeedLimiter(() => node);
  assert.deepEqual(
    run(fromStart, 0, 100_000, (t) => t / 50),
    {
      at: 100_000,
      limit: 'ratio',
      message: 'seeding ratio 2 reached',
    },
  );
  // 500 bytes downloaded: a ratio of 2 is 1000 bytes up, at 50 s.
  assert.equal(run(new SeedLimiter(() => node), 0, 100_000, (t) => t / 50, 500)?.at, 50_000);
});

test('seeding time counts only time seeding; a long gap (paused) is not seeding', () => {
  const l = new SeedLimiter(() => ({ ...NO_SEED_LIMITS, seedTimeMinutes: 2 }));
  assert.equal(
    run(l, 0, 60_000, () => 0),
    undefined,
  );
  l.tick(61_000, false, { uploaded: 0, downloaded: 0, totalLength: size });
  // Ten minutes later it seeds again: one more minute is enough, not zero.
  assert.equal(
    run(l, 661_000, 700_000, () => 0),
    undefined,
  );
  assert.equal(run(l, 701_000, 800_000, () => 0)?.limit, 'seedTimeMinutes');
});

test('idle: minutes since the last byte went out; uploading resets it', () => {
  const l = new SeedLimiter(() => ({ ...NO_SEED_LIMITS, idleMinutes: 1 }));
  // Something goes out every 30 s for 5 minutes: never idle; then nothing for a minute.
  const r = run(l, 0, 10 * MIN, (t) => Math.min(t, 5 * MIN) - (Math.min(t, 5 * MIN) % 30_000));
  assert.deepEqual(r && { at: r.at, limit: r.limit }, { at: 6 * MIN, limit: 'idleMinutes' });
});

test("a torrent's own limit replaces the node's, 0 meaning none; a manual resume lifts the limit hit", () => {
  let node: SeedLimits = { ...NO_SEED_LIMITS, ratio: 1 };
  const own = new SeedLimiter(() => node, { ratio: 0 });
  assert.equal(
    run(own, 0, 20_000, () => 5000),
    undefined,
    'no limit for this torrent',
  );
  const follows = new SeedLimiter(() => node);
  const hit = run(follows, 0, 5000, () => 5000);
  assert.equal(hit?.limit, 'ratio');
  follows.reached = hit;
  follows.resumed();
  assert.equal(follows.reached, undefined);
  assert.deepEqual(follows.overrides, { ratio: 0 });
  assert.equal(
    run(follows, 6000, 20_000, () => 9000),
    undefined,
    'seeds on after the resume',
  );
  node = { ...node, seedTimeMinutes: 1 };
  assert.equal(
    run(follows, 21_000, 200_000, () => 9000)?.limit,
    'seedTimeMinutes',
    'node changes apply',
  );
});
