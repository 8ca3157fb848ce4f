import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir, writeTree } from '../support/tmp.js';

const CLI = fileURLToPath(new URL('../../src/bin/shoal.js', import.meta.url));
const run = async (args: string[], cwd?: string) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], { cwd });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

test('create writes a torrent that info describes, in text and JSON', async (t) => {
  const dir = await tempDir(t);
  await writeTree(join(dir, 'album'), { 'one.flac': 50000, 'two.flac': 20000 });
  const out = join(dir, 'album.torrent');
  const created = await run([
    'create',
    join(dir, 'album'),
    '-o',
    out,
    '--piece-length',
    '16K',
    '--tracker',
    'http://127.0.0.1:1/announce',
    '--comment',
    'hi',
    '--hybrid',
  ]);
  assert.equal(created.code, 0, created.stderr);
  assert.match(
    created.stdout,
    /created .*album\.torrent\ninfo-hash v1: [0-9a-f]{40}\ninfo-hash v2: [0-9a-f]{64}\nmagnet: magnet:\?/,
  );
  const json = await run(['info', out, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const info = JSON.parse(json.stdout);
  assert.equal(info.name, 'album');
  assert.equal(info.version, 'hybrid');
  assert.match(info.infoHashV1, /^[0-9a-f]{40}$/);
  assert.match(info.infoHashV2, /^[0-9a-f]{64}$/);
  assert.equal(info.pieceLength, 16384);
  assert.equal(info.totalLength, 70000);
  assert.deepEqual(info.files, [
    { path: 'one.flac', length: 50000 },
    { path: 'two.flac', length: 20000 },
  ]);
  assert.deepEqual(info.trackers, [['http://127.0.0.1:1/announce']]);
  assert.equal(info.comment, 'hi');
  assert.ok(created.stdout.includes(info.infoHashV1));
  const text = await run(['info', out]);
  assert.match(text.stdout, /info-hash v2: +[0-9a-f]{64}/);
  assert.match(text.stdout, /files \(2\): +one\.flac/);
  const magnet = await run(['info', '--json', info.magnet]);
  assert.equal(JSON.parse(magnet.stdout).infoHashV2, info.infoHashV2);
});

test('create makes v1 unless told; --v2 and --hybrid warn who cannot read them; two at once is a usage error', async (t) => {
  const dir = await tempDir(t);
  await writeTree(dir, { 'f.bin': 1000 });
  const plain = await run(['create', join(dir, 'f.bin'), '-o', join(dir, 'plain.torrent')]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /info-hash v1/);
  assert.doesNotMatch(plain.stdout, /info-hash v2/);
  assert.equal(plain.stderr, '', 'no warning for v1');
  const hybrid = await run([
    'create',
    join(dir, 'f.bin'),
    '--hybrid',
    '-o',
    join(dir, 'h.torrent'),
  ]);
  assert.match(hybrid.stderr, /Transmission 3\.x or aria2/);
  const v1 = await run(['create', join(dir, 'f.bin'), '--v1', '-o', join(dir, 'a.torrent')]);
  assert.equal(v1.code, 0, v1.stderr);
  assert.doesNotMatch(v1.stdout, /info-hash v2/);
  const v2 = await run(['create', join(dir, 'f.bin'), '--v2', '-o', join(dir, 'b.torrent')]);
  assert.doesNotMatch(v2.stdout, /info-hash v1/);
  const both = await run(['create', join(dir, 'f.bin'), '--v1', '--v2']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /at most one of --v1, --v2, --hybrid/);
});

test('bad input gives one clear line on stderr and a non-zero exit, never a stack trace', async (t) => {
  const dir = await tempDir(t);
  const garbage = join(dir, 'bad.torrent');
  await writeFile(garbage, 'd4:infoi1ee');
  const evil = join(dir, 'evil.torrent');
  await writeFile(
    evil,
    'd4:infod5:filesld6:lengthi1e4:pathl2:..6:passwdeee4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee',
  );
  const cases: [string[], number, RegExp][] = [
    [['info', join(dir, 'missing.torrent')], 1, /no such file/],
    [['info', garbage], 1, /info must be a dictionary/],
    [['info', evil], 1, /unsafe path in torrent "\.\.\/passwd"/],
    [['info', 'magnet:?xt=urn:btih:xyz'], 1, /invalid magnet link/],
    [['create', join(dir, 'nothing-here')], 1, /no such file/],
    [['create', dir, '--piece-length', 'lots'], 2, /not a byte count/],
    [['frobnicate'], 2, /unknown command/],
  ];
  for (const [args, code, message] of cases) {
    const r = await run(args, dir);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('get stops cleanly when the reader of its output goes away', async (t) => {
  const dir = await tempDir(t);
  await writeTree(join(dir, 'src'), { 'a.bin': 40000 });
  const torrent = join(dir, 'a.torrent');
  assert.equal((await run(['create', join(dir, 'src', 'a.bin'), '-o', torrent])).code, 0);
  // No peers: it waits, printing a progress line every second, until its reader closes the pipe.
  const child = spawn(
    process.execPath,
    [
      CLI,
      'get',
      torrent,
      '-o',
      join(dir, 'out'),
      '--data-dir',
      join(dir, 'data'),
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--no-dht',
      '--json',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.stdout.destroy();
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const code = await exited;
  clearTimeout(timer);
  assert.equal(code, 130, `exit ${code}; stderr: ${stderr}`);
  assert.doesNotMatch(stderr, /EPIPE|at .*\.js:\d+/);
});
