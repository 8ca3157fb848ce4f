import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRandom } from '../../src/runtime/seeded-random.js';
import { ExpiringCache } from '../../src/shared/expiring-cache.js';
import { pickOne } from '../../src/shared/pick.js';

test('entries expire after their time and the oldest go first beyond the bound', () => {
  const c = new ExpiringCache<string, number>(3, 100);
  c.set('a', 1, 0);
  c.set('b', 2, 10);
  assert.equal(c.get('a', 50), 1);
  assert.equal(c.get('a', 100), undefined, 'expired at 100');
  c.set('c', 3, 20);
  c.set('d', 4, 30);
  c.set('e', 5, 40);
  assert.equal(c.size, 3);
  assert.equal(c.has('b', 40), false, 'the oldest left to keep three');
  assert.deepEqual([...c.values(45)], [3, 4, 5]);
  c.set('c', 30, 50);
  assert.deepEqual([...c.values(50)], [4, 5, 30], 'setting again renews and moves to the end');
  c.delete('d');
  assert.equal(c.get('d', 50), undefined);
  c.prune(200);
  assert.equal(c.size, 0);
});

test('pickOne never draws from an empty list', () => {
  const random = { int: () => assert.fail('drew'), float: () => 0, bytes: () => Buffer.alloc(0) };
  assert.equal(pickOne(random, []), undefined);
  assert.equal(pickOne(new SeededRandom(1), ['x']), 'x');
});
