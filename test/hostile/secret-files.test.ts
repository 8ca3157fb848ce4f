/**
 * Hostile class: another local user reading (or replacing) a private key. Bounds: every secret
 * shoal writes is created owner-only (0600) whatever the umask, atomically; a secret file that
 * group or others may read or write is refused with SECRET_FILE_UNSAFE telling the user to run
 * `chmod 600`, before the key is used. `shoal dht put --key FILE` is the first user.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Dht } from '../../src/dht/dht.js';
import { EgressPolicy } from '../../src/runtime/egress.js';
import { createRealRuntime, realFs } from '../../src/runtime/real.js';
import type { FileSystem } from '../../src/runtime/runtime.js';
import { MemFs, PageStore } from '../../src/sim/memfs.js';
import { tempDir } from '../support/tmp.js';

const CLI = fileURLToPath(new URL('../../src/bin/shoal.js', import.meta.url));
const runtime = createRealRuntime(new EgressPolicy('loopback'));

async function shoal(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], {
      env: { ...process.env, SHOAL_EGRESS: 'loopback' },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('shoal dht put --key creates the seed 0600 and refuses it once others may read it', async (t) => {
  const dir = await tempDir(t);
  const bootstrap = await Dht.start(runtime, { host: '127.0.0.1', port: 0, bootstrap: [] });
  t.after(() => bootstrap.stop());
  const key = join(dir, 'seed.key');
  const put = (value: string) =>
    shoal([
      'dht',
      'put',
      value,
      '--key',
      key,
      '--host',
      '127.0.0.1',
      '--bootstrap',
      `127.0.0.1:${bootstrap.port}`,
      '--data-dir',
      join(dir, 'data'),
    ]);
  const umask = process.umask(0o022); // the usual umask, inherited by the child
  let first: Awaited<ReturnType<typeof put>>;
  try {
    first = await put('one');
  } finally {
    process.umask(umask);
  }
  assert.equal(first.code, 0, first.stderr);
  const mode = (await stat(key)).mode & 0o777;
  assert.equal(mode & 0o077, 0, `the seed was written with mode ${mode.toString(8)}`);
  const seed = await readFile(key, 'utf8');

  await chmod(key, 0o644);
  const second = await put('two');
  assert.equal(second.code, 1, 'refused');
  assert.match(second.stderr, /^shoal: .*chmod 600 .*seed\.key\n$/);
  assert.equal(await readFile(key, 'utf8'), seed, 'the seed is left as it was');
});

for (const [name, fs] of [
  ['real', realFs],
  ['simulated', new MemFs(new PageStore(), () => 0)],
] as [string, FileSystem][]) {
  test(`secret files on the ${name} file system: written owner-only, exposed ones refused`, async (t) => {
    const dir = name === 'real' ? await tempDir(t) : '/';
    const path = join(dir, 'secret');
    await fs.writeSecretFile(path, Buffer.from('k'));
    assert.deepEqual(await fs.readSecretFile(path), Buffer.from('k'));
    if (name === 'real') await chmod(path, 0o640);
    else await fs.writeFileAtomic(path, Buffer.from('k')); // an ordinary (0644) file
    await assert.rejects(fs.readSecretFile(path), (e: unknown) => {
      const err = e as { code?: string; message?: string };
      return err.code === 'SECRET_FILE_UNSAFE' && /chmod 600/.test(err.message ?? '');
    });
    if (name === 'real') {
      await writeFile(path, 'k', { mode: 0o600 });
      await chmod(path, 0o600);
      assert.deepEqual(await fs.readSecretFile(path), Buffer.from('k'));
    }
  });
}
