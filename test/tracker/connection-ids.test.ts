import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConnectionIds } from '../../src/tracker/connection-ids.js';

test('UDP connection ids: bound to address and port, valid for the minute of issue and two more', () => {
  const ids = new ConnectionIds(Buffer.alloc(32, 7));
  const t0 = 10 * 60_000 + 5_000;
  const id = ids.issue('192.0.2.1', 6881, t0);
  assert.equal(ids.issue('192.0.2.1', 6881, t0 + 1000), id, 'stable within the minute');
  assert.ok(ids.valid(id, '192.0.2.1', 6881, t0));
  assert.ok(ids.valid(id, '192.0.2.1', 6881, t0 + 2 * 60_000), 'still valid two minutes on');
  assert.ok(!ids.valid(id, '192.0.2.1', 6881, t0 + 3 * 60_000), 'expired after that');
  assert.ok(!ids.valid(id, '192.0.2.2', 6881, t0), 'another address cannot use it');
  assert.ok(!ids.valid(id, '192.0.2.1', 6882, t0), 'nor another port');
  const other = new ConnectionIds(Buffer.alloc(32, 8));
  assert.notEqual(other.issue('192.0.2.1', 6881, t0), id, 'keyed by the tracker secret');
  assert.ok(!ids.valid(id ^ 1n, '192.0.2.1', 6881, t0));
});
