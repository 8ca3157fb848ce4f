import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeRecord, signRecord, verifyRecord } from '../../../src/apps/search/record.js';
import { type Hit, ResultSet } from '../../../src/apps/search/result-set.js';
import type { Identity } from '../../../src/crypto/identity.js';
import { identity } from '../../overlay/helpers.js';

const hashOf = (n: number) => Buffer.alloc(20, n);

function hit(who: Identity, torrents: { n: number; name: string }[]): Hit {
  return {
    responder: who.publicKey,
    responderId: who.publicKey.toString(),
    peers: [{ host: '10.0.0.1', port: 6881 }],
    records: torrents.map((t) =>
      signRecord(who, {
        infoHashV1: hashOf(t.n),
        name: t.name,
        size: 1000,
        files: 1,
        seeders: 99_999,
        timestamp: 1_700_000_000,
        tags: [],
      }),
    ),
  };
}

test('records round-trip, verify, and refuse tampering', () => {
  const r = hit(identity(1), [{ n: 1, name: 'Field Recordings Vol 3.flac' }]).records[0]!;
  const back = decodeRecord(r.encoded);
  assert.ok(verifyRecord(back));
  assert.equal(back.name, 'Field Recordings Vol 3.flac');
  assert.equal(back.publisherId, identity(1).publicKey.toString());
  const forged = decodeRecord(
    Buffer.from(r.encoded.toString('latin1').replace('Vol 3', 'Vol 4'), 'latin1'),
  );
  assert.ok(!verifyRecord(forged));
});

test('spam: one node answering with 20 echoing junk records cannot outrank honest answers', () => {
  const known = new Set([identity(9).publicKey.toString()]);
  const set = new ResultSet(['field', 'recordings'], (id) => known.has(id));
  // Honest: torrent 1 shared by five nodes, torrent 2 by one, torrent 3 by one known node.
  for (const i of [1, 2, 3, 4, 5])
    set.add(hit(identity(i), [{ n: 1, name: 'Field Recordings Vol 3.flac' }]), 50);
  // The spammer answers first, with junk names that echo the query.
  set.add(
    hit(
      identity(20),
      Array.from({ length: 20 }, (_, k) => ({
        n: 100 + k,
        name: `field recordings FREE ${k}.exe`,
      })),
    ),
    10,
  );
  set.add(hit(identity(6), [{ n: 2, name: 'Field Recordings (live).ogg' }]), 80);
  set.add(hit(identity(9), [{ n: 3, name: 'recordings of a field' }]), 90);
  const page = set.ranked().slice(0, 10);
  const keys = page.map((r) => r.torrentKey.slice(0, 2));
  assert.deepEqual(
    keys.slice(0, 3),
    ['01', '02', '03'],
    'honest first: most support, then earliest',
  );
  const one = page[0]!;
  assert.equal(one.sources, 5);
  assert.equal(one.support, 2, 'five fresh nodes count as two votes');
  assert.equal(page[1]!.support, 1);
  assert.equal(page[2]!.support, 1, 'a known node counts in full');
  assert.equal(page[3]!.support, 1 / 20, "junk shares its node's one vote");
  assert.equal(one.seedersClaimed, 99_999, 'claims are shown');
  assert.match(one.magnet, /x\.pe=10\.0\.0\.1:6881/);
});

test('records a responder signed under another key are not its answers', () => {
  const set = new ResultSet(['x'], () => false);
  const h = hit(identity(1), [{ n: 1, name: 'x' }]);
  set.add(
    { ...h, responder: identity(2).publicKey, responderId: identity(2).publicKey.toString() },
    0,
  );
  assert.equal(set.size, 0);
});
