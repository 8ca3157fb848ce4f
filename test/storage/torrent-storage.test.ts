import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTorrent } from '../../src/metainfo/parse.js';
import { realFs } from '../../src/runtime/real.js';
import type { FileHandle, FileSystem } from '../../src/runtime/runtime.js';
import { PieceLayout } from '../../src/storage/layout.js';
import { TorrentStorage } from '../../src/storage/torrent-storage.js';
import { fixtureTorrent } from '../support/nodes.js';
import { fixtureBytes, tempDir } from '../support/tmp.js';

const PIECE = 16 * 1024;

/** The real file system, counting writes in flight on each open file (and the most seen). */
function countingFs() {
  const counts = { inFlight: 0, most: 0, writes: 0, failNext: false };
  const wrap = (h: FileHandle): FileHandle => ({
    ...h,
    read: (...args) => h.read(...args),
    async write(data, position) {
      counts.writes++;
      counts.inFlight++;
      counts.most = Math.max(counts.most, counts.inFlight);
      try {
        await new Promise((resolve) => setImmediate(resolve)); // a write that takes a while
        if (counts.failNext) {
          counts.failNext = false;
          throw new Error('disk on fire');
        }
        await h.write(data, position);
      } finally {
        counts.inFlight--;
      }
    },
  });
  const fs: FileSystem = {
    ...realFs,
    open: async (path, mode) => wrap(await realFs.open(path, mode)),
    openBeneath: async (root, path, mode) => wrap(await realFs.openBeneath(root, path, mode)),
  };
  return { fs, counts };
}

test('writes to one file go one at a time, all land, and a failed one does not stop the next', async (t) => {
  const dir = await tempDir(t);
  const pieces = 12;
  const meta = parseTorrent(
    await fixtureTorrent(dir, 'one.bin', { '': PIECE * pieces }, { pieceLength: PIECE }),
  );
  const source = fixtureBytes(PIECE * pieces, '');
  const out = await tempDir(t);
  const { fs, counts } = countingFs();
  const storage = new TorrentStorage(fs, out, new PieceLayout(meta), meta.name, meta.singleFile);
  t.after(() => storage.close());

  // Every piece handed over at once, as a fast peer's pieces complete.
  const writes = [];
  for (let i = 0; i < pieces; i++)
    writes.push(storage.write(i * PIECE, source.subarray(i * PIECE, (i + 1) * PIECE)));
  await Promise.all(writes);
  assert.equal(counts.writes, pieces);
  assert.equal(counts.most, 1, 'never two writes in flight on one file');
  assert.deepEqual(await storage.read(0, PIECE * pieces), source);

  counts.failNext = true;
  const failed = storage.write(0, Buffer.alloc(PIECE, 1));
  const next = storage.write(PIECE, Buffer.alloc(PIECE, 2));
  await assert.rejects(failed, /disk on fire/);
  await next;
  assert.deepEqual(await storage.read(PIECE, PIECE), Buffer.alloc(PIECE, 2));
  assert.equal(storage.unwrittenBytes, 0);
});

test('more files in use than handles allowed: no handle is closed under a read or write', async (t) => {
  const dir = await tempDir(t);
  const files: Record<string, number> = {};
  for (let i = 0; i < 40; i++) files[`f${String(i).padStart(2, '0')}.bin`] = 20_000 + i * 97;
  const meta = parseTorrent(
    await fixtureTorrent(dir, 'many', files, { pieceLength: PIECE, version: 'v1' }),
  );
  const layout = new PieceLayout(meta);
  const source = Buffer.concat(
    Object.keys(files)
      .sort()
      .map((name) => fixtureBytes(files[name]!, name)),
  );
  const out = await tempDir(t);
  const { fs } = countingFs(); // each write waits a turn of the event loop before it starts
  const storage = new TorrentStorage(fs, out, layout, meta.name, meta.singleFile, {
    maxOpenFiles: 2,
  });
  t.after(() => storage.close());
  const piece = (i: number) => source.subarray(i * PIECE, Math.min((i + 1) * PIECE, source.length));
  const all = Array.from({ length: layout.pieceCount }, (_, i) => i);
  await Promise.all(all.map((i) => storage.write(i * PIECE, piece(i))));
  const back = await Promise.all(all.map((i) => storage.read(i * PIECE, piece(i).length)));
  for (const i of all) assert.ok(back[i]!.equals(piece(i)), `piece ${i} reads back as written`);
  for (const name of Object.keys(files))
    assert.ok(
      (await realFs.readFile(`${out}/many/${name}`)).equals(fixtureBytes(files[name]!, name)),
      `${name} on disk`,
    );
});
