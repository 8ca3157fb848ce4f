import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { BDict } from '../../src/codec/bencode.js';
import { encodeCompactNodes, type NodeContact } from '../../src/codec/compact.js';
import { iterativeLookup, type LookupResult } from '../../src/dht/lookup.js';
import { compareDistance } from '../../src/dht/node-id.js';

const NODES = 400;
/** Fixed ids and addresses: the test reruns identically. */
const contacts: NodeContact[] = Array.from({ length: NODES }, (_, i) => ({
  id: createHash('sha1').update(`node ${i}`).digest(),
  host: `10.0.${i >> 8}.${i & 255}`,
  port: 6881,
}));
const indexOf = new Map(contacts.map((c, i) => [c.host, i]));
/** Node i knows 24 others, by a fixed stride: a lookup meets many nodes on its way in. */
const known = (i: number) =>
  Array.from({ length: 24 }, (_, j) => contacts[(i * 7 + j * 17 + 1) % NODES]!);

/** A lookup of `target` from node 0's acquaintances; each node answers with the 8 it knows closest. */
function lookup(target: Buffer, keep?: number): Promise<LookupResult> {
  return iterativeLookup({
    target,
    seeds: known(0).slice(0, 8),
    k: 8,
    ...(keep !== undefined && { keep }),
    alpha: 3,
    maxQueries: 256,
    family: 4,
    ask: (c) => {
      const closest = known(indexOf.get(c.host)!)
        .sort((a, b) => compareDistance(target, a.id, b.id))
        .slice(0, 8);
      return Promise.resolve(new Map([['nodes', encodeCompactNodes(closest, 4)]]) as BDict);
    },
  });
}

test('a lookup returns its k closest answers, or more when asked to keep more (announce width)', async () => {
  const target = createHash('sha1').update('target').digest();
  const plain = await lookup(target);
  const wide = await lookup(target, 16);
  assert.equal(plain.closest.length, 8);
  assert.ok(wide.queried > 16, `the lookup met ${wide.queried} nodes`);
  assert.equal(wide.closest.length, 16);
  assert.equal(wide.queried, plain.queried, 'keeping more asks nobody more');
  const ids = (r: LookupResult) => r.closest.map((c) => c.contact.id.toString('hex'));
  assert.deepEqual(ids(wide).slice(0, 8), ids(plain), 'the first 8 are the k closest');
  for (let i = 1; i < wide.closest.length; i++)
    assert.ok(
      compareDistance(target, wide.closest[i - 1]!.contact.id, wide.closest[i]!.contact.id) < 0,
      'closest first',
    );
});
