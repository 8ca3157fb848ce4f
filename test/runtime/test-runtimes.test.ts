import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/runtime/manual-clock.js';
import { SeededRandom } from '../../src/runtime/seeded-random.js';

test('ManualClock fires timers in time order, then schedule order', () => {
  const clock = new ManualClock();
  const fired: string[] = [];
  clock.setTimeout(() => fired.push('b@10'), 10);
  clock.setTimeout(() => fired.push('a@5'), 5);
  clock.setTimeout(() => fired.push('c@10'), 10);
  const cancelled = clock.setTimeout(() => fired.push('never'), 7);
  const every = clock.setInterval(() => fired.push(`tick@${clock.now()}`), 4);
  cancelled.cancel();
  clock.advance(10);
  every.cancel();
  clock.advance(100);
  assert.deepEqual(fired, ['tick@4', 'a@5', 'tick@8', 'b@10', 'c@10']);
  assert.equal(clock.now(), 110);
  assert.equal(clock.pending(), 0);
});

test('SeededRandom replays the same sequence for the same seed', () => {
  const a = new SeededRandom(42);
  const b = new SeededRandom(42);
  const c = new SeededRandom(43);
  const seqA = Array.from({ length: 8 }, () => a.next());
  assert.deepEqual(
    seqA,
    Array.from({ length: 8 }, () => b.next()),
  );
  assert.notDeepEqual(
    seqA,
    Array.from({ length: 8 }, () => c.next()),
  );
  assert.deepEqual(new SeededRandom(7).bytes(13), new SeededRandom(7).bytes(13));
  for (let i = 0; i < 1000; i++) {
    const n = a.int(10);
    assert.ok(Number.isInteger(n) && n >= 0 && n < 10);
    const f = a.float();
    assert.ok(f >= 0 && f < 1);
  }
});
