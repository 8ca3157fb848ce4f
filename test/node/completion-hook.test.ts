import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { defaultConfig } from '../../src/node/config.js';
import { Node } from '../../src/node/node.js';
import { EgressPolicy } from '../../src/runtime/egress.js';
import type { ProcessLauncher } from '../../src/runtime/process.js';
import { createRealRuntime } from '../../src/runtime/real.js';
import { fixtureTorrent, startNode, whenDone } from '../support/nodes.js';
import { tempDir } from '../support/tmp.js';

const CLI = fileURLToPath(new URL('../../src/bin/shoal.js', import.meta.url));

test('the hook runs once per torrent that finished downloading, not for one found complete', async (t) => {
  const dir = await tempDir(t);
  const started: { command: string; args: readonly string[]; env: Record<string, string> }[] = [];
  const launcher: ProcessLauncher = {
    start(command, args, options = {}) {
      started.push({ command, args, env: { ...options.env } });
      assert.equal(options.detached, true);
      return { exited: Promise.resolve({ code: 0 }) };
    },
  };
  const complete = await fixtureTorrent(dir, 'already', { 'a.bin': 40_000 });
  const fetched = await fixtureTorrent(dir, 'fetched', { 'b.bin': 60_000 });
  const seeder = await startNode(t);
  await seeder.add(fetched, { downloadDir: dir });
  const node = await Node.start(
    { ...createRealRuntime(new EgressPolicy('loopback')), processes: launcher },
    {
      ...defaultConfig(),
      dataDir: join(dir, 'data'),
      port: 0,
      host: '127.0.0.1',
      dht: false,
      onComplete: 'echo "$SHOAL_TORRENT_NAME"',
    },
  );
  t.after(() => node.stop());
  const runs: string[] = [];
  node.on('completionHook', (torrent, run) => runs.push(`${torrent.meta.name}:${run.code}`));
  await node.add(complete, { downloadDir: dir });
  const leech = await node.add(fetched, {
    downloadDir: join(dir, 'out'),
    peers: [{ host: '127.0.0.1', port: seeder.port }],
  });
  await whenDone(leech);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(started.length, 1, 'only the download that finished');
  assert.deepEqual(started[0]!.command, '/bin/sh');
  assert.deepEqual(started[0]!.args, ['-c', 'echo "$SHOAL_TORRENT_NAME"']);
  assert.deepEqual(started[0]!.env, {
    SHOAL_TORRENT_NAME: 'fetched',
    SHOAL_INFO_HASH: leech.infoHashHex,
    SHOAL_DOWNLOAD_DIR: join(dir, 'out'),
  });
  assert.deepEqual(runs, ['fetched:0']);
});

test('shoal get --on-complete: the torrent name reaches the command as data, never as code', async (t) => {
  const dir = await tempDir(t);
  const name = `it's "odd" $(touch PWNED) \`touch PWNED2\`; x`;
  const torrent = await fixtureTorrent(dir, name, { 'a.bin': 50_000 });
  const torrentPath = join(dir, 'odd.torrent');
  await writeFile(torrentPath, torrent);
  const seeder = await startNode(t);
  const seeded = await seeder.add(torrent, { downloadDir: dir });
  const out = join(dir, 'hook-output');
  const result = await promisify(execFile)(
    process.execPath,
    [
      CLI,
      'get',
      torrentPath,
      '-o',
      join(dir, 'out'),
      '--peer',
      `127.0.0.1:${seeder.port}`,
      '--standalone',
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--no-dht',
      '--data-dir',
      join(dir, 'data'),
      '--on-complete',
      `printf '%s|%s|%s' "$SHOAL_TORRENT_NAME" "$SHOAL_INFO_HASH" "$SHOAL_DOWNLOAD_DIR" > '${out}'`,
    ],
    { cwd: dir, env: { ...process.env, SHOAL_EGRESS: 'loopback' }, timeout: 60_000 },
  );
  assert.match(result.stderr, /done:/);
  let written = '';
  for (let i = 0; i < 50 && written === ''; i++) {
    written = await readFile(out, 'utf8').catch(() => '');
    if (written === '') await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(written, `${name}|${seeded.infoHashHex}|${join(dir, 'out')}`);
  await assert.rejects(stat(join(dir, 'PWNED')), 'the name was not run');
  await assert.rejects(stat(join(dir, 'PWNED2')), 'the name was not run');
});
