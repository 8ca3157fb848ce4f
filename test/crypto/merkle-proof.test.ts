import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { sha256, sha256Pair } from '../../src/crypto/hash.js';
import { merkleRoot, nextPowerOfTwo, zeroSubtreeRoot } from '../../src/crypto/merkle.js';
import {
  buildHashes,
  fileTreeShape,
  hashRequestProblem,
  log2Exact,
  PaddedMerkleTree,
  pieceLayerPad,
  provenNode,
  uncleCount,
} from '../../src/crypto/merkle-proof.js';
import { FUZZ_RUNS } from '../support/fuzz.js';

const ZERO = Buffer.alloc(32);
const h = (s: string) => sha256(Buffer.from(s));
const layerOf = (n: number, seed = 'p') =>
  Buffer.concat(Array.from({ length: n }, (_, i) => h(`${seed}${i}`)));
const at = (buf: Buffer, i: number) => buf.subarray(i * 32, (i + 1) * 32);

test('log2Exact knows powers of two and nothing else', () => {
  assert.deepEqual([1, 2, 4, 512, 2 ** 40].map(log2Exact), [0, 1, 2, 9, 40]);
  assert.deepEqual(
    [0, 3, 6, 513, -2, 1.5, Number.NaN].map(log2Exact),
    [-1, -1, -1, -1, -1, -1, -1],
  );
});

test('BEP 52 proof sizes: the first log2(length) - 1 proof layers are omitted', () => {
  assert.equal(uncleCount(2, 0), 0);
  assert.equal(uncleCount(2, 1), 1);
  assert.equal(uncleCount(2, 3), 3);
  assert.equal(uncleCount(4, 1), 0);
  assert.equal(uncleCount(4, 2), 1);
  assert.equal(uncleCount(512, 8), 0);
  assert.equal(uncleCount(512, 9), 1);
  assert.equal(uncleCount(512, 12), 4);
});

test('a padded tree pads a piece layer with the root of a zero subtree at every height', () => {
  const pad = pieceLayerPad(4 * 16384); // a piece of 4 blocks
  assert.deepEqual(pad, sha256Pair(sha256Pair(ZERO, ZERO), sha256Pair(ZERO, ZERO)));
  const [a, b, c] = [h('a'), h('b'), h('c')];
  const tree = new PaddedMerkleTree(Buffer.concat([a, b, c]), 8, pad);
  const cp = sha256Pair(c, pad);
  const pp = sha256Pair(pad, pad);
  assert.equal(tree.height, 3);
  assert.deepEqual(tree.node(0, 3), pad);
  assert.deepEqual(tree.node(1, 1), cp);
  assert.deepEqual(tree.node(1, 2), pp);
  assert.deepEqual(tree.node(2, 1), sha256Pair(pp, pp));
  assert.deepEqual(tree.root, sha256Pair(sha256Pair(sha256Pair(a, b), cp), sha256Pair(pp, pp)));
  assert.deepEqual(tree.root, merkleRoot(Buffer.concat([a, b, c]), 8, pad));
  // The block layer pads with zero leaves instead.
  const leaves = new PaddedMerkleTree(Buffer.concat([a, b, c]), 4, ZERO);
  assert.deepEqual(leaves.root, sha256Pair(sha256Pair(a, b), sha256Pair(c, ZERO)));
  // An empty layer is all padding.
  assert.deepEqual(new PaddedMerkleTree(Buffer.alloc(0), 4, ZERO).root, zeroSubtreeRoot(4));
});

test('hashes carry the requested range (padding included) then the uncles, lowest first', () => {
  const pad = pieceLayerPad(16384 * 2);
  const [a, b, c] = [h('a'), h('b'), h('c')];
  const tree = new PaddedMerkleTree(Buffer.concat([a, b, c]), 4, pad);
  const nodeAt = (height: number, p: number) => tree.node(height, p);
  // The right half: c and a padding hash, proved by the hash of (a, b).
  const right = buildHashes(nodeAt, { index: 2, length: 2, proofLayers: 1 });
  assert.deepEqual(right, Buffer.concat([c, pad, sha256Pair(a, b)]));
  // The left half: a and b, proved by the hash of (c, pad).
  const left = buildHashes(nodeAt, { index: 0, length: 2, proofLayers: 1 });
  assert.deepEqual(left, Buffer.concat([a, b, sha256Pair(c, pad)]));
  // The whole layer needs no uncle; proof layers inside the range are omitted.
  const all = buildHashes(nodeAt, { index: 0, length: 4, proofLayers: 1 });
  assert.deepEqual(all, Buffer.concat([a, b, c, pad]));
  for (const [hashes, index] of [
    [right, 2],
    [left, 0],
  ] as const) {
    const proven = provenNode(hashes, { index, length: 2, proofLayers: 1 });
    assert.deepEqual(proven, { node: tree.root, height: 2, position: 0 });
  }
});

test('every well-formed range of a 600-hash layer proves the node it claims, up to the root', () => {
  const pad = pieceLayerPad(65536);
  const layer = layerOf(600);
  const tree = new PaddedMerkleTree(layer, nextPowerOfTwo(600), pad);
  assert.equal(tree.height, 10);
  assert.deepEqual(tree.root, merkleRoot(layer, 1024, pad));
  for (let k = 1; k <= 9; k++) {
    const length = 2 ** k;
    for (const index of [0, length, 512, 1024 - length]) {
      for (let proofLayers = 0; proofLayers < tree.height; proofLayers++) {
        const r = { index, length, proofLayers };
        const hashes = buildHashes((hh, p) => tree.node(hh, p), r);
        assert.equal(hashes.length, (length + uncleCount(length, proofLayers)) * 32);
        const proven = provenNode(hashes, r)!;
        const height = k + uncleCount(length, proofLayers);
        assert.equal(proven.height, height);
        assert.equal(proven.position, Math.floor(index / 2 ** height));
        assert.deepEqual(proven.node, tree.node(height, proven.position));
        // Beyond the layer's 600 real hashes, the range holds padding hashes.
        for (let i = 0; i < length; i++) {
          assert.deepEqual(at(hashes, i), index + i < 600 ? at(layer, index + i) : pad);
        }
      }
    }
  }
});

test('a tampered hash or uncle no longer proves the root; a wrong size proves nothing', () => {
  const tree = new PaddedMerkleTree(layerOf(600), 1024, pieceLayerPad(16384));
  const r = { index: 512, length: 128, proofLayers: 9 };
  const hashes = buildHashes((hh, p) => tree.node(hh, p), r);
  assert.deepEqual(provenNode(hashes, r)?.node, tree.root);
  for (const i of [0, 77, 127, 128, 129, 130]) {
    const bad = Buffer.from(hashes);
    bad[i * 32 + 5]! ^= 1;
    assert.notDeepEqual(provenNode(bad, r)?.node, tree.root, `hash ${i} tampered`);
  }
  assert.equal(provenNode(hashes.subarray(32), r), undefined);
  assert.equal(provenNode(Buffer.concat([hashes, ZERO]), r), undefined);
  assert.equal(provenNode(hashes, { ...r, length: 3 }), undefined);
  assert.equal(provenNode(hashes, { ...r, index: 100 }), undefined);
});

test('hash requests are checked against the file tree shape', () => {
  // 2,000,003 bytes in 32 KiB pieces: 123 blocks (8 layers), piece layer 1, 62 pieces.
  const shape = fileTreeShape(2_000_003, 32768);
  assert.deepEqual(shape, {
    blocks: 123,
    height: 7,
    pieceLayer: 1,
    pieces: 62,
    hasPieceLayer: true,
  });
  const root = ZERO;
  const ok = { piecesRoot: root, baseLayer: 1, index: 0, length: 64, proofLayers: 5 };
  assert.equal(hashRequestProblem(shape, ok), undefined); // what libtorrent asks for
  assert.equal(
    hashRequestProblem(shape, { ...ok, length: 2, index: 62, proofLayers: 0 }),
    undefined,
  );
  assert.equal(hashRequestProblem(shape, { ...ok, baseLayer: 0, length: 2, index: 4 }), undefined);
  for (const [bad, why] of [
    [{ ...ok, baseLayer: 2 }, /base layer/],
    [{ ...ok, length: 1 }, /power of two/],
    [{ ...ok, length: 48 }, /power of two/],
    [{ ...ok, length: 1024, baseLayer: 0 }, /power of two/],
    [{ ...ok, length: 2, index: 3 }, /multiple/],
    [{ ...ok, length: 2, index: 64 }, /outside/],
    [{ ...ok, proofLayers: 6 }, /above the root/],
    [{ ...ok, baseLayer: 0, length: 128, index: 0, proofLayers: 7 }, /above the root/],
    [{ ...ok, index: 2 ** 32 - 64 }, /outside/],
  ] as const) {
    assert.match(hashRequestProblem(shape, bad) ?? 'accepted', why, JSON.stringify(bad));
  }
  // A file of one piece has no piece layer: only its leaves can be asked for.
  const small = fileTreeShape(40_000, 65536);
  assert.equal(small.hasPieceLayer, false);
  assert.match(hashRequestProblem(small, { ...ok, baseLayer: 2, length: 2 }) ?? '', /base layer/);
  assert.equal(
    hashRequestProblem(small, { ...ok, baseLayer: 0, length: 4, proofLayers: 1 }),
    undefined,
  );
  assert.match(hashRequestProblem(small, { ...ok, baseLayer: 0, length: 8 }) ?? '', /outside/);
});

test('provenNode never throws, whatever the hashes and fields', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 600 }),
      fc.nat({ max: 2 ** 32 - 1 }),
      fc.oneof(fc.nat({ max: 2 ** 32 - 1 }), fc.constantFrom(2, 4, 8, 16)),
      fc.nat({ max: 2 ** 32 - 1 }),
      (hashes, index, length, proofLayers) => {
        const proven = provenNode(hashes, { index, length, proofLayers });
        if (proven) assert.equal(proven.node.length, 32);
      },
    ),
    { numRuns: FUZZ_RUNS },
  );
});
