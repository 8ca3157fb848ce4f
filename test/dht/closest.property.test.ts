import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compareDistance } from '../../src/dht/node-id.js';
import { RoutingTable } from '../../src/dht/routing-table.js';
import { keepBytes } from '../../src/shared/kept-bytes.js';

/** Ids drawn from few heads, so many share their first 30 bits and only later bytes decide. */
const id = fc
  .tuple(fc.constantFrom(0x00, 0x7f, 0x80, 0xff), fc.uint8Array({ minLength: 19, maxLength: 19 }))
  .map(([head, rest]) =>
    Buffer.concat([Buffer.from([head, head, head, head & 0xfc]), rest.subarray(3)]),
  );

test('closest() names exactly the nearest nodes, as many as asked, in order, ties in the first 30 bits included', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(id, { minLength: 1, maxLength: 120, selector: (b) => b.toString('hex') }),
      id,
      id,
      fc.integer({ min: 1, max: 130 }),
      (ids, own, target, count) => {
        const table = new RoutingTable(own, () => 0, { enforceNodeId: false, maxPerIp: 1000 });
        // One private address per node: no diversity limit applies to them.
        for (const [i, n] of ids.entries())
          table.insert({ id: n, host: `10.${i >> 8}.${i & 255}.1`, port: 6881 }, true);
        const all = table.all();
        const want = [...all].sort((a, b) => compareDistance(target, a.id, b.id)).slice(0, count);
        const got = table.closest(target, count);
        assert.deepEqual(
          got.map((n) => n.id.toString('hex')),
          want.map((n) => n.id.toString('hex')),
        );
      },
    ),
    { numRuns: 300 },
  );
});

test('kept bytes are copies that later writes to the source never change', () => {
  const source = Buffer.from('0123456789abcdefghij');
  const kept = keepBytes(source);
  source.fill(0);
  assert.equal(kept.toString(), '0123456789abcdefghij');
  const many = Array.from({ length: 500 }, (_, i) => keepBytes(Buffer.from([i & 255, i >> 8])));
  for (const [i, k] of many.entries()) assert.deepEqual([...k], [i & 255, i >> 8]);
});
