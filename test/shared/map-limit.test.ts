import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mapLimit } from '../../src/shared/map-limit.js';

test('mapLimit keeps the order of the items and never runs more than its limit at once', async () => {
  const items = Array.from({ length: 50 }, (_, i) => i);
  let running = 0;
  let most = 0;
  const out = await mapLimit(items, 4, async (n, i) => {
    assert.equal(n, i);
    running++;
    most = Math.max(most, running);
    // Later items finish sooner: the output order must not follow completion.
    for (let k = 0; k < 50 - n; k++) await Promise.resolve();
    running--;
    return n * 2;
  });
  assert.deepEqual(
    out,
    items.map((n) => n * 2),
  );
  assert.equal(most, 4);
  assert.deepEqual(await mapLimit([], 4, async () => 1), []);
});

test('mapLimit rejects with the first failure', async () => {
  await assert.rejects(
    mapLimit([1, 2, 3], 2, async (n) => {
      if (n === 2) throw new Error('two');
      return n;
    }),
    /two/,
  );
});
