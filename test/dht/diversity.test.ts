import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { NodeContact } from '../../src/codec/compact.js';
import { Groups, hostKey, type SubnetKey, subnetKey } from '../../src/dht/ip-diversity.js';
import {
  commonPrefixBits,
  compareDistance,
  isExemptAddress,
  nodeIdForIp,
} from '../../src/dht/node-id.js';
import { DEFAULT_PEER_DIVERSITY, PeerStore } from '../../src/dht/peer-store.js';
import {
  DEFAULT_ROUTING_LIMITS,
  MAX_CLOSEST_PER_IP,
  MAX_CLOSEST_PER_SUBNET,
  RoutingTable,
} from '../../src/dht/routing-table.js';
import { ManualClock } from '../../src/runtime/manual-clock.js';
import { SeededRandom } from '../../src/runtime/seeded-random.js';

const random = new SeededRandom(42);
/** A node at a public address with a BEP 42 id for it. */
const publicNode = (host: string, port = 6881): NodeContact => ({
  id: nodeIdForIp(host, random),
  host,
  port,
});

test('subnets: /24 for public IPv4, /64 for IPv6, none for private and loopback', () => {
  assert.equal(subnetKey('203.0.113.77'), subnetKey('203.0.113.1'));
  assert.equal(subnetKey('::ffff:203.0.113.77'), subnetKey('203.0.113.1'));
  assert.notEqual(subnetKey('203.0.113.77'), subnetKey('203.0.112.77'));
  assert.equal(subnetKey('2001:db8:1:2::5'), subnetKey('2001:db8:1:2:ffff::1'));
  assert.notEqual(subnetKey('2001:db8:1:2::5'), subnetKey('2001:db8:1:3::5'));
  for (const exempt of ['127.0.0.1', '10.1.2.3', '192.168.1.9', '::1', 'fd00::1'])
    assert.equal(subnetKey(exempt), undefined, exempt);
  assert.equal(hostKey('::ffff:1.2.3.4'), '1.2.3.4');
  for (const [ip, exempt] of [
    ['172.16.0.1', true],
    ['172.31.255.255', true],
    ['172.32.0.1', false],
    ['169.254.9.9', true],
    ['192.168.0.1', true],
    ['192.169.0.1', false],
    ['11.0.0.1', false],
    ['::ffff:10.9.9.9', true],
  ] as const)
    assert.equal(isExemptAddress(ip), exempt, ip);
});

test('BEP 42 for routing: a public address enters only with an id derived from it', () => {
  const clock = new ManualClock();
  const table = new RoutingTable(Buffer.alloc(20, 0), () => clock.now());
  const forged = { id: random.bytes(20), host: '203.0.113.9', port: 6881 };
  assert.equal(table.insert(forged, true).kind, 'ignored');
  table.heardAbout(forged);
  assert.equal(table.size, 0, 'nor when named in a reply');
  assert.equal(table.insert(publicNode('203.0.113.9'), true).kind, 'added');
  assert.equal(
    table.insert({ ...forged, host: '192.168.1.9' }, true).kind,
    'added',
    'private exempt',
  );
  const lax = new RoutingTable(Buffer.alloc(20, 0), () => clock.now(), { enforceNodeId: false });
  assert.equal(lax.insert(forged, true).kind, 'added', 'enforceNodeId: false lets it in');
});

test('one entry per address:port; only a node that answered from it takes it over', () => {
  const clock = new ManualClock();
  const table = new RoutingTable(Buffer.alloc(20, 0), () => clock.now());
  const first = { id: random.bytes(20), host: '10.0.0.5', port: 6881 };
  const second = { ...first, id: random.bytes(20) };
  table.insert(first, true);
  assert.equal(table.insert(second, false).kind, 'ignored', 'a query (maybe spoofed) does not');
  assert.ok(table.get(first.id));
  assert.equal(table.insert(second, true).kind, 'added', 'an answer from the address does');
  assert.equal(table.get(first.id), undefined);
  assert.equal(table.size, 1);
});

test('per address and per subnet limits in the routing table', () => {
  const clock = new ManualClock();
  const own = random.bytes(20);
  const table = new RoutingTable(own, () => clock.now());
  for (let port = 1; port <= 10; port++) table.insert(publicNode('198.51.100.20', port), true);
  const fromIp = table.all().filter((n) => n.host === '198.51.100.20').length;
  assert.equal(fromIp, DEFAULT_ROUTING_LIMITS.maxPerIp);
  for (let i = 1; i <= 200; i++) table.insert(publicNode(`203.0.113.${i}`), true);
  // Others from many subnets make the table split, so buckets can be told apart.
  for (let i = 0; i < 400; i++)
    table.insert(publicNode(`${11 + (i % 90)}.${i >> 2}.${i & 3}.1`), true);
  const inSubnet = table.all().filter((n) => subnetKey(n.host) === subnetKey('203.0.113.0'));
  assert.ok(
    inSubnet.length <= DEFAULT_ROUTING_LIMITS.maxPerSubnet,
    `${inSubnet.length} in the /24`,
  );
  assert.ok(inSubnet.length > 0);
  const perBucket = new Map<number, number>();
  for (const n of inSubnet) {
    const b = Math.min(commonPrefixBits(own, n.id), table.depth - 1);
    perBucket.set(b, (perBucket.get(b) ?? 0) + 1);
  }
  for (const [b, n] of perBucket)
    assert.ok(n <= DEFAULT_ROUTING_LIMITS.maxPerSubnetPerBucket, `${n} in bucket ${b}`);
  // Accounting survives removals: a removed node's place is free again.
  const gone = inSubnet[0]!;
  table.remove(gone.id);
  assert.equal(table.insert(gone, true).kind, 'added');
});

test('closest() names at most 2 nodes per address and per /24, the next closest instead', () => {
  const clock = new ManualClock();
  const table = new RoutingTable(random.bytes(20), () => clock.now(), {
    maxPerIp: 1000,
    maxPerSubnet: 1000,
    maxPerSubnetPerBucket: 1000,
  });
  for (let i = 0; i < 120; i++) table.insert(publicNode('198.51.100.66', 1000 + i), true);
  for (let i = 1; i <= 120; i++) table.insert(publicNode(`203.0.113.${i}`), true);
  for (let i = 0; i < 60; i++) table.insert(publicNode(`${20 + i}.1.2.3`), true);
  for (let round = 0; round < 20; round++) {
    const target = random.bytes(20);
    const got = table.closest(target, 8);
    assert.equal(got.length, 8);
    const byIp = new Map<string, number>();
    const bySubnet = new Map<string | number, number>();
    for (const n of got) {
      byIp.set(n.host, (byIp.get(n.host) ?? 0) + 1);
      const s = subnetKey(n.host)!;
      bySubnet.set(s, (bySubnet.get(s) ?? 0) + 1);
    }
    assert.ok(Math.max(...byIp.values()) <= MAX_CLOSEST_PER_IP);
    assert.ok(Math.max(...bySubnet.values()) <= MAX_CLOSEST_PER_SUBNET);
    // And it is the closest such set: greedy over every node by distance.
    const counts = new Map<string | number, number>();
    const expected = table
      .all()
      .sort((a, b) => compareDistance(target, a.id, b.id))
      .filter((n) => {
        const ip = counts.get(n.host) ?? 0;
        const s = counts.get(subnetKey(n.host)!) ?? 0;
        if (ip >= MAX_CLOSEST_PER_IP || s >= MAX_CLOSEST_PER_SUBNET) return false;
        counts.set(n.host, ip + 1);
        counts.set(subnetKey(n.host)!, s + 1);
        return true;
      })
      .slice(0, 8);
    assert.deepEqual(got, expected);
  }
});

test('peer lists: one /24 announcing 400 times keeps at most 16 places, 4 per address', () => {
  const store = new PeerStore(
    { maxInfoHashes: 100, maxPeersPerInfoHash: 200, ttlMs: 60_000 },
    random,
  );
  const hash = Buffer.alloc(20, 1);
  store.add(hash, { host: '198.51.100.7', port: 6881 }, false, 0);
  for (let i = 0; i < 400; i++)
    store.add(hash, { host: `203.0.113.${i % 7}`, port: 20_000 + i }, false, 1 + i);
  const peers = store.get(hash, 500, 1000);
  assert.ok(
    peers.some((p) => p.host === '198.51.100.7'),
    'the honest peer stays',
  );
  const fromSubnet = peers.filter((p) => p.host.startsWith('203.0.113.'));
  assert.equal(fromSubnet.length, DEFAULT_PEER_DIVERSITY.maxPeersPerSubnet);
  for (let i = 0; i < 7; i++)
    assert.ok(fromSubnet.filter((p) => p.host === `203.0.113.${i}`).length <= 4);
  // The newest are kept: the last announces replaced their own subnet's oldest.
  assert.ok(fromSubnet.some((p) => p.port === 20_399));
});

test('peer lists: a full list gives way from its largest group, never the newcomer’s betters', () => {
  const store = new PeerStore(
    { maxInfoHashes: 10, maxPeersPerInfoHash: 20, ttlMs: 60_000 },
    random,
  );
  const hash = Buffer.alloc(20, 2);
  for (let i = 0; i < 16; i++) store.add(hash, { host: `198.51.${i}.1`, port: 1 }, false, i);
  for (let i = 0; i < 4; i++)
    store.add(hash, { host: '203.0.113.1', port: 100 + i }, false, 20 + i);
  // Full (20). A newcomer from a fresh /24 replaces the largest group's oldest, not an honest peer.
  store.add(hash, { host: '192.0.2.1', port: 1 }, false, 30);
  const hosts = store.get(hash, 100, 31).map((p) => `${p.host}:${p.port}`);
  assert.equal(hosts.length, 20);
  assert.ok(hosts.includes('192.0.2.1:1'));
  assert.ok(!hosts.includes('203.0.113.1:100'), 'the oldest of the largest group went');
  for (let i = 0; i < 16; i++) assert.ok(hosts.includes(`198.51.${i}.1:1`));
});

test('peer store: one address stores at most 64 entries over all info-hashes', () => {
  const store = new PeerStore(
    { maxInfoHashes: 10_000, maxPeersPerInfoHash: 200, ttlMs: 60_000 },
    random,
  );
  let stored = 0;
  for (let i = 0; i < 500; i++) {
    const hash = Buffer.alloc(20, 0);
    hash.writeUInt32BE(i);
    if (store.add(hash, { host: '203.0.113.9', port: 6881 }, false, i)) stored++;
  }
  assert.equal(stored, DEFAULT_PEER_DIVERSITY.maxEntriesPerIp);
  assert.ok(store.add(Buffer.alloc(20, 9), { host: '198.51.100.1', port: 1 }, false, 600));
  // Entries expire and the address may store again.
  assert.ok(store.add(Buffer.alloc(20, 8), { host: '203.0.113.9', port: 6881 }, false, 70_000));
});

test('property: Groups holds what a map of arrays holds, in the order items came', () => {
  const key = fc.oneof(fc.integer({ min: 0, max: 6 }), fc.constantFrom('a', 'b::/64'));
  const op = fc.tuple(fc.boolean(), key, fc.integer({ min: 0, max: 9 }));
  fc.assert(
    fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const items = Array.from({ length: 10 }, (_, i) => ({ i }));
      const groups = new Groups<{ i: number }>();
      const reference = new Map<SubnetKey, { i: number }[]>();
      for (const [adding, k, n] of ops) {
        const item = items[n]!;
        const list = reference.get(k) ?? [];
        if (adding) {
          groups.add(k, item);
          reference.set(k, [...list, item]);
        } else {
          groups.remove(k, item);
          const at = list.indexOf(item);
          if (at >= 0)
            reference.set(
              k,
              list.filter((_, j) => j !== at),
            );
        }
      }
      for (const k of [0, 1, 2, 3, 4, 5, 6, 'a', 'b::/64'])
        assert.deepEqual(groups.get(k), reference.get(k) ?? []);
      assert.deepEqual(groups.get(undefined), []);
    }),
    { numRuns: 500 },
  );
});
