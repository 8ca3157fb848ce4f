import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CHACHA_POLY, CipherState } from '../../src/crypto/noise/cipher-state.js';
import { SeededRandom } from '../../src/runtime/seeded-random.js';
import { SecureChannelError } from '../../src/secure/errors.js';
import { SecureHandshake } from '../../src/secure/secure-handshake.js';
import {
  MAX_FRAME_PLAINTEXT,
  REKEY_INTERVAL,
  TransportDecoder,
  TransportEncoder,
} from '../../src/secure/transport.js';
import { assertDecoderSafe, FUZZ_RUNS, mutated } from '../support/fuzz.js';
import { alice, bob } from './helpers.js';

const KEY = new SeededRandom(1).bytes(32);

function encodeAll(chunks: readonly Uint8Array[][]): Buffer {
  const encoder = new TransportEncoder(new CipherState(CHACHA_POLY, KEY));
  const out: Uint8Array[] = [];
  for (const write of chunks) encoder.encode(write, out);
  return Buffer.concat(out);
}

/** Feeds `wire` to a fresh decoder in the given chunk lengths; returns the plaintext. */
function decodeAll(wire: Uint8Array, cuts: readonly number[]): Buffer {
  const decoder = new TransportDecoder(new CipherState(CHACHA_POLY, KEY));
  const out: Buffer[] = [];
  let at = 0;
  for (const cut of [...cuts, wire.length]) {
    const end = Math.min(wire.length, at + cut);
    decoder.push(wire.subarray(at, end), (p) => {
      out.push(Buffer.from(p));
      return true;
    });
    at = end;
    if (at >= wire.length) break;
  }
  return Buffer.concat(out);
}

const writes = fc.array(fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 4 }), {
  maxLength: 6,
});
const cuts = fc.array(fc.integer({ min: 1, max: 5000 }), { maxLength: 30 });

test('what is encoded decodes to the same bytes, whatever the chunking', () => {
  fc.assert(
    fc.property(writes, cuts, (ws, cs) => {
      const wire = encodeAll(ws);
      assert.deepEqual(decodeAll(wire, cs), Buffer.concat(ws.flat()));
    }),
    { numRuns: Math.min(FUZZ_RUNS, 5_000) },
  );
});

test('large writes are split into frames of at most 65535 bytes', () => {
  const data = new SeededRandom(2).bytes(3 * MAX_FRAME_PLAINTEXT + 5);
  const encoder = new TransportEncoder(new CipherState(CHACHA_POLY, KEY));
  const out: Uint8Array[] = [];
  encoder.encode([data.subarray(0, 100_000), data.subarray(100_000)], out);
  const wire = Buffer.concat(out);
  let frames = 0;
  for (let at = 0; at < wire.length; frames++) {
    const length = wire.readUInt16BE(at);
    assert.ok(length <= 65535 && length >= 16);
    at += 2 + length;
  }
  assert.equal(frames, 4);
  assert.deepEqual(decodeAll(wire, [1, 2, 65537, 3]), data);
});

test('byte by byte, across rekeys', () => {
  const ws = Array.from({ length: REKEY_INTERVAL + 3 }, (_, i) => [Buffer.from([i & 0xff])]);
  const wire = encodeAll(ws);
  assert.deepEqual(decodeAll(wire, new Array(wire.length).fill(1)), Buffer.concat(ws.flat()));
});

test('random bytes only raise SecureChannelError', () => {
  assertDecoderSafe(
    fc.tuple(fc.uint8Array({ maxLength: 300 }), cuts),
    ([bytes, cs]) => decodeAll(bytes, cs),
    SecureChannelError,
  );
});

test('tampered frames never deliver altered data: only a prefix of the original, or an error', () => {
  const plain = [[Buffer.from('first message')], [Buffer.from('second, longer message')]];
  const original = Buffer.concat(plain.flat());
  const wire = encodeAll(plain);
  fc.assert(
    fc.property(mutated(wire), cuts, (bytes, cs) => {
      let got = Buffer.alloc(0);
      const decoder = new TransportDecoder(new CipherState(CHACHA_POLY, KEY));
      try {
        let at = 0;
        for (const cut of [...cs, bytes.length]) {
          decoder.push(bytes.subarray(at, at + cut), (p) => {
            got = Buffer.concat([got, p]);
            return true;
          });
          at += cut;
          if (at >= bytes.length) break;
        }
      } catch (error) {
        if (!(error instanceof SecureChannelError)) throw error;
      }
      assert.deepEqual(got, original.subarray(0, got.length));
    }),
    { numRuns: Math.min(FUZZ_RUNS, 20_000) },
  );
});

test('a responder fed random or mutated openings only raises SecureChannelError', () => {
  const initiator = new SecureHandshake({
    initiator: true,
    identity: alice,
    random: new SeededRandom(3),
  });
  const opening = initiator.opening();
  const ikOpening = new SecureHandshake({
    initiator: true,
    identity: alice,
    remote: bob.publicKey,
    random: new SeededRandom(3),
  }).opening();
  // Each case may run DH and build keys, so fewer cases than a plain decoder gets.
  fc.assert(
    fc.property(
      fc.oneof(mutated(opening), mutated(ikOpening), fc.uint8Array({ maxLength: 200 })),
      cuts,
      (bytes, cs) => {
        const responder = new SecureHandshake({
          initiator: false,
          identity: bob,
          random: new SeededRandom(4),
        });
        let at = 0;
        try {
          for (const cut of [...cs, bytes.length]) {
            responder.receive(bytes.subarray(at, at + cut));
            at += cut;
            if (at >= bytes.length || responder.session) break;
          }
        } catch (error) {
          if (!(error instanceof SecureChannelError)) throw error;
        }
      },
    ),
    { numRuns: Math.min(FUZZ_RUNS, 20_000) },
  );
});
