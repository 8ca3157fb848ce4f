import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { sha256, sha256Pair } from '../../src/crypto/hash.js';
import {
  blockHashes,
  merkleRoot,
  nextPowerOfTwo,
  zeroSubtreeRoot,
} from '../../src/crypto/merkle.js';

const ZERO = Buffer.alloc(32);

test('leaf hashes cover 16 KiB blocks, the last one short', () => {
  const data = Buffer.alloc(16384 * 2 + 10, 7);
  const leaves = blockHashes(data);
  assert.equal(leaves.length, 3 * 32);
  assert.deepEqual(leaves.subarray(64), sha256(data.subarray(32768)));
});

test('a node is the SHA-256 of its two children side by side, whatever their lengths', () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 40 })),
      fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 40 })),
      (left, right) => {
        const expected = createHash('sha256').update(left).update(right).digest();
        const first = sha256Pair(left, right);
        assert.deepEqual(first, expected);
        sha256Pair(right, left); // the scratch space is reused: an earlier result must not change
        assert.deepEqual(first, expected);
      },
    ),
  );
});

test('roots pad missing leaves with zero hashes (BEP 52)', () => {
  const a = sha256(Buffer.from('a'));
  const b = sha256(Buffer.from('b'));
  const c = sha256(Buffer.from('c'));
  assert.deepEqual(merkleRoot(a, 1), a);
  assert.deepEqual(merkleRoot(Buffer.concat([a, b]), 2), sha256Pair(a, b));
  assert.deepEqual(
    merkleRoot(Buffer.concat([a, b, c]), 4),
    sha256Pair(sha256Pair(a, b), sha256Pair(c, ZERO)),
  );
  assert.deepEqual(
    merkleRoot(Buffer.concat([a]), 4),
    sha256Pair(sha256Pair(a, ZERO), sha256Pair(ZERO, ZERO)),
  );
});

test('piece-layer roots pad with the root of a zero subtree', () => {
  const p = sha256(Buffer.from('piece'));
  const pad = zeroSubtreeRoot(4);
  assert.deepEqual(pad, sha256Pair(sha256Pair(ZERO, ZERO), sha256Pair(ZERO, ZERO)));
  assert.deepEqual(
    merkleRoot(Buffer.concat([p, p, p]), 4, pad),
    sha256Pair(sha256Pair(p, p), sha256Pair(p, pad)),
  );
});

test('nextPowerOfTwo', () => {
  assert.deepEqual([0, 1, 2, 3, 5, 8, 9].map(nextPowerOfTwo), [1, 1, 2, 4, 8, 8, 16]);
});
