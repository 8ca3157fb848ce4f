import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from '../support/tmp.js';

const CLI = fileURLToPath(new URL('../../src/bin/shoal.js', import.meta.url));
const LOOPBACK = ['--host', '127.0.0.1', '--no-dht'];

/** Starts `shoal share` and resolves with the process and its port once it seeds. */
function share(
  path: string,
  dataDir: string,
  extra: string[],
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    [CLI, 'share', path, '--port', '0', ...LOOPBACK, '--data-dir', dataDir, '--json', ...extra],
    { env: { ...process.env, SHOAL_EGRESS: 'loopback' } },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no seeding line: ${out}`)), 20_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      // Whole lines only: the last may still be arriving.
      for (const line of out.split('\n').slice(0, -1)) {
        if (!line.includes('"seeding"')) continue;
        const event = JSON.parse(line) as { event?: string; port?: number };
        if (event.event === 'seeding' && event.port !== undefined) {
          clearTimeout(timer);
          resolve({ child, port: event.port });
          return;
        }
      }
    });
    child.on('exit', (code) => reject(new Error(`share exited ${code}: ${out}`)));
  });
}

const run = async (args: string[], timeoutMs = 60_000) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], {
      timeout: timeoutMs,
      env: { ...process.env, SHOAL_EGRESS: 'loopback' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

test('five shoal processes form an overlay; a search on another lists a shared file within seconds and the download completes from the result', async (t) => {
  const dir = await tempDir(t);
  const name = 'Field Recordings Vol 3.flac';
  const content = randomBytes(300_000);
  await writeFile(join(dir, name), content);
  for (let i = 1; i < 5; i++) await writeFile(join(dir, `other${i}.bin`), randomBytes(40_000));
  const children: ChildProcess[] = [];
  t.after(() => {
    for (const c of children) c.kill();
  });
  const first = await share(join(dir, name), join(dir, 'd0'), []);
  children.push(first.child);
  const rest = [];
  for (let i = 1; i < 5; i++) {
    const s = await share(join(dir, `other${i}.bin`), join(dir, `d${i}`), [
      '--overlay-peer',
      `127.0.0.1:${first.port}`,
    ]);
    children.push(s.child);
    rest.push(s);
  }
  // Search from a sixth, short-lived node that joins through one that does not share the file.
  const via = ['--overlay-peer', `127.0.0.1:${rest[2]!.port}`];
  const started = Date.now();
  const found = await run([
    'search',
    'field',
    'recordings',
    ...LOOPBACK,
    '--data-dir',
    join(dir, 'ds'),
    '--timeout',
    '3',
    '--json',
    ...via,
  ]);
  assert.equal(found.code, 0, found.stderr);
  const results = found.stdout
    .trim()
    .split('\n')
    .map(
      (line) =>
        JSON.parse(line) as { name: string; sources: number; magnet: string; foundAfterMs: number },
    );
  assert.equal(results.length, 1, found.stdout);
  assert.equal(results[0]!.name, name);
  assert.equal(results[0]!.sources, 1);
  assert.ok(results[0]!.foundAfterMs < 3000, `found after ${results[0]!.foundAfterMs} ms`);
  assert.ok(Date.now() - started < 15_000, 'within a few seconds');
  const out = join(dir, 'out');
  const got = await run([
    'get',
    '--search',
    '1',
    'field recordings',
    '--port',
    '0',
    ...LOOPBACK,
    '--data-dir',
    join(dir, 'dg'),
    '--timeout',
    '3',
    '-o',
    out,
    '--json',
    ...via,
  ]);
  assert.equal(got.code, 0, got.stderr);
  assert.match(got.stdout, /"event":"done"/);
  assert.deepEqual(await readFile(join(out, name)), content);
});
