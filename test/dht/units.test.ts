import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { encode } from '../../src/codec/bencode.js';
import { decodeCompactNodes, encodeCompactNodes } from '../../src/codec/compact.js';
import {
  immutableTarget,
  keysFromSeed,
  mutableTarget,
  signMutable,
  verifyMutable,
} from '../../src/dht/bep44.js';
import { crc32c } from '../../src/dht/crc32c.js';
import { decodeKrpc, encodeQuery, KrpcError } from '../../src/dht/krpc.js';
import {
  commonPrefixBits,
  compareDistance,
  idMatchesIp,
  nodeIdForIp,
} from '../../src/dht/node-id.js';
import { K, RoutingTable } from '../../src/dht/routing-table.js';
import { TokenIssuer } from '../../src/dht/tokens.js';
import { ManualClock } from '../../src/runtime/manual-clock.js';
import { SeededRandom } from '../../src/runtime/seeded-random.js';
import { assertDecoderSafe, mutated } from '../support/fuzz.js';

test('CRC32C matches the standard check value', () => {
  assert.equal(crc32c(Buffer.from('123456789')).toString(16), 'e3069283');
});

test('BEP 42 node ids: the spec test vectors validate, and generated ids match their IP', () => {
  const vectors: [string, string][] = [
    ['124.31.75.21', '5fbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401'],
    ['21.75.31.124', '5a3ce9c14e7a08645677bbd1cfe7d8f956d53256'],
    ['65.23.51.170', 'a5d43220bc8f112a3d426c84764f8c2a1150e616'],
    ['84.124.73.14', '1b0321dd1bb1fe518101ceef99462b947a01ff41'],
    ['43.213.53.83', 'e56f6cbf5b7c4be0237986d5243b87aa6d51305a'],
  ];
  for (const [ip, id] of vectors) assert.ok(idMatchesIp(Buffer.from(id, 'hex'), ip), ip);
  assert.ok(!idMatchesIp(Buffer.from(vectors[0]![1], 'hex'), '21.75.31.124'));
  const random = new SeededRandom(5);
  for (const ip of ['8.8.4.4', '203.0.113.7', '2001:db8::5'])
    assert.ok(idMatchesIp(nodeIdForIp(ip, random), ip), ip);
  assert.ok(idMatchesIp(Buffer.alloc(20), '127.0.0.1'), 'loopback is exempt');
  assert.ok(idMatchesIp(Buffer.alloc(20), '192.168.1.2'), 'private ranges are exempt');
});

test('KRPC decodes the BEP 5 examples and refuses garbage with KrpcError', () => {
  const ping = decodeKrpc(Buffer.from('d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe'));
  assert.equal(ping.y, 'q');
  if (ping.y === 'q') assert.equal(ping.q, 'ping');
  const resp = decodeKrpc(Buffer.from('d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re'));
  assert.equal(resp.y, 'r');
  const err = decodeKrpc(Buffer.from('d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee'));
  assert.deepEqual(err.y === 'e' && [err.code, err.message], [201, 'A Generic Error Ocurred']);
  const ro = decodeKrpc(encodeQuery(Buffer.from('xy'), 'ping', { id: Buffer.alloc(20) }, true));
  assert.ok(ro.y === 'q' && ro.readOnly);
  for (const bad of [
    '',
    'de',
    'd1:t2:aa1:y1:qe',
    'd1:t2:aa1:y1:xe',
    'i1e',
    'd1:t2:aa1:y1:q1:q4:pinge',
  ]) {
    assert.throws(() => decodeKrpc(Buffer.from(bad)), KrpcError, bad);
  }
});

test('fuzz: KRPC decoding never throws anything but KrpcError', () => {
  const sample = encodeQuery(
    Buffer.from('ab'),
    'get_peers',
    { id: Buffer.alloc(20, 1), info_hash: Buffer.alloc(20, 2), want: ['n4', 'n6'] },
    false,
  );
  assertDecoderSafe(
    fc.oneof(fc.uint8Array({ maxLength: 200 }), mutated(sample)),
    (bytes) => decodeKrpc(bytes),
    KrpcError,
  );
});

test('compact node info round-trips (BEP 5, BEP 32)', () => {
  const nodes = [
    { id: Buffer.alloc(20, 1), host: '10.0.0.1', port: 6881 },
    { id: Buffer.alloc(20, 2), host: '2001:db8::1', port: 6882 },
  ];
  assert.deepEqual(decodeCompactNodes(encodeCompactNodes(nodes, 4), 4), [nodes[0]]);
  assert.deepEqual(decodeCompactNodes(encodeCompactNodes(nodes, 6), 6), [nodes[1]]);
});

test('the routing table splits only its own bucket, keeps 512/256/…/16 then k per bucket, and replaces bad nodes', () => {
  const clock = new ManualClock();
  const random = new SeededRandom(1);
  const own = Buffer.alloc(20, 0);
  const table = new RoutingTable(own, () => clock.now());
  for (let i = 0; i < 2000; i++)
    table.insert({ id: random.bytes(20), host: `10.0.${i >> 8}.${i & 255}`, port: 1000 }, true);
  assert.ok(table.depth > 4, 'split a few times');
  // The far buckets hold more (512, 256, 128, 64, 32, 16), the deeper ones k.
  const at = (depth: number) =>
    table.all().filter((n) => commonPrefixBits(own, n.id) === depth).length;
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(at), [K * 64, K * 32, K * 16, K * 8, K * 4, K * 2]);
  const far = table.all().filter((n) => commonPrefixBits(own, n.id) === 0);
  for (let i = 0; i < 50; i++) {
    const target = random.bytes(20);
    const bruteForce = table
      .all()
      .sort((a, b) => compareDistance(target, a.id, b.id))
      .slice(0, 20);
    assert.deepEqual(table.closest(target, 20), bruteForce, 'closest() visits buckets in order');
  }
  const victim = far[0]!;
  table.failed(victim.id);
  assert.ok(table.get(victim.id), 'one failure is forgiven');
  table.failed(victim.id);
  assert.equal(
    table.get(victim.id),
    undefined,
    'a bad node gives way to one from the replacement cache',
  );
  const kept = far[1]!;
  assert.equal(
    table.insert({ id: kept.id, host: '10.6.6.6', port: 1 }, true).kind,
    'ignored',
    'no hijacking an id',
  );
  clock.advance(20 * 60_000);
  const other = { id: Buffer.from(far[1]!.id), host: '10.0.0.10', port: 10 };
  other.id[19]! ^= 2;
  assert.equal(table.insert(other, true).kind, 'full', 'a stale full bucket asks for a ping');
  assert.ok(table.staleBucketTargets(15 * 60_000, (n) => random.bytes(n)).length > 0);
});

test('tokens are tied to the address and expire after two rotations', () => {
  const clock = new ManualClock();
  const tokens = new TokenIssuer(new SeededRandom(3), () => clock.now());
  const t = tokens.issue('1.2.3.4');
  assert.ok(tokens.valid(t, '1.2.3.4'));
  assert.ok(!tokens.valid(t, '1.2.3.5'));
  clock.advance(6 * 60_000);
  assert.ok(tokens.valid(t, '1.2.3.4'), 'still good after one rotation');
  clock.advance(5 * 60_000);
  assert.ok(!tokens.valid(t, '1.2.3.4'), 'gone after ten minutes');
});

test('BEP 44: signatures verify, targets are hashes, tampering is detected', () => {
  const keys = keysFromSeed(Buffer.alloc(32, 7));
  const item = signMutable(keys, 'Hello World!', 1, Buffer.from('foobar'));
  assert.ok(verifyMutable(item));
  assert.ok(!verifyMutable({ ...item, seq: 2 }));
  assert.ok(!verifyMutable({ ...item, v: encode('Hello World?') }));
  assert.deepEqual(
    immutableTarget(encode('Hello World!')).toString('hex'),
    'e5f96f6f38320f0f33959cb4d3d656452117aadb',
  );
  assert.equal(mutableTarget(keys.publicKey, Buffer.from('foobar')).length, 20);
});

test('nodes heard about take free places only, and give way to nodes heard from', () => {
  const clock = new ManualClock();
  const random = new SeededRandom(7);
  const own = Buffer.alloc(20, 0);
  const table = new RoutingTable(own, () => clock.now());
  const far = () => {
    const id = random.bytes(20);
    id[0]! |= 0x80; // first bit differs from ours: bucket 0 (512 places)
    return id;
  };
  const heard = Array.from({ length: 700 }, (_, i) => ({
    id: far(),
    host: `10.1.${i >> 8}.${i & 255}`,
    port: 6881,
  }));
  for (const n of heard) table.heardAbout(n);
  assert.equal(table.size, 512, 'a bucket fills with nodes heard about, up to its size');
  assert.equal(table.health().questionable, 512, 'never heard from: questionable, not good');
  table.heardAbout(heard[0]!);
  assert.equal(table.size, 512, 'no duplicates');
  const confirmed = { id: far(), host: '10.0.2.2', port: 9 };
  assert.equal(table.insert(confirmed, true).kind, 'replaced', 'a node heard from displaces one');
  assert.ok(table.get(confirmed.id));
  assert.equal(table.health().good, 1);
  table.heardAbout({ id: far(), host: '10.0.3.3', port: 9 });
  assert.equal(table.size, 512, 'a full bucket takes nobody it has only heard about');
});
