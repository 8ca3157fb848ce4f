import assert from 'node:assert/strict';
import { isIPv4 } from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import { ipv4Number } from '../../src/codec/compact.js';
import { PeerTable } from '../../src/tracker/peer-table.js';

const id = (n: number) => Buffer.alloc(20, n);

function addPeer(t: PeerTable, host: string, port: number, seed = false, now = 0): number {
  return t.add(host, port, id(port & 255), seed, now);
}

test('peer table: add, re-announce, remove keep slots dense and counts right', () => {
  const t = new PeerTable();
  const a = addPeer(t, '10.0.0.1', 1000);
  const b = addPeer(t, '10.0.0.2', 2000, true);
  const c = addPeer(t, '2001:db8::1', 3000);
  assert.deepEqual([t.size, t.seeders], [3, 1]);
  assert.equal(t.find('10.0.0.2', 2000), b);
  assert.equal(t.find('10.0.0.2', 2001), -1, 'the port is part of the key');
  t.update(a, id(9), true, 5);
  assert.equal(t.seeders, 2);
  assert.deepEqual(Buffer.from(t.peerId(a)), id(9));
  t.remove(a);
  // The last peer moved into the hole.
  assert.equal(t.size, 2);
  assert.equal(t.find('2001:db8::1', 3000), a);
  assert.deepEqual([t.host(a), t.port(a), t.family(a)], ['2001:db8::1', 3000, 6]);
  assert.deepEqual(Buffer.from(t.peerId(a)), id(3000 & 255));
  assert.equal(t.find('10.0.0.1', 1000), -1);
  assert.equal(t.seeders, 1);
  assert.equal(c, 2);
});

test('peer table: an IPv4 address and an IPv6 one with the same bytes are different peers', () => {
  const t = new PeerTable();
  const v4 = addPeer(t, '1.2.3.4', 80);
  const v6 = addPeer(t, '102:304::', 80);
  assert.notEqual(v4, v6);
  assert.deepEqual([t.find('1.2.3.4', 80), t.find('102:304::', 80)], [v4, v6]);
});

test('peer table: compact addresses are BEP 23 / BEP 7 bytes', () => {
  const t = new PeerTable();
  const v4 = addPeer(t, '192.0.2.7', 0x1ae1);
  const v6 = addPeer(t, '2001:db8::2', 6881);
  const out = Buffer.alloc(24);
  assert.equal(t.writeCompact(v4, out, 0), 6);
  assert.equal(t.writeCompact(v6, out, 6), 24);
  assert.equal(out.subarray(0, 6).toString('hex'), 'c00002071ae1');
  assert.equal(
    out.subarray(6).toString('hex'),
    `20010db8000000000000000000000002${(6881).toString(16)}`,
  );
});

test('peer table: sampling skips the asker, stale peers, other families and seeds for seeds', () => {
  const t = new PeerTable();
  // Times are kept in whole seconds.
  for (let i = 0; i < 20; i++) addPeer(t, `10.0.1.${i}`, 6881, i % 2 === 0, i < 5 ? 0 : 100_000);
  addPeer(t, '2001:db8::9', 6881, false, 100_000);
  const self = t.find('10.0.1.6', 6881); // a seed
  const all = t.sample(self, 100, 0, 50_000, 0);
  assert.ok(!all.includes(self));
  for (const s of all) {
    assert.ok(!t.isSeed(s), 'a seed is given no seeds');
    assert.ok(t.host(s) !== '10.0.1.1' && t.host(s) !== '10.0.1.3', 'stale peers skipped');
  }
  assert.equal(all.length, 8 + 1, 'leechers 5…19 that are live, and the IPv6 one');
  assert.equal(t.sample(self, 100, 4, 50_000, 0).length, 8, 'IPv4 only');
  assert.deepEqual(
    t.sample(self, 100, 6, 50_000, 3).map((s) => t.host(s)),
    ['2001:db8::9'],
  );
  assert.equal(t.sample(self, 3, 0, 50_000, 0).length, 3, 'at most `want`');
  t.expire(50_000);
  assert.equal(t.size, 16, 'the five stale peers expired');
});

test('peer table: agrees with a plain map over random operations (property)', () => {
  const op = fc.oneof(
    fc.record({
      kind: fc.constant('announce' as const),
      peer: fc.nat(200),
      seed: fc.boolean(),
      at: fc.nat(250),
    }),
    fc.record({ kind: fc.constant('remove' as const), peer: fc.nat(200) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 1000 }), (ops) => {
      const t = new PeerTable();
      const model = new Map<number, boolean>();
      const hostOf = (p: number) =>
        p % 3 === 0 ? `2001:db8::${(p + 1).toString(16)}` : `10.1.${p}.1`;
      for (const o of ops) {
        const slot = t.find(hostOf(o.peer), 7000 + o.peer);
        assert.equal(slot >= 0, model.has(o.peer));
        if (o.kind === 'remove') {
          if (slot >= 0) t.remove(slot);
          model.delete(o.peer);
        } else {
          if (slot >= 0) t.update(slot, id(o.peer), o.seed, 1);
          else {
            // Any slot up to the end: the peer there moves to the end.
            const at = o.at % (t.size + 1);
            assert.equal(t.add(hostOf(o.peer), 7000 + o.peer, id(o.peer), o.seed, 1, at), at);
          }
          model.set(o.peer, o.seed);
        }
      }
      assert.equal(t.size, model.size);
      assert.ok(t.capacity <= Math.max(1, 4 * t.size), 'the table shrinks as peers leave');
      assert.equal(t.seeders, [...model.values()].filter(Boolean).length);
      for (const [p, seed] of model) {
        const slot = t.find(hostOf(p), 7000 + p);
        assert.deepEqual([t.host(slot), t.port(slot), t.isSeed(slot)], [hostOf(p), 7000 + p, seed]);
        assert.deepEqual(Buffer.from(t.peerId(slot)), id(p));
      }
    }),
    { numRuns: 300 },
  );
});

test('peer table: newcomers at random slots make any run of slots a random set of peers', () => {
  let x = 7;
  const random = (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
  // 1,000 peers, of which the 100 that came first (say, one attacker's) form a cluster.
  const table = (randomSlots: boolean) => {
    const t = new PeerTable();
    for (let p = 0; p < 1000; p++)
      t.add('10.2.0.1', 10_000 + p, id(p), false, 0, randomSlots ? random(t.size + 1) : undefined);
    return t;
  };
  const clusterCounts = (t: PeerTable) => {
    const counts: number[] = [];
    for (let reply = 0; reply < 2000; reply++) {
      const picked = t.sample(-1, 50, 0, 0, random(t.size));
      assert.equal(picked.length, 50);
      counts.push(picked.filter((s) => t.port(s) < 10_100).length);
    }
    return counts;
  };
  const spread = clusterCounts(table(true));
  const mean = spread.reduce((a, b) => a + b, 0) / spread.length;
  assert.ok(Math.abs(mean - 5) < 0.5, `a reply holds 5 of the cluster on average (${mean})`);
  assert.ok(Math.max(...spread) <= 16, `and never most of it (${Math.max(...spread)})`);
  // Appended in arrival order, a run from a random place can be all cluster.
  assert.equal(Math.max(...clusterCounts(table(false))), 50);
});

test('ipv4Number: parses dotted quads exactly as node:net recognises them', () => {
  assert.equal(ipv4Number('192.0.2.1'), 0xc0000201);
  assert.equal(ipv4Number('255.255.255.255'), 0xffffffff);
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', '1.2.3.', 'a.b.c.d', '::1'])
    assert.equal(ipv4Number(bad), -1, bad);
  fc.assert(
    fc.property(fc.oneof(fc.ipV4(), fc.string({ maxLength: 16 })), (s) => {
      const n = ipv4Number(s);
      // node:net refuses leading zeros ("01.2.3.4"), which we read as decimal: hosts here come
      // from sockets, always canonical.
      if (isIPv4(s))
        assert.equal(
          n,
          s.split('.').reduce((v, p) => v * 256 + Number(p), 0),
        );
      else if (n >= 0) assert.match(s, /^\d{1,3}(\.\d{1,3}){3}$/);
    }),
    { numRuns: 20_000 },
  );
});
