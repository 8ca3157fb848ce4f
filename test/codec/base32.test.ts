import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { base32Decode, base32Encode, base32Length } from '../../src/codec/base32.js';
import { FUZZ_RUNS } from '../support/fuzz.js';

test('RFC 4648 test vectors, lower case and unpadded', () => {
  const vectors: [string, string][] = [
    ['', ''],
    ['f', 'my'],
    ['fo', 'mzxq'],
    ['foo', 'mzxw6'],
    ['foob', 'mzxw6yq'],
    ['fooba', 'mzxw6ytb'],
    ['foobar', 'mzxw6ytboi'],
  ];
  for (const [plain, encoded] of vectors) {
    assert.equal(base32Encode(Buffer.from(plain)), encoded);
    assert.deepEqual(base32Decode(encoded), Buffer.from(plain));
    assert.deepEqual(base32Decode(encoded.toUpperCase()), Buffer.from(plain));
  }
});

test('encode then decode is the identity; lengths match base32Length', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
      const text = base32Encode(bytes);
      assert.equal(text.length, base32Length(bytes.length));
      assert.deepEqual(base32Decode(text), Buffer.from(bytes));
    }),
    { numRuns: Math.min(FUZZ_RUNS, 20_000) },
  );
});

test('decode refuses bad characters, impossible lengths and stray trailing bits', () => {
  assert.deepEqual(base32Decode('mzx1'), { kind: 'character', index: 3 });
  assert.deepEqual(base32Decode('mzxé'), { kind: 'character', index: 3 });
  assert.deepEqual(base32Decode('m'), { kind: 'length' });
  assert.deepEqual(base32Decode('mzx'), { kind: 'length' });
  assert.deepEqual(base32Decode('mz'), { kind: 'trailing-bits' });
});

test('any string decodes to bytes whose encoding is that string, or to a problem', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 60 }), (text) => {
      const decoded = base32Decode(text);
      if (Buffer.isBuffer(decoded)) assert.equal(base32Encode(decoded), text.toLowerCase());
    }),
    { numRuns: FUZZ_RUNS },
  );
});
