import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from '../support/tmp.js';

const CLI = fileURLToPath(new URL('../../src/bin/shoal.js', import.meta.url));
const run = async (args: string[]) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

test('shoal sim dht --json --check-determinism --report', async (t) => {
  const dir = await tempDir(t);
  const report = join(dir, 'dht.html');
  const r = await run([
    'sim',
    'dht',
    '--nodes',
    '60',
    '--lookups',
    '30',
    '--info-hashes',
    '5',
    '--seed',
    '3',
    '--json',
    '--check-determinism',
    '--report',
    report,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  for (const key of ['seed', 'traceDigest', 'wallSeconds', 'memoryPerNodeBytes', 'successRate'])
    assert.ok(key in out, `has ${key}`);
  assert.equal(out.seed, 3);
  assert.equal(out.deterministic, true);
  assert.equal(out.firstTraceDigest, out.traceDigest);
  assert.match(await readFile(report, 'utf8'), /<svg[\s\S]*polyline/);
});

test('shoal sim refuses unknown scenarios and foreign flags; failures print the replay line', async () => {
  const unknown = await run(['sim', 'nope']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown scenario "nope"/);
  const foreign = await run(['sim', 'dht', '--leechers', '3']);
  assert.equal(foreign.code, 2);
  assert.match(foreign.stderr, /--leechers is not an option of the dht scenario/);
  // Lossy enough that lookups must fail: the run fails and says how to replay it.
  const failing = await run([
    'sim',
    'dht',
    '--nodes',
    '30',
    '--lookups',
    '10',
    '--loss',
    '0.9',
    '--seed',
    '8',
  ]);
  assert.equal(failing.code, 1);
  assert.match(failing.stderr, /replay: shoal sim dht --seed 8 --nodes 30 --lookups 10 --loss 0.9/);
});
