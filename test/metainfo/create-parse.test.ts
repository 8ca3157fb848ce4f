import assert from 'node:assert/strict';
import { chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { decode } from '../../src/codec/bencode.js';
import { sha1 } from '../../src/crypto/hash.js';
import { HashPool } from '../../src/crypto/hash-pool.js';
import { comparePaths, createTorrent } from '../../src/metainfo/create.js';
import { parseTorrent } from '../../src/metainfo/parse.js';
import { choosePieceLength } from '../../src/metainfo/piece-length.js';
import { realFs } from '../../src/runtime/real.js';
import { fixtureBytes, tempDir, writeTree } from '../support/tmp.js';

const pool = new HashPool(2);
after(() => pool.close());

test('single-file v1: pieces are SHA-1 of consecutive piece-length slices', async (t) => {
  const dir = await tempDir(t);
  await writeTree(dir, { 'one.bin': 40000 });
  const { torrent, metainfo } = await createTorrent(join(dir, 'one.bin'), realFs, pool, {
    version: 'v1',
    pieceLength: 16384,
    trackers: ['http://127.0.0.1:1/announce', 'udp://127.0.0.1:2'],
    webSeeds: ['http://127.0.0.1:3/'],
    comment: 'hello',
    creationDate: 1700000000,
    private: true,
  });
  const data = fixtureBytes(40000, 'one.bin');
  const expected = Buffer.concat(
    [0, 1, 2].map((i) => sha1(data.subarray(i * 16384, (i + 1) * 16384))),
  );
  assert.deepEqual(metainfo.pieces, expected);
  assert.equal(metainfo.version, 'v1');
  assert.equal(metainfo.singleFile, true);
  assert.equal(metainfo.pieceCount, 3);
  assert.equal(metainfo.totalLength, 40000);
  assert.equal(metainfo.private, true);
  assert.deepEqual(metainfo.announce, [['http://127.0.0.1:1/announce'], ['udp://127.0.0.1:2']]);
  assert.deepEqual(metainfo.webSeeds, ['http://127.0.0.1:3/']);
  assert.equal(metainfo.comment, 'hello');
  assert.equal(metainfo.creationDate, 1700000000);
  assert.equal(metainfo.infoHashV2, undefined);
  assert.deepEqual(metainfo.infoHashV1, sha1(metainfo.infoBytes));
  assert.deepEqual(parseTorrent(torrent), metainfo);
});

test('multi-file hybrid: files sorted, padded to piece boundaries, v1 and v2 agree', async (t) => {
  const dir = await tempDir(t);
  await writeTree(join(dir, 'set'), { 'b.bin': 70000, 'a/z.txt': 5, 'a/y.bin': 32768, empty: 0 });
  await chmod(join(dir, 'set', 'b.bin'), 0o755);
  const { metainfo } = await createTorrent(join(dir, 'set'), realFs, pool, { pieceLength: 16384 });
  assert.equal(metainfo.version, 'hybrid');
  const real = metainfo.files.filter((f) => !f.padding);
  assert.deepEqual(
    real.map((f) => f.path.join('/')),
    ['a/y.bin', 'a/z.txt', 'b.bin', 'empty'],
  );
  for (const f of real) if (f.length > 0) assert.equal(f.offset % 16384, 0, f.path.join('/'));
  assert.equal(real.find((f) => f.path.join('/') === 'b.bin')?.executable, true);
  assert.equal(metainfo.totalLength, 70000 + 5 + 32768);
  assert.equal(metainfo.streamLength % 16384, 0);
  assert.equal(metainfo.pieceCount, 2 + 1 + 5);
  // Only files longer than a piece have piece layers.
  assert.equal(metainfo.pieceLayers.size, 2);
  const info = decode(metainfo.infoBytes) as Map<string, unknown>;
  assert.ok(info.has('file tree') && info.has('files') && info.get('meta version') === 2);
});

test('v2-only torrents have a file tree, no pieces, and piece-aligned files', async (t) => {
  const dir = await tempDir(t);
  await writeTree(join(dir, 'set'), { x: 100000, y: 3 });
  const { metainfo } = await createTorrent(join(dir, 'set'), realFs, pool, {
    version: 'v2',
    pieceLength: 32768,
  });
  assert.equal(metainfo.version, 'v2');
  assert.equal(metainfo.pieces, undefined);
  assert.equal(metainfo.infoHashV1, undefined);
  assert.equal(metainfo.infoHashV2?.length, 32);
  assert.equal(metainfo.pieceCount, 4 + 1);
  assert.deepEqual(
    metainfo.files.map((f) => [f.path.join('/'), f.offset, f.padding]),
    [
      ['x', 0, false],
      ['.pad/31072', 100000, true],
      ['y', 131072, false],
    ],
  );
});

test('hybrid creation is deterministic and the raw info bytes are re-hashable', async (t) => {
  const dir = await tempDir(t);
  await writeTree(join(dir, 'd'), { f1: 50000, f2: 1 });
  const a = await createTorrent(join(dir, 'd'), realFs, pool, { pieceLength: 16384 });
  const b = await createTorrent(join(dir, 'd'), realFs, pool, { pieceLength: 16384 });
  assert.deepEqual(a.metainfo.infoHashV1, b.metainfo.infoHashV1);
  assert.deepEqual(a.metainfo.infoHashV2, b.metainfo.infoHashV2);
  const written = join(dir, 'out.torrent');
  await realFs.writeFileAtomic(written, a.torrent);
  assert.deepEqual(parseTorrent(await readFile(written)).infoHashV2, a.metainfo.infoHashV2);
});

test('refuses empty input and bad piece lengths', async (t) => {
  const dir = await tempDir(t);
  await writeTree(dir, { 'zero.bin': 0, 'one.bin': 10 });
  await assert.rejects(createTorrent(join(dir, 'zero.bin'), realFs, pool), /no data/);
  await assert.rejects(
    createTorrent(join(dir, 'one.bin'), realFs, pool, { version: 'hybrid', pieceLength: 20000 }),
    /power of two/,
  );
});

test('piece length grows with size and stays a power of two within bounds', () => {
  assert.equal(choosePieceLength(1), 16384);
  assert.equal(choosePieceLength(2 ** 31), 2 ** 21);
  assert.equal(choosePieceLength(2 ** 50), 16 * 2 ** 20);
});

test('paths compare component-wise in UTF-8 byte order', () => {
  const paths = [['a.txt'], ['a-b', 'c'], ['a', 'b'], ['A'], ['é'], ['z']];
  assert.deepEqual(
    paths.sort(comparePaths).map((p) => p.join('/')),
    ['A', 'a/b', 'a-b/c', 'a.txt', 'z', 'é'],
  );
});
