import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { UtpPacketError } from '../../src/transport/utp/errors.js';
import {
  decodeUtpPacket,
  EXTENSION_MAX_DATAGRAM,
  EXTENSION_SACK,
  encodeUtpPacket,
  isUtpPacket,
  ST_DATA,
  ST_FIN,
  ST_RESET,
  ST_STATE,
  ST_SYN,
  type UtpPacketFields,
  type UtpPacketType,
} from '../../src/transport/utp/packet.js';
import { assertDecoderSafe, FUZZ_RUNS, mutated } from '../support/fuzz.js';

/** A header laid out by hand from BEP 29's diagram, big-endian throughout. */
function handBuilt(type: number, extension: number, rest: number[] = []): Buffer {
  return Buffer.from([
    (type << 4) | 1, // type | ver
    extension,
    0xbe,
    0xef, // connection_id
    0x01,
    0x02,
    0x03,
    0x04, // timestamp_microseconds
    0x05,
    0x06,
    0x07,
    0x08, // timestamp_difference_microseconds
    0x00,
    0x10,
    0x00,
    0x00, // wnd_size = 1 MiB
    0xff,
    0xfe, // seq_nr
    0x12,
    0x34, // ack_nr
    ...rest,
  ]);
}

test('a hand-built ST_DATA header decodes field by field', () => {
  const bytes = handBuilt(ST_DATA, 0, [0x61, 0x62, 0x63]);
  const p = decodeUtpPacket(bytes);
  assert.equal(p.type, ST_DATA);
  assert.equal(p.connectionId, 0xbeef);
  assert.equal(p.timestamp, 0x01020304);
  assert.equal(p.timestampDifference, 0x05060708);
  assert.equal(p.windowSize, 1 << 20);
  assert.equal(p.seqNr, 0xfffe);
  assert.equal(p.ackNr, 0x1234);
  assert.equal(p.sackLength, 0);
  assert.equal(Buffer.from(p.data.subarray(p.payloadOffset)).toString(), 'abc');
});

test('encoding produces exactly the hand-built bytes', () => {
  const fields: UtpPacketFields = {
    type: ST_STATE,
    connectionId: 0xbeef,
    timestamp: 0x01020304,
    timestampDifference: 0x05060708,
    windowSize: 1 << 20,
    seqNr: 0xfffe,
    ackNr: 0x1234,
    sack: Uint8Array.from([0b0000_0101, 0, 0, 0x80]),
  };
  const expected = handBuilt(ST_STATE, EXTENSION_SACK, [0, 4, 0b0000_0101, 0, 0, 0x80]);
  assert.deepEqual(Buffer.from(encodeUtpPacket(fields)), expected);
  // BEP 29: bit 0 of the first byte is ack_nr + 2; bit 7 of the fourth is ack_nr + 33.
  const p = decodeUtpPacket(expected);
  assert.equal(p.sackOffset, 22);
  assert.equal(p.sackLength, 4);
  const acked: number[] = [];
  for (let i = 0; i < 32; i++)
    if ((p.data[p.sackOffset + (i >> 3)]! >> (i & 7)) & 1) acked.push(p.ackNr + 2 + i);
  assert.deepEqual(acked, [0x1234 + 2, 0x1234 + 4, 0x1234 + 33]);
});

test('the type nibble is high and the version nibble low', () => {
  for (const [type, byte] of [
    [ST_DATA, 0x01],
    [ST_FIN, 0x11],
    [ST_STATE, 0x21],
    [ST_RESET, 0x31],
    [ST_SYN, 0x41],
  ] as const) {
    const bytes = handBuilt(type, 0);
    assert.equal(bytes[0], byte);
    assert.equal(decodeUtpPacket(bytes).type, type);
    assert.equal(isUtpPacket(bytes), true);
  }
});

test('unknown extensions are skipped; the max-datagram extension is read', () => {
  const bytes = handBuilt(ST_SYN, 0x77, [
    EXTENSION_MAX_DATAGRAM,
    3,
    9,
    9,
    9, // unknown 0x77, 3 bytes, then ours
    0,
    4,
    0,
    0,
    0xfa,
    0x00, // max datagram 64000, end of chain
    0x42,
  ]);
  const p = decodeUtpPacket(bytes);
  assert.equal(p.maxDatagram, 64_000);
  assert.equal(p.payloadOffset, bytes.length - 1);
  assert.equal(p.sackLength, 0);
});

test('garbage is refused with UtpPacketError', () => {
  const bad: [string, Uint8Array][] = [
    ['short', handBuilt(ST_DATA, 0).subarray(0, 19)],
    ['version 2', Buffer.from([0x02, ...handBuilt(ST_DATA, 0).subarray(1)])],
    ['type 5', Buffer.from([0x51, ...handBuilt(ST_DATA, 0).subarray(1)])],
    ['extension header cut', handBuilt(ST_STATE, 1, [0])],
    ['extension body cut', handBuilt(ST_STATE, 1, [0, 8, 1, 2, 3, 4])],
    ['two sacks', handBuilt(ST_STATE, 1, [1, 4, 1, 2, 3, 4, 0, 4, 1, 2, 3, 4])],
    ['max datagram of 2 bytes', handBuilt(ST_SYN, EXTENSION_MAX_DATAGRAM, [0, 2, 1, 2])],
    ['endless chain', handBuilt(ST_STATE, 9, Array.from({ length: 40 }, () => [9, 0]).flat())],
    ['oversized', Buffer.concat([handBuilt(ST_DATA, 0), Buffer.alloc(65_536)])],
  ];
  for (const [what, bytes] of bad)
    assert.throws(() => decodeUtpPacket(bytes), UtpPacketError, what);
});

test("libtorrent's selective ACKs of odd lengths are read (BEP 29 says multiples of 4)", () => {
  // A STATE libtorrent 2.0.8 sent over loopback: a 9-byte bitmask.
  const bytes = Buffer.from(
    '21015b285040f57150173b35000e8db475270645000900000000f8ffffffff',
    'hex',
  );
  const p = decodeUtpPacket(bytes);
  assert.equal(p.type, ST_STATE);
  assert.equal(p.sackOffset, 22);
  assert.equal(p.sackLength, 9);
  assert.equal(p.payloadOffset, bytes.length);
});

test('isUtpPacket tells uTP from DHT and UDP tracker datagrams', () => {
  assert.equal(
    isUtpPacket(Buffer.from('d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe')),
    false,
  );
  const trackerReply = Buffer.alloc(20);
  trackerReply.writeUInt32BE(1, 0); // announce
  assert.equal(isUtpPacket(trackerReply), false);
  assert.equal(isUtpPacket(Buffer.from([0x41])), false, 'too short');
  assert.equal(isUtpPacket(handBuilt(ST_DATA, 0)), true);
});

const fieldsArb: fc.Arbitrary<UtpPacketFields> = fc.record({
  type: fc.constantFrom<UtpPacketType>(ST_DATA, ST_FIN, ST_STATE, ST_RESET, ST_SYN),
  connectionId: fc.integer({ min: 0, max: 0xffff }),
  timestamp: fc.integer({ min: 0, max: 0xffffffff }),
  timestampDifference: fc.integer({ min: 0, max: 0xffffffff }),
  windowSize: fc.integer({ min: 0, max: 0xffffffff }),
  seqNr: fc.integer({ min: 0, max: 0xffff }),
  ackNr: fc.integer({ min: 0, max: 0xffff }),
  sack: fc.option(
    fc
      .integer({ min: 1, max: 32 })
      .chain((words) => fc.uint8Array({ minLength: words * 4, maxLength: words * 4 })),
    { nil: undefined },
  ),
  maxDatagram: fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }),
  payload: fc.option(fc.uint8Array({ maxLength: 200 }), { nil: undefined }),
});

test('encode then decode gives back every field', () => {
  fc.assert(
    fc.property(fieldsArb, (f) => {
      const bytes = encodeUtpPacket(f);
      const p = decodeUtpPacket(bytes);
      assert.equal(p.type, f.type);
      assert.equal(p.connectionId, f.connectionId);
      assert.equal(p.timestamp, f.timestamp);
      assert.equal(p.timestampDifference, f.timestampDifference);
      assert.equal(p.windowSize, f.windowSize);
      assert.equal(p.seqNr, f.seqNr);
      assert.equal(p.ackNr, f.ackNr);
      assert.deepEqual(
        p.sackLength === 0 ? undefined : p.data.subarray(p.sackOffset, p.sackOffset + p.sackLength),
        f.sack,
      );
      assert.equal(p.maxDatagram, f.maxDatagram ?? 0);
      assert.deepEqual(p.data.subarray(p.payloadOffset), f.payload ?? new Uint8Array(0));
      assert.equal(isUtpPacket(bytes), true);
    }),
    { numRuns: Math.min(FUZZ_RUNS, 20_000) },
  );
});

test('random bytes never make decode throw anything but UtpPacketError', () => {
  assertDecoderSafe(fc.uint8Array({ maxLength: 80 }), (b) => decodeUtpPacket(b), UtpPacketError);
});

test('mutated packets never make decode throw anything but UtpPacketError', () => {
  const seed = encodeUtpPacket({
    type: ST_STATE,
    connectionId: 7,
    timestamp: 1,
    timestampDifference: 2,
    windowSize: 3,
    seqNr: 4,
    ackNr: 5,
    sack: new Uint8Array(8).fill(0x55),
    maxDatagram: 64_000,
    payload: Buffer.from('payload'),
  });
  assertDecoderSafe(mutated(seed), (b) => decodeUtpPacket(b), UtpPacketError);
});
