import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { configFromFlags } from '../../src/cli/node-options.js';
import { parseTorrent } from '../../src/metainfo/parse.js';
import { EgressPolicy } from '../../src/runtime/egress.js';
import { listenHttp } from '../../src/runtime/http-server.js';
import { createRealRuntime } from '../../src/runtime/real.js';
import { CLI, startDaemon } from '../support/daemon.js';
import { fixtureTorrent, startNode } from '../support/nodes.js';
import { tempDir } from '../support/tmp.js';

const ENV = { ...process.env, SHOAL_EGRESS: 'loopback' };

const run = async (args: string[], env: NodeJS.ProcessEnv = ENV) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], {
      env,
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

test('the remote CLI drives a running daemon; get hands a download to it', async (t) => {
  const dir = await tempDir(t);
  const torrent = await fixtureTorrent(
    dir,
    'album',
    { 'one.bin': 300_000, 'two.bin': 200_000 },
    {
      version: 'v1',
      pieceLength: 16384,
    },
  );
  const meta = parseTorrent(torrent);
  const hash = meta.infoHashV1!.toString('hex');
  const seeder = await startNode(t);
  await seeder.add(torrent, { downloadDir: dir });
  const dataDir = await tempDir(t, 'shoal-daemon-');
  const daemon = await startDaemon(t, dataDir);
  assert.equal(
    (await readFile(join(dataDir, 'api-url'), 'utf8')).trim(),
    daemon.api,
    'the daemon says where its API is',
  );
  assert.equal((await stat(join(dataDir, 'api-token'))).mode & 0o777, 0o600);
  const d = ['--data-dir', dataDir];

  const empty = await run(['list', ...d]);
  assert.equal(empty.code, 0, empty.stderr);
  assert.match(empty.stdout, /\(no torrents\)/);

  // `get` finds the daemon and hands the magnet over instead of starting a node of its own.
  const magnet = `magnet:?xt=urn:btih:${hash}&dn=album&x.pe=127.0.0.1:${seeder.port}`;
  const got = await run(['get', magnet, ...d, '--json']);
  assert.equal(got.code, 0, got.stderr + got.stdout);
  const events = got.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { event: string });
  assert.equal(events[0]!.event, 'handed-off');
  assert.equal(events.at(-1)!.event, 'done');
  assert.ok(existsSync(join(dataDir, 'downloads', 'album', 'one.bin')));

  const list = await run(['list', ...d, '--json']);
  const rows = list.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { id: string; progress: number });
  assert.deepEqual(
    rows.map((r) => [r.id, r.progress]),
    [[hash, 1]],
  );
  const text = await run(['list', ...d]);
  assert.match(text.stdout, new RegExp(`${hash.slice(0, 8)} +100\\.0%.*seeding +album`));

  const info = await run(['info', hash.slice(0, 8), ...d]);
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, /^name +album$/m);
  assert.match(info.stdout, new RegExp(`^info-hash +${hash}$`, 'm'));

  const paused = await run(['pause', hash.slice(0, 6), ...d]);
  assert.match(paused.stdout, /paused +album/);
  const resumed = await run(['resume', 'all', ...d]);
  assert.match(resumed.stdout, /seeding +album/);

  const files = await run(['files', hash, ...d, '--skip', '1']);
  assert.equal(files.code, 0, files.stderr);
  assert.match(files.stdout, /0 +100% +normal .* one\.bin/);
  assert.match(files.stdout, /1 +100% +skip .* two\.bin/);
  const badRange = await run(['files', hash, ...d, '--skip', '7']);
  assert.equal(badRange.code, 2);
  assert.match(badRange.stderr, /file 7 does not exist/);

  const peers = await run(['peers', hash, ...d]);
  assert.equal(peers.code, 0, peers.stderr);

  const unknown = await run(['pause', 'ffffffff', ...d]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^shoal: no torrent ffffffff\n$/);

  const wrongToken = await run(['list', ...d], { ...ENV, SHOAL_API_TOKEN: '00'.repeat(32) });
  assert.equal(wrongToken.code, 1);
  assert.match(wrongToken.stderr, /does not match the token/);

  const removed = await run(['remove', hash, ...d, '--delete-data']);
  assert.match(removed.stdout, /removed .* and its files/);
  assert.ok(!existsSync(join(dataDir, 'downloads', 'album')));
  assert.match((await run(['list', ...d])).stdout, /\(no torrents\)/);
});

test('list without a daemon shows the library on disk; remote commands say no daemon runs', async (t) => {
  const dataDir = await tempDir(t);
  const list = await run(['list', '--data-dir', dataDir, '--api', 'http://127.0.0.1:1']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /no daemon is running; the library in .* \(shoal start runs it\)/);
  const pause = await run(['pause', 'abcd', '--data-dir', dataDir, '--api', 'http://127.0.0.1:1']);
  assert.equal(pause.code, 1);
  assert.match(pause.stderr, /no shoal daemon answers at http:\/\/127\.0\.0\.1:1/);
});

test('get fetches a .torrent from a URL (standalone)', async (t) => {
  const dir = await tempDir(t);
  const torrent = await fixtureTorrent(dir, 'remote', { 'x.bin': 100_000 }, { version: 'v1' });
  const seeder = await startNode(t);
  await seeder.add(torrent, { downloadDir: dir });
  const files = await listenHttp({ host: '127.0.0.1', port: 0 }, (req, res) =>
    req.url === '/x.torrent' ? res.send(200, {}, torrent) : res.send(404, {}, 'missing'),
  );
  t.after(() => files.close());
  const url = `http://127.0.0.1:${files.address().port}`;
  const out = join(dir, 'out');
  const common = ['--peer', `127.0.0.1:${seeder.port}`, '--port', '0', '--no-dht', '-o', out];
  const dataDir = await tempDir(t);
  const got = await run([
    'get',
    `${url}/x.torrent`,
    ...common,
    '--data-dir',
    dataDir,
    '--standalone',
    '--json',
  ]);
  assert.equal(got.code, 0, got.stderr);
  assert.ok(got.stdout.includes('"event":"done"'));
  assert.equal((await stat(join(out, 'remote', 'x.bin'))).size, 100_000);
  const missing = await run(['get', `${url}/y.torrent`, ...common, '--data-dir', dataDir]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /answered HTTP 404/);
});

test('the rough edges: get --help, start flags, SHOAL_UPLOAD_LIMIT, create --force, completion', async (t) => {
  assert.match((await run(['get', '--help'])).stdout, /magnet links, \.torrent files or http/);
  const start = (await run(['start', '--help'])).stdout;
  for (const flag of ['--tracker', '--peer', '--api-port', '--api-host', '--no-api'])
    assert.ok(start.includes(flag), flag);
  const dir = await tempDir(t);
  const limit = await run(
    ['start', '--data-dir', dir, '--port', '0', '--no-dht', '--no-api', '--json'],
    {
      ...ENV,
      SHOAL_UPLOAD_LIMIT: 'lots',
    },
  );
  assert.equal(limit.code, 2);
  assert.match(
    limit.stderr,
    /SHOAL_UPLOAD_LIMIT takes bytes per second \(e\.g\. 20M\), not "lots"/,
  );
  const rt = createRealRuntime(new EgressPolicy('loopback'));
  const env = { SHOAL_UPLOAD_LIMIT: '20M', SHOAL_DOWNLOAD_LIMIT: '512K', SHOAL_DATA_DIR: dir };
  const config = await configFromFlags(rt, {}, env);
  assert.equal(config.uploadLimit, 20 * 1024 * 1024);
  assert.equal(config.downloadLimit, 512 * 1024);
  assert.equal((await configFromFlags(rt, { uploadLimit: '1M' }, env)).uploadLimit, 1024 * 1024);
  await writeFile(join(dir, 'f.bin'), 'hello');
  const out = join(dir, 'f.torrent');
  assert.equal((await run(['create', join(dir, 'f.bin'), '-o', out])).code, 0);
  const again = await run(['create', join(dir, 'f.bin'), '-o', out]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /exists; use --force/);
  assert.equal((await run(['create', join(dir, 'f.bin'), '-o', out, '--force'])).code, 0);
  const bash = await run(['completion', 'bash']);
  assert.match(bash.stdout, /complete -o filenames -F _shoal shoal/);
  assert.match(bash.stdout, /'start'\) words='.*--api-port/);
  const fish = await run(['completion', 'fish']);
  assert.match(fish.stdout, /complete -c shoal -n '__fish_use_subcommand' -f -a 'get'/);
  assert.match((await run(['completion', 'zsh'])).stdout, /^#compdef shoal/);
  assert.equal((await run(['completion', 'tcsh'])).code, 2);
});
