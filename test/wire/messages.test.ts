import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { WireError } from '../../src/wire/errors.js';
import { decodeExtendedHandshake, encodeExtendedHandshake } from '../../src/wire/extended.js';
import {
  decodeHandshake,
  encodeHandshake,
  hasCapability,
  reservedBytes,
} from '../../src/wire/handshake.js';
import {
  decodeBody,
  encodeMessage,
  encodePieceHeader,
  type Message,
  MessageReader,
} from '../../src/wire/messages.js';
import { PeerWire } from '../../src/wire/peer-wire.js';
import { assertDecoderSafe, expectOnly, FUZZ_RUNS, mutated } from '../support/fuzz.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('messages encode byte for byte as BEP 3, 6, 10 and 52 define them', () => {
  const cases: [Message, string][] = [
    [{ type: 'keep-alive' }, '00000000'],
    [{ type: 'choke' }, '0000000100'],
    [{ type: 'unchoke' }, '0000000101'],
    [{ type: 'interested' }, '0000000102'],
    [{ type: 'not-interested' }, '0000000103'],
    [{ type: 'have', index: 0x01020304 }, '000000050401020304'],
    [{ type: 'bitfield', bits: Uint8Array.of(0xf0, 0x80) }, '0000000305f080'],
    [
      { type: 'request', index: 1, begin: 0x4000, length: 0x4000 },
      '0000000d06000000010000400000004000',
    ],
    [
      { type: 'piece', index: 2, begin: 0, block: Uint8Array.of(0xaa, 0xbb) },
      '0000000b070000000200000000aabb',
    ],
    [{ type: 'cancel', index: 1, begin: 0, length: 16384 }, '0000000d08000000010000000000004000'],
    [{ type: 'port', port: 6881 }, '00000003091ae1'],
    [{ type: 'suggest', index: 7 }, '000000050d00000007'],
    [{ type: 'have-all' }, '000000010e'],
    [{ type: 'have-none' }, '000000010f'],
    [{ type: 'reject', index: 1, begin: 0, length: 16384 }, '0000000d10000000010000000000004000'],
    [{ type: 'allowed-fast', index: 9 }, '000000051100000009'],
    [{ type: 'extended', id: 3, payload: Buffer.from('de') }, '000000041403' + '6465'],
  ];
  for (const [m, expected] of cases) assert.equal(hex(encodeMessage(m)), expected, m.type);
  const ref = {
    piecesRoot: Buffer.alloc(32, 1),
    baseLayer: 0,
    index: 4,
    length: 2,
    proofLayers: 3,
  };
  const req = encodeMessage({ type: 'hash-request', ...ref });
  assert.equal(req.length, 4 + 49);
  assert.equal(req[4], 21);
  assert.deepEqual(decodeBody(req.subarray(4)), { type: 'hash-request', ...ref });
  const hashes = encodeMessage({ type: 'hashes', ...ref, hashes: Buffer.alloc(64, 2) });
  assert.deepEqual(decodeBody(hashes.subarray(4)), {
    type: 'hashes',
    ...ref,
    hashes: Buffer.alloc(64, 2),
  });
});

test('the handshake is 68 bytes with pstr, reserved bits, info-hash and peer id', () => {
  const reserved = reservedBytes(['extensionProtocol', 'fast', 'dht', 'v2']);
  assert.equal(hex(reserved), '0000000000100015');
  const h = { reserved, infoHash: Buffer.alloc(20, 0x11), peerId: Buffer.alloc(20, 0x22) };
  const bytes = encodeHandshake(h);
  assert.equal(bytes.length, 68);
  assert.equal(bytes.subarray(0, 20).toString('latin1'), '\x13BitTorrent protocol');
  assert.deepEqual(decodeHandshake(bytes), h);
  assert.ok(hasCapability(reserved, 'fast') && hasCapability(reserved, 'v2'));
  assert.throws(() => decodeHandshake(Buffer.alloc(68)), WireError);
});

/** Every body `reader` finds in `chunk`, copied (bodies are lent for the callback only). */
const bodiesOf = (reader: MessageReader, chunk: Buffer): (Buffer | null)[] => {
  const out: (Buffer | null)[] = [];
  reader.push(chunk, (b) => out.push(b === null ? null : Buffer.from(b)));
  return out;
};

/**
 * Feeds `part` through one scratch buffer that is scribbled over after each call, as a socket
 * reading into a reused buffer does: a reader that kept a view of it would return garbage.
 */
const scratch = Buffer.alloc(1 << 16);
const lent = (reader: MessageReader, part: Buffer): (Buffer | null)[] => {
  part.copy(scratch);
  const out = bodiesOf(reader, scratch.subarray(0, part.length));
  scratch.fill(0xee);
  return out;
};

test('a piece header followed by its block is the piece message, in 13 bytes', () => {
  const block = Buffer.alloc(16384, 9);
  const header = encodePieceHeader(7, 32768, block.length);
  assert.equal(header.length, 13);
  assert.deepEqual(
    Buffer.concat([header, block]),
    encodeMessage({ type: 'piece', index: 7, begin: 32768, block }),
  );
});

test('a stream decodes the same from every split point', () => {
  const stream = Buffer.concat(
    (
      [
        { type: 'bitfield', bits: Uint8Array.of(0xff, 0x80) },
        { type: 'keep-alive' },
        { type: 'unchoke' },
        { type: 'piece', index: 3, begin: 16384, block: Buffer.alloc(100, 7) },
        { type: 'have', index: 12 },
      ] as Message[]
    ).map(encodeMessage),
  );
  const reference = bodiesOf(new MessageReader(1 << 20), stream);
  assert.equal(reference.length, 5);
  for (let cut = 0; cut <= stream.length; cut++) {
    for (const cut2 of [cut, Math.min(stream.length, cut + 3)]) {
      const r = new MessageReader(1 << 20);
      const got = [
        ...lent(r, stream.subarray(0, cut)),
        ...lent(r, stream.subarray(cut, cut2)),
        ...lent(r, stream.subarray(cut2)),
      ];
      assert.deepEqual(got, reference, `split at ${cut}/${cut2}`);
    }
  }
});

test('readers interleaved on split messages share spare stashes without mixing their bytes', () => {
  fc.assert(
    fc.property(
      fc.array(fc.array(fc.integer({ min: 0, max: 20_000 }), { minLength: 1, maxLength: 6 }), {
        minLength: 2,
        maxLength: 5,
      }),
      fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 8 }),
      (streams, cuts) => {
        // Reader r's stream: messages of the given sizes, each filled with a byte naming r and i.
        const bodies = streams.map((sizes, r) =>
          sizes.map((n, i) => Buffer.alloc(n + 1, (r * 31 + i) & 0xff)),
        );
        const encoded = bodies.map((bs) =>
          Buffer.concat(
            bs.flatMap((b) => {
              const length = Buffer.alloc(4);
              length.writeUInt32BE(b.length);
              return [length, b];
            }),
          ),
        );
        const readers = encoded.map(() => new MessageReader(1 << 20));
        const got = encoded.map((): (Buffer | null)[] => []);
        const at = encoded.map(() => 0);
        // Round-robin: each reader in turn gets its next piece, so all are mid-message at once.
        for (let turn = 0; at.some((a, r) => a < encoded[r]!.length); turn++) {
          for (const [r, stream] of encoded.entries()) {
            const end = Math.min(stream.length, at[r]! + cuts[turn % cuts.length]!);
            got[r]!.push(...lent(readers[r]!, stream.subarray(at[r]!, end)));
            at[r] = end;
          }
        }
        assert.deepEqual(got, bodies);
      },
    ),
    { numRuns: 100 },
  );
});

test('PeerWire reads a handshake and messages split anywhere, and tracks choke state', () => {
  const h = {
    reserved: reservedBytes(['fast']),
    infoHash: Buffer.alloc(20, 1),
    peerId: Buffer.alloc(20, 2),
  };
  const bytes = Buffer.concat([
    encodeHandshake(h),
    encodeMessage({ type: 'unchoke' }),
    encodeMessage({ type: 'interested' }),
  ]);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const seen: string[] = [];
    const wire = new PeerWire(
      () => {},
      { handshake: () => seen.push('handshake'), message: (m) => seen.push(m.type) },
      1 << 16,
    );
    wire.receive(bytes.subarray(0, cut));
    wire.receive(bytes.subarray(cut));
    assert.deepEqual(seen, ['handshake', 'unchoke', 'interested']);
    assert.equal(wire.peerChoking, false);
    assert.equal(wire.peerInterested, true);
  }
});

test('what PeerWire hands on stays intact after the caller reuses its chunk', () => {
  const messages: Message[] = [
    { type: 'have', index: 7 },
    { type: 'bitfield', bits: Buffer.from([0xf0, 0x0f]) },
    { type: 'request', index: 1, begin: 16384, length: 16384 },
    { type: 'extended', id: 3, payload: Buffer.from('d1:ai1ee') },
    { type: 'suggest', index: 9 },
    {
      type: 'hashes',
      piecesRoot: Buffer.alloc(32, 5),
      baseLayer: 0,
      index: 0,
      length: 2,
      proofLayers: 0,
      hashes: Buffer.alloc(64, 6),
    },
    { type: 'port', port: 6881 },
  ];
  const h = {
    reserved: reservedBytes(['fast']),
    infoHash: Buffer.alloc(20, 1),
    peerId: Buffer.alloc(20, 2),
  };
  const chunk = Buffer.concat([encodeHandshake(h), ...messages.map((m) => encodeMessage(m))]);
  const seen: Message[] = [];
  const wire = new PeerWire(
    () => {},
    { handshake: () => {}, message: (m) => seen.push(m) },
    1 << 16,
  );
  wire.receive(chunk);
  chunk.fill(0xee); // as a socket reading into a shared buffer does next
  assert.deepEqual(seen, messages);
});

test('oversized and malformed messages are refused with WireError', () => {
  const r = new MessageReader(1000);
  assert.throws(() => bodiesOf(r, Buffer.from('00100000', 'hex')), /exceeds the limit/);
  const split = new MessageReader(1000);
  bodiesOf(split, Buffer.from('0010', 'hex'));
  assert.throws(() => bodiesOf(split, Buffer.from('0000', 'hex')), /exceeds the limit/);
  assert.throws(() => decodeBody(Buffer.from('0400', 'hex')), /must carry 4 bytes/);
  assert.throws(() => decodeBody(Buffer.from('0700', 'hex')), /too short/);
  assert.throws(() => decodeBody(Buffer.from('14', 'hex')), /without an id/);
  assert.equal(decodeBody(Buffer.from('63ff', 'hex')), undefined, 'unknown ids are ignored');
});

test('extended handshake round-trips and ignores ill-typed fields', () => {
  const h = {
    m: new Map([
      ['ut_metadata', 2],
      ['ut_pex', 1],
    ]),
    v: 'shoal 0.1.0',
    p: 6881,
    reqq: 500,
    yourip: Uint8Array.of(127, 0, 0, 1),
    metadataSize: 1234,
  };
  assert.deepEqual(decodeExtendedHandshake(encodeExtendedHandshake(h)), {
    ...h,
    yourip: Buffer.from([127, 0, 0, 1]),
  });
  const odd = decodeExtendedHandshake(
    Buffer.from('d1:md6:ut_pexi-1e5:ut_xxi999ee1:pi99999e4:reqq3:abce'),
  );
  assert.deepEqual([...odd.m], []);
  assert.equal(odd.p, undefined);
  assert.equal(odd.reqq, undefined);
  assert.throws(() => decodeExtendedHandshake(Buffer.from('i1e')), WireError);
});

test('fuzz: message bodies and streams never throw anything but WireError', () => {
  const sample = Buffer.concat([
    encodeMessage({ type: 'request', index: 1, begin: 2, length: 3 }),
    encodeMessage({ type: 'bitfield', bits: Uint8Array.of(1, 2, 3) }),
    encodeMessage({
      type: 'hashes',
      piecesRoot: Buffer.alloc(32),
      baseLayer: 0,
      index: 0,
      length: 1,
      proofLayers: 0,
      hashes: Buffer.alloc(32),
    }),
  ]);
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 80 }), mutated(sample)), (bytes) => {
      try {
        new MessageReader(4096).push(Buffer.from(bytes), (body) => {
          if (body) decodeBody(body);
        });
      } catch (error) {
        expectOnly(error, WireError);
      }
    }),
    { numRuns: FUZZ_RUNS },
  );
  assertDecoderSafe(
    fc.uint8Array({ maxLength: 120 }),
    (bytes) => decodeExtendedHandshake(bytes),
    WireError,
  );
});
