import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseTorrent } from '../../src/metainfo/parse.js';
import { fixtureTorrent, startNode } from '../support/nodes.js';
import { runOnTty, screen } from '../support/terminal.js';
import { tempDir } from '../support/tmp.js';

const CLI = fileURLToPath(new URL('../../src/bin/shoal.js', import.meta.url));

function get(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, 'get', ...args],
      { env: { ...process.env, SHOAL_EGRESS: 'loopback' }, timeout: 60_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code) : 0, stdout, stderr }),
    );
  });
}

test('get fetches several sources in one node (file, magnet), each to the end; exit 1 if one failed', async (t) => {
  const dir = await tempDir(t);
  const a = await fixtureTorrent(dir, 'first', { 'a.bin': 300_000 });
  const b = await fixtureTorrent(dir, 'second', { 'x/b.bin': 200_000, 'c.bin': 5000 });
  const seeder = await startNode(t);
  await seeder.add(a, { downloadDir: dir });
  await seeder.add(b, { downloadDir: dir });
  const aPath = join(dir, 'first.torrent');
  await writeFile(aPath, a);
  const bHash = parseTorrent(b).infoHashV1!.toString('hex');
  const magnet = `magnet:?xt=urn:btih:${bHash}&dn=second&x.pe=127.0.0.1:${seeder.port}`;
  const common = (name: string) => [
    ...['--peer', `127.0.0.1:${seeder.port}`, '--standalone', '--no-dht', '--json'],
    ...['--port', '0', '--host', '127.0.0.1', '--data-dir', join(dir, `data-${name}`)],
    ...['-o', join(dir, `out-${name}`)],
  ];

  const missing = join(dir, 'missing.torrent');
  const mixed = await get([aPath, magnet, missing, ...common('mixed')]);
  assert.equal(
    mixed.code,
    1,
    `${mixed.stderr}\n${mixed.stdout
      .split('\n')
      .filter((l) => !l.includes('"progress"'))
      .join('\n')}`,
  );
  const events = mixed.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { event: string; name?: string; source?: string });
  const done = events.filter((e) => e.event === 'done').map((e) => e.name);
  assert.deepEqual(done.sort(), ['first', 'second']);
  const failed = events.filter((e) => e.event === 'failed');
  assert.deepEqual(
    failed.map((e) => e.source),
    [missing],
  );
  for (const [path, from] of [
    ['first/a.bin', 'first/a.bin'],
    ['second/x/b.bin', 'second/x/b.bin'],
  ] as const)
    assert.deepEqual(
      await readFile(join(dir, 'out-mixed', path)),
      await readFile(join(dir, from)),
      path,
    );

  const good = await get([aPath, magnet, ...common('good')]);
  assert.equal(good.code, 0, good.stderr);

  // On a terminal: a live line per torrent while they download, each leaving its 100% line.
  const tty = runOnTty(
    [process.execPath, CLI, 'get', aPath, magnet, ...common('tty').filter((a) => a !== '--json')],
    { ...process.env, SHOAL_EGRESS: 'loopback' },
  );
  t.after(() => tty.child.kill('SIGKILL'));
  assert.equal(await tty.exited, 0, tty.output());
  const shown = screen(tty.output());
  for (const name of ['first', 'second']) {
    const at = shown.findIndex((l) => l.startsWith(`${name} [████████████████████] 100.0%`));
    assert.ok(at >= 0, `${name}'s final line:\n${shown.join('\n')}`);
    assert.match(shown[at + 1] ?? '', new RegExp(`^done: ${name} verified`));
  }
  assert.equal(shown.filter((l) => l.includes('[')).length, 2, shown.join('\n'));
});

test('get refuses --only with several sources', async (t) => {
  const dir = await tempDir(t);
  const r = await get(['x.torrent', 'y.torrent', '--only', '0', '--data-dir', join(dir, 'd')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--only and --file choose files of one torrent/);
});
