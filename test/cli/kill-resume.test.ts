import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomInt } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fixtureTorrent, startNode } from '../support/nodes.js';
import { tempDir } from '../support/tmp.js';

const CLI = fileURLToPath(new URL('../../src/bin/shoal.js', import.meta.url));

type Line = Record<string, number | string>;

/** Runs `shoal get`, calling `onLine` for each JSON line until the process exits. */
function runGet(
  args: string[],
  onLine: (line: Line, child: ChildProcess) => void,
): Promise<number | null> {
  const child = spawn(process.execPath, [CLI, 'get', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  createInterface({ input: child.stdout! }).on('line', (text) =>
    onLine(JSON.parse(text) as Line, child),
  );
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

test('a leecher killed with SIGKILL resumes without re-downloading verified pieces', async (t) => {
  const dir = await tempDir(t);
  const pieceLength = 65536;
  const torrent = await fixtureTorrent(
    dir,
    'movie',
    { 'part1.bin': 3_000_000, 'part2.bin': 2_000_123 },
    { pieceLength },
  );
  const torrentPath = join(dir, 'movie.torrent');
  await writeFile(torrentPath, torrent);
  const seeder = await startNode(t, { uploadLimit: 1_500_000 });
  await seeder.add(torrent, { downloadDir: dir });
  const dataDir = join(dir, 'leecher-data');
  const args = [
    torrentPath,
    '-o',
    join(dir, 'out'),
    '--peer',
    `127.0.0.1:${seeder.port}`,
    '--data-dir',
    dataDir,
    '--port',
    '0',
    '--host',
    '127.0.0.1',
    '--json',
  ];

  const killAt = randomInt(8, 60); // pieces of 77; printed so a failure can be replayed
  t.diagnostic(`killing after ${killAt} pieces`);
  let seenBeforeKill = 0;
  const firstExit = await runGet(args, (line, child) => {
    if (line.event === 'progress') {
      seenBeforeKill = Math.max(seenBeforeKill, Number(line.piecesHave));
      if (seenBeforeKill >= killAt) child.kill('SIGKILL');
    }
  });
  assert.equal(firstExit, null, 'the first run was killed');
  assert.ok(seenBeforeKill >= killAt);

  let started: Line | undefined;
  let done: Line | undefined;
  const secondExit = await runGet(args, (line) => {
    if (line.event === 'started') started = line;
    if (line.event === 'done') done = line;
  });
  assert.equal(secondExit, 0);
  assert.ok(started && done);
  const pieceCount = Number(started.pieceCount);
  const haveAtRestart = Number(started.piecesHave);
  assert.ok(
    haveAtRestart >= seenBeforeKill,
    `${haveAtRestart} pieces found after restart, ${seenBeforeKill} reported before`,
  );
  const missing = (pieceCount - haveAtRestart) * pieceLength;
  assert.ok(
    Number(done.downloaded) <= missing + 2 * pieceLength,
    `fetched ${done.downloaded} bytes, missing were ${missing}`,
  );
  for (const f of ['part1.bin', 'part2.bin']) {
    const a = createHash('sha256')
      .update(await readFile(join(dir, 'movie', f)))
      .digest('hex');
    const b = createHash('sha256')
      .update(await readFile(join(dir, 'out', 'movie', f)))
      .digest('hex');
    assert.equal(b, a, f);
  }
});
