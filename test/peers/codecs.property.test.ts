import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { encode } from '../../src/codec/bencode.js';
import { Identity } from '../../src/crypto/identity.js';
import {
  type AddressRecord,
  decodeAddressRecord,
  encodeAddressRecord,
} from '../../src/peers/address-record.js';
import { PeerProtocolError } from '../../src/peers/errors.js';
import {
  decodeRendezvous,
  encodeRendezvous,
  MAX_PUNCH_PORTS,
  type RendezvousMessage,
} from '../../src/peers/rendezvous-messages.js';
import { SeededRandom } from '../../src/runtime/seeded-random.js';
import { assertDecoderSafe, FUZZ_RUNS, mutated } from '../support/fuzz.js';

const keys = (() => {
  const random = new SeededRandom(7);
  return [0, 1, 2, 3].map(() => Identity.generate(random).publicKey);
})();

const ipv4 = fc
  .tuple(fc.integer({ min: 1, max: 223 }), fc.nat(255), fc.nat(255), fc.nat(255))
  .map((o) => o.join('.'));
const ipv6 = fc
  .array(fc.integer({ min: 1, max: 0xffff }), { minLength: 8, maxLength: 8 })
  .map((g) => g.map((x) => x.toString(16)).join(':'));
const endpoint = fc.record({
  host: fc.oneof(ipv4, ipv6),
  port: fc.integer({ min: 1, max: 65535 }),
});

const record: fc.Arbitrary<AddressRecord> = fc.record({
  addresses: fc.array(endpoint, { maxLength: 8 }),
  rendezvous: fc.array(fc.record({ key: fc.constantFrom(...keys), address: endpoint }), {
    maxLength: 4,
  }),
  time: fc.integer({ min: 0, max: 2 ** 40 }),
});

const nonce = fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from(b));
const key = fc.constantFrom(...keys).map((k) => k.bytes);
const port = fc.integer({ min: 1, max: 65535 });
/** A run of punch ports, which must stay in the port range from where it starts. */
const ports = fc.integer({ min: 1, max: MAX_PUNCH_PORTS });
const fits = (first: number | undefined, count: number | undefined) =>
  count === undefined || (first !== undefined && first + count - 1 <= 65535);
const message: fc.Arbitrary<RendezvousMessage> = fc.oneof(
  fc.record(
    { kind: fc.constant('welcome' as const), observed: endpoint, serving: fc.boolean() },
    { requiredKeys: ['kind', 'serving'] },
  ),
  fc.constant({ kind: 'register' as const }),
  fc
    .record(
      {
        kind: fc.constant('connect' as const),
        nonce,
        target: key,
        punchPort: port,
        ports,
        listenPort: port,
      },
      { requiredKeys: ['kind', 'nonce', 'target'] },
    )
    .filter((m) => fits(m.punchPort, m.ports)),
  fc
    .record(
      {
        kind: fc.constant('introduce' as const),
        nonce,
        from: key,
        candidate: endpoint,
        ports,
        direct: endpoint,
      },
      { requiredKeys: ['kind', 'nonce', 'from'] },
    )
    .filter((m) => fits(m.candidate?.port, m.ports)),
  fc
    .record(
      { kind: fc.constant('answer' as const), nonce, punchPort: port, ports },
      { requiredKeys: ['kind', 'nonce'] },
    )
    .filter((m) => fits(m.punchPort, m.ports)),
  fc
    .record(
      { kind: fc.constant('candidate' as const), nonce, candidate: endpoint, ports },
      { requiredKeys: ['kind', 'nonce'] },
    )
    .filter((m) => fits(m.candidate?.port, m.ports)),
  fc.record({ kind: fc.constant('failed' as const), nonce, reason: fc.string({ maxLength: 50 }) }),
);

/** Comparable form: keys as text, addresses normalised by a round trip through the codec. */
const plainRecord = (r: AddressRecord) => ({
  addresses: r.addresses.map((a) => `${a.host}/${a.port}`),
  rendezvous: r.rendezvous.map((p) => `${p.key}@${p.address.host}/${p.address.port}`),
  time: r.time,
});

test('address records round-trip, within BEP 44’s 1000 bytes', () => {
  fc.assert(
    fc.property(record, (r) => {
      const bytes = encodeAddressRecord(r);
      assert.ok(bytes.length <= 1000, `${bytes.length} bytes`);
      const back = decodeAddressRecord(bytes);
      assert.deepEqual(
        plainRecord(decodeAddressRecord(encodeAddressRecord(back))),
        plainRecord(back),
      );
      assert.equal(back.addresses.length, r.addresses.length);
      assert.equal(back.rendezvous.length, r.rendezvous.length);
      assert.equal(back.time, r.time);
    }),
    { numRuns: Math.min(FUZZ_RUNS, 2_000) },
  );
});

test('address records: random and mutated bytes give a record or PEER_RECORD_INVALID', () => {
  assertDecoderSafe(fc.uint8Array({ maxLength: 200 }), decodeAddressRecord, PeerProtocolError);
  const seed = encodeAddressRecord({
    addresses: [{ host: '198.51.100.1', port: 6881 }],
    rendezvous: [{ key: keys[0]!, address: { host: '2001:db8::1', port: 443 } }],
    time: 1_700_000_000,
  });
  assertDecoderSafe(mutated(seed), decodeAddressRecord, PeerProtocolError);
});

test('address records refuse what is too long or not an identity', () => {
  const endpoints = Array.from({ length: 9 }, (_, i) => Buffer.from([10, 0, 0, i, 0, 80]));
  const tooMany = Buffer.from(
    `d1:al${endpoints.map((e) => `6:${e.toString('latin1')}`).join('')}e1:ti1ee`,
    'latin1',
  );
  assert.throws(() => decodeAddressRecord(tooMany), { code: 'PEER_RECORD_INVALID' });
  const notAKey = Buffer.concat([
    Buffer.from('d1:rl38:'),
    Buffer.alloc(32),
    Buffer.from([1, 2, 3, 4, 0, 80]),
    Buffer.from('e1:ti1ee'),
  ]);
  assert.throws(() => decodeAddressRecord(notAKey), /not an identity/);
});

test('rendezvous messages round-trip', () => {
  fc.assert(
    fc.property(message, (m) => {
      const { type, payload } = encodeRendezvous(m);
      const back = decodeRendezvous(type, payload);
      const again = encodeRendezvous(back);
      assert.equal(again.type, type);
      assert.deepEqual(again.payload, payload);
      assert.equal(back.kind, m.kind);
      const run = (x: RendezvousMessage) => ('ports' in x ? x.ports : undefined);
      assert.equal(run(back), run(m), 'the run of punch ports survives');
    }),
    { numRuns: Math.min(FUZZ_RUNS, 5_000) },
  );
});

test('rendezvous messages: random and mutated input gives a message or RENDEZVOUS_PROTOCOL', () => {
  assertDecoderSafe(
    fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 120 })),
    ([type, bytes]) => decodeRendezvous(type, bytes),
    PeerProtocolError,
  );
  const { type, payload } = encodeRendezvous({
    kind: 'introduce',
    nonce: Buffer.alloc(8, 1),
    from: keys[1]!.bytes,
    candidate: { host: '203.0.113.5', port: 40_000 },
    ports: 3,
    direct: { host: '203.0.113.5', port: 6881 },
  });
  assertDecoderSafe(mutated(payload), (bytes) => decodeRendezvous(type, bytes), PeerProtocolError);
});

test('rendezvous messages: a run of punch ports is short, in range, and only beside a port', () => {
  const answer = (fields: Record<string, number>) =>
    decodeRendezvous(4, encode({ n: Buffer.alloc(8, 1), ...fields }));
  assert.equal((answer({ p: 40_000, w: 4 }) as { ports?: number }).ports, 4);
  assert.throws(() => answer({ p: 40_000, w: MAX_PUNCH_PORTS + 1 }), /run of ports/);
  assert.throws(() => answer({ p: 40_000, w: 0 }), /run of ports/);
  assert.throws(() => answer({ p: 65_534, w: 3 }), /run of ports/);
  assert.throws(() => answer({ w: 2 }), /run of ports/);
});
