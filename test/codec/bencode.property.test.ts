import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { BencodeError, type BValue, decode, encode } from '../../src/codec/bencode.js';
import { assertDecoderSafe, FUZZ_RUNS, mutated } from '../support/fuzz.js';

const { bvalue } = fc.letrec<{ bvalue: BValue }>((tie) => ({
  bvalue: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer(),
    fc
      .bigInt({ min: -(2n ** 80n), max: 2n ** 80n })
      .map((n) =>
        n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER)
          ? Number(n)
          : n,
      ),
    fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u)),
    fc.array(tie('bvalue'), { maxLength: 5 }),
    fc
      .dictionary(fc.string({ unit: 'binary-ascii', maxLength: 8 }), tie('bvalue'), { maxKeys: 5 })
      .map((o) => new Map(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))),
  ),
}));

test('encode then decode is the identity, and re-encoding gives the same bytes', () => {
  fc.assert(
    fc.property(bvalue, (v) => {
      const bytes = encode(v);
      const back = decode(bytes);
      assert.deepEqual(back, v);
      assert.deepEqual(encode(back), bytes);
    }),
    { numRuns: Math.min(FUZZ_RUNS, 20_000) },
  );
});

test('object keys in any Unicode come out in UTF-8 byte order, as the strict decoder demands', () => {
  // Surrogate pairs (code points past U+FFFF) sort after U+E000–U+FFFF in UTF-8 but before
  // them in UTF-16: the encoder must order by the bytes.
  const unit = fc.oneof(
    fc.constantFrom('a', 'z', '\u00e9', '\ud7ff', '\ue000', '\uffff', '\u{10000}', '\u{1f600}'),
    fc.string({ unit: 'grapheme', maxLength: 2 }),
  );
  const key = fc.array(unit, { maxLength: 3 }).map((parts) => parts.join(''));
  fc.assert(
    fc.property(fc.uniqueArray(key, { maxLength: 6 }), (keys) => {
      const object = Object.fromEntries(keys.map((k, i) => [k, i]));
      const back = decode(encode(object)) as Map<string, BValue>;
      const expected = keys
        .map((k) => Buffer.from(k, 'utf8'))
        .sort(Buffer.compare)
        .map((b) => b.toString('latin1'));
      assert.deepEqual([...back.keys()], expected);
    }),
    { numRuns: Math.min(FUZZ_RUNS, 20_000) },
  );
});

test('random bytes never make decode throw anything but BencodeError', () => {
  assertDecoderSafe(fc.uint8Array({ maxLength: 64 }), (bytes) => decode(bytes), BencodeError);
});

test('mutated valid documents never make decode throw anything but BencodeError', () => {
  const seed = encode({
    announce: 'http://t.example/announce',
    info: {
      files: [{ length: 5, path: ['a', 'b'] }],
      name: 'x',
      'piece length': 16384,
      pieces: 'x'.repeat(20),
    },
    n: [-1, 0, 1234567890123],
  });
  assertDecoderSafe(mutated(seed), (bytes) => decode(bytes), BencodeError);
});
