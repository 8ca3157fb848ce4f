import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseTorrent } from '../../src/metainfo/parse.js';
import { loadConfig } from '../../src/node/config.js';
import { realFs } from '../../src/runtime/real.js';
import { PieceLayout } from '../../src/storage/layout.js';
import { fixtureTorrent, startNode, whenDone } from '../support/nodes.js';
import { tempDir } from '../support/tmp.js';

test('config: defaults, then config.json, then environment, then flags', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'config.json'), JSON.stringify({ port: 7000, uploadSlots: 3 }));
  const c = await loadConfig(
    realFs,
    { downloadLimit: 5 },
    { SHOAL_DATA_DIR: dir, SHOAL_PORT: '7001' },
  );
  assert.equal(c.dataDir, dir);
  assert.equal(c.port, 7001, 'env beats the file');
  assert.equal(c.uploadSlots, 3, 'the file beats defaults');
  assert.equal(c.downloadLimit, 5);
  const flags = await loadConfig(
    realFs,
    { port: 7002 },
    { SHOAL_DATA_DIR: dir, SHOAL_PORT: '7001' },
  );
  assert.equal(flags.port, 7002, 'flags beat env');
  await writeFile(join(dir, 'config.json'), JSON.stringify({ colour: 'blue' }));
  await assert.rejects(loadConfig(realFs, {}, { SHOAL_DATA_DIR: dir }), /unknown setting "colour"/);
  await writeFile(join(dir, 'config.json'), '{');
  await assert.rejects(loadConfig(realFs, {}, { SHOAL_DATA_DIR: dir }), /not valid JSON/);
  await assert.rejects(
    loadConfig(realFs, { port: 70000 }, { SHOAL_DATA_DIR: join(dir, 'none') }),
    /port must be/,
  );
});

test('layout maps pieces across files and padding', async (t) => {
  const dir = await tempDir(t);
  const meta = parseTorrent(
    await fixtureTorrent(dir, 'x', { a: 20000, b: 5 }, { pieceLength: 16384 }),
  );
  const layout = new PieceLayout(meta);
  assert.equal(layout.pieceCount, 3);
  assert.deepEqual(
    layout
      .segments(16384, 16384)
      .map((s) => [meta.files[s.fileIndex]!.path.join('/'), s.fileOffset, s.length, s.padding]),
    [
      ['a', 16384, 3616, false],
      ['.pad/12768', 0, 12768, true],
    ],
  );
  assert.deepEqual(layout.piecesOfFile(2), [2, 2]);
});

test('the library API: add, pause, resume, remove, and a restarted node resumes its library', async (t) => {
  const dir = await tempDir(t);
  const torrent = await fixtureTorrent(dir, 'lib', { 'one.bin': 200_000 }, { pieceLength: 16384 });
  const seeder = await startNode(t);
  const seeding = await seeder.add(torrent, { downloadDir: dir });
  assert.equal(seeder.list().length, 1);
  await assert.rejects(seeder.add(torrent, { downloadDir: dir }), /already added/);
  seeding.pause();
  assert.equal(seeding.stats().state, 'paused');
  seeding.resume();
  assert.equal(seeding.stats().state, 'seeding');

  const leecher = await startNode(t);
  const out = join(dir, 'out');
  const getting = await leecher.add(torrent, {
    downloadDir: out,
    peers: [{ host: '127.0.0.1', port: seeder.port }],
  });
  const progress: number[] = [];
  getting.on('progress', (s) => progress.push(s.progress));
  await whenDone(getting);
  assert.deepEqual(
    await readFile(join(out, 'lib', 'one.bin')),
    await readFile(join(dir, 'lib', 'one.bin')),
  );

  // A new node on the leecher's data folder finds the torrent in its library and seeds it.
  await leecher.stop();
  const restarted = await startNode(t, { dataDir: leecher.config.dataDir });
  const resumed = await restarted.resumeLibrary();
  assert.equal(resumed.length, 1);
  assert.equal(resumed[0]!.stats().state, 'seeding');
  assert.equal(resumed[0]!.stats().piecesHave, resumed[0]!.meta.pieceCount);
  await restarted.remove(resumed[0]!.infoHashHex);
  assert.equal(restarted.list().length, 0);
  assert.equal((await restarted.library.list()).length, 0);
});
