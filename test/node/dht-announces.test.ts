import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DhtAnnounceSchedule } from '../../src/node/dht-announces.js';
import { ManualClock } from '../../src/runtime/manual-clock.js';

const INTERVAL = 900_000;

/** A schedule on a manual clock whose announces finish when `finish` is called. */
function setup(maxRunning = 4) {
  const clock = new ManualClock();
  const schedule = new DhtAnnounceSchedule(clock, clock, {
    intervalMs: INTERVAL,
    minGapMs: 50,
    maxRunning,
  });
  const started: string[] = [];
  const pending: (() => void)[] = [];
  const add = (id: string) =>
    schedule.add(
      id,
      () =>
        new Promise<void>((resolve) => {
          started.push(id);
          pending.push(resolve);
        }),
    );
  const finishAll = async () => {
    for (const resolve of pending.splice(0)) resolve();
    for (let i = 0; i < 5; i++) await Promise.resolve(); // let the finally handlers run
  };
  /** Moves time in steps, finishing every announce as it goes. */
  const run = async (ms: number, step = 50) => {
    for (let t = 0; t < ms; t += step) {
      clock.advance(step);
      await finishAll();
    }
  };
  return { clock, schedule, started, add, finishAll, run };
}

test('new torrents are announced first, at most a few at once, one per gap', async () => {
  const s = setup(2);
  for (let i = 0; i < 5; i++) s.add(`t${i}`);
  assert.deepEqual(s.started, ['t0'], 'the first starts at once');
  s.clock.advance(50);
  assert.deepEqual(s.started, ['t0', 't1']);
  s.clock.advance(500);
  assert.deepEqual(s.started, ['t0', 't1'], 'two under way: the rest wait');
  await s.finishAll();
  s.clock.advance(50);
  assert.deepEqual(s.started, ['t0', 't1', 't2', 't3']);
  s.add('late');
  await s.finishAll();
  s.clock.advance(100);
  assert.deepEqual(s.started.slice(4), ['t4', 'late'], 'fresh ones before any second round');
});

test('each torrent is announced once per interval, spread over it; removed ones stop', async () => {
  const s = setup();
  const n = 20;
  for (let i = 0; i < n; i++) s.add(`t${i}`);
  await s.run(1000);
  assert.equal(s.started.length, n, 'every new torrent announced within a second');
  s.started.length = 0;
  await s.run(3 * INTERVAL, 1000);
  for (let i = 0; i < n; i++) {
    const count = s.started.filter((id) => id === `t${i}`).length;
    assert.ok(count >= 2 && count <= 4, `t${i} announced ${count} times in 3 intervals`);
  }
  // Spread: no two announces of the round within the same second.
  assert.ok(s.started.length <= 3 * n + n);
  s.schedule.remove('t0');
  s.started.length = 0;
  await s.run(INTERVAL, 1000);
  assert.ok(!s.started.includes('t0'));
  assert.ok(s.started.includes('t1'));
  s.schedule.stop();
  s.started.length = 0;
  await s.run(INTERVAL, 10_000);
  assert.deepEqual(s.started, []);
  assert.equal(s.schedule.size, 0);
});
