import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/runtime/manual-clock.js';
import type { TimerHandle, Timers } from '../../src/runtime/runtime.js';
import { SharedTicker } from '../../src/shared/ticker.js';

/** Manual timers that count the intervals they run. */
function countingTimers(clock: ManualClock) {
  let live = 0;
  const timers: Timers = {
    setTimeout: (cb, ms) => clock.setTimeout(cb, ms),
    setInterval(cb, ms): TimerHandle {
      live++;
      const h = clock.setInterval(cb, ms);
      return {
        cancel: () => {
          live--;
          h.cancel();
        },
      };
    },
  };
  return { timers, live: () => live };
}

test('one interval ticks every subscriber; it runs only while someone subscribes', () => {
  const clock = new ManualClock();
  const { timers, live } = countingTimers(clock);
  const ticker = new SharedTicker(timers, 1000);
  const ticks = { a: 0, b: 0 };
  const tickA = () => ticks.a++;
  const a = ticker.subscribe(tickA);
  const again = ticker.subscribe(tickA); // the same function twice: two subscriptions
  const b = ticker.subscribe(() => ticks.b++);
  assert.equal(live(), 1);
  assert.equal(ticker.size, 3);
  clock.advance(3000);
  assert.deepEqual(ticks, { a: 6, b: 3 });
  again.cancel();
  clock.advance(1000);
  assert.deepEqual(ticks, { a: 7, b: 4 });
  a.cancel();
  b.cancel();
  assert.equal(live(), 0, 'no timer once nobody subscribes');
  clock.advance(5000);
  assert.deepEqual(ticks, { a: 7, b: 4 });
  ticker.subscribe(() => ticks.b++);
  assert.equal(live(), 1);
  clock.advance(1000);
  assert.equal(ticks.b, 5);
});

test('a subscriber cancelled by another during a tick is not ticked', () => {
  const clock = new ManualClock();
  const ticker = new SharedTicker(clock, 1000);
  let second = 0;
  let handle: TimerHandle | undefined;
  ticker.subscribe(() => handle?.cancel());
  handle = ticker.subscribe(() => second++);
  clock.advance(2000);
  assert.equal(second, 0);
  assert.equal(ticker.size, 1);
});
