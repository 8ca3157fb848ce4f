/**
 * Hostile class: a download folder that holds symbolic links (planted by another local user,
 * or left by an archive) must never make shoal write, create or truncate anything outside it.
 * Bound: zero bytes changed and zero entries created outside the folder; the files not behind
 * a link are written intact; the others fail with UNSAFE_FILE naming the link.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { parseTorrent } from '../../src/metainfo/parse.js';
import { realFs } from '../../src/runtime/real.js';
import { PieceLayout } from '../../src/storage/layout.js';
import { TorrentStorage } from '../../src/storage/torrent-storage.js';
import { fixtureTorrent } from '../support/nodes.js';
import { fixtureBytes, tempDir } from '../support/tmp.js';

const PIECE = 16 * 1024;
const FILES: Record<string, number> = {
  'a.bin': 40_000,
  'ok.bin': 50_000,
  'sub/b.bin': 30_000,
  'sub/c.bin': 20_000,
  'sub/empty': 0,
  zero: 0,
};

async function setup(t: import('node:test').TestContext) {
  const src = await tempDir(t);
  const meta = parseTorrent(
    await fixtureTorrent(src, 'pack', FILES, { pieceLength: PIECE, version: 'v1' }),
  );
  const stream = Buffer.concat(meta.files.map((f) => fixtureBytes(f.length, f.path.join('/'))));
  const downloads = await tempDir(t);
  const outside = await tempDir(t);
  const storage = new TorrentStorage(
    realFs,
    downloads,
    new PieceLayout(meta),
    meta.name,
    meta.singleFile,
  );
  t.after(() => storage.close());
  return { meta, stream, downloads, outside, storage };
}

/** Names and contents of everything under `dir`. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const path = join(e.parentPath, e.name);
    const kind = e.isFile() ? 'file' : e.isDirectory() ? 'dir' : 'other';
    const data = e.isFile() ? await readFile(path) : Buffer.alloc(0);
    out.set(path, `${kind} ${data.length} ${createHash('sha256').update(data).digest('hex')}`);
  }
  return out;
}

test('links to a file and to a folder inside the download folder are never followed', async (t) => {
  const { meta, stream, downloads, outside, storage } = await setup(t);
  await writeFile(join(outside, 'victim'), 'precious bytes');
  await mkdir(join(outside, 'elsewhere'));
  await mkdir(join(downloads, 'pack'));
  await symlink(join(outside, 'victim'), join(downloads, 'pack', 'a.bin'));
  await symlink(join(outside, 'elsewhere'), join(downloads, 'pack', 'sub'));
  const before = await snapshot(outside);

  const results = await Promise.allSettled(
    Array.from({ length: meta.pieceCount }, (_, p) =>
      storage.write(
        p * PIECE,
        stream.subarray(p * PIECE, Math.min(stream.length, (p + 1) * PIECE)),
      ),
    ),
  );
  const empties = await storage.createEmptyFiles().then(
    () => undefined,
    (e: unknown) => e,
  );
  await storage.close();

  assert.deepEqual(await snapshot(outside), before, 'nothing outside the folder changed');
  // Pieces that touch a linked file fail with UNSAFE_FILE naming the link; the others succeed.
  const okFile = meta.files.findIndex((f) => f.path.join('/') === 'ok.bin');
  const ok = meta.files[okFile]!;
  for (const [p, r] of results.entries()) {
    const start = p * PIECE;
    const end = Math.min(stream.length, start + PIECE);
    const insideOk = start >= ok.offset && end <= ok.offset + ok.length;
    if (insideOk) assert.equal(r.status, 'fulfilled', `piece ${p} lies in ok.bin only`);
    else {
      assert.equal(r.status, 'rejected', `piece ${p} touches a linked file`);
      const e = r.reason as { code?: string; message?: string };
      assert.equal(e.code, 'UNSAFE_FILE', String(e.message));
      assert.match(String(e.message), /pack\/(a\.bin|sub)"/);
    }
  }
  assert.equal(
    (empties as { code?: string } | undefined)?.code,
    'UNSAFE_FILE',
    'sub/empty refused',
  );
  const written = await readFile(join(downloads, 'pack', 'ok.bin'));
  assert.ok(written.equals(stream.subarray(ok.offset, ok.offset + ok.length)), 'ok.bin intact');
  assert.equal((await readFile(join(downloads, 'pack', 'zero'))).length, 0, 'zero created');
});

test('a folder swapped for a link while files are being created never lets a write out', async (t) => {
  const src = await tempDir(t);
  const files = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`d/f${i}`, 16]));
  const meta = parseTorrent(await fixtureTorrent(src, 'pack', files, { version: 'v1' }));
  const piece0 = Buffer.concat(meta.files.map((f) => fixtureBytes(f.length, f.path.join('/'))));
  const downloads = await tempDir(t);
  const outside = await tempDir(t);
  const root = join(downloads, 'pack');
  await mkdir(root);
  // A worker keeps turning pack/d into a real folder, moving it away, and putting a link to
  // `outside` in its place, as fast as it can.
  const flipper = new Worker(
    `const fs = require('node:fs');
     const { workerData: [r, out] } = require('node:worker_threads');
     const end = Date.now() + 4000;
     for (let n = 0; Date.now() < end; n++) {
       try { fs.mkdirSync(r + '/d'); } catch {}
       try { fs.renameSync(r + '/d', r + '/old' + n); } catch {}
       try { fs.symlinkSync(out, r + '/d'); } catch {}
       try { fs.unlinkSync(r + '/d'); } catch {}
     }`,
    { eval: true, workerData: [root, outside] },
  );
  const stopped = new Promise((resolve) => flipper.once('exit', resolve));
  const codes = new Map<string, number>();
  let rounds = 0;
  for (const deadline = Date.now() + 2000; rounds < 200 && Date.now() < deadline; rounds++) {
    const storage = new TorrentStorage(realFs, downloads, new PieceLayout(meta), 'pack', false);
    const outcome = await storage.write(0, piece0).then(
      () => 'ok',
      (e: { code?: string }) => e.code ?? String(e),
    );
    codes.set(outcome, (codes.get(outcome) ?? 0) + 1);
    await storage.close();
  }
  await flipper.terminate();
  await stopped;
  const leaked = await readdir(outside);
  assert.deepEqual(leaked, [], `${leaked.length} files written outside the folder`);
  assert.ok((codes.get('ok') ?? 0) < rounds, `the writes met the flipper: ${[...codes]}`);
  for (const code of codes.keys()) assert.ok(['ok', 'UNSAFE_FILE', 'IO'].includes(code), code);
});
