import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { SecretFileError, UnsafeFileError } from '../../src/runtime/errors.js';
import { createRealFs } from '../../src/runtime/real-fs.js';
import { tempDir } from '../support/tmp.js';

const isUnsafe = (offending: string) => (e: unknown) =>
  e instanceof UnsafeFileError && e.code === 'UNSAFE_FILE' && e.offending.endsWith(offending);

for (const beneath of ['proc', 'lstat'] as const) {
  const fs = createRealFs({ beneath });

  test(`openBeneath (${beneath}): creates folders and files, reads and writes them`, async (t) => {
    const root = await tempDir(t);
    const h = await fs.openBeneath(root, ['a', 'b', 'c.bin'], 'create');
    await h.write(Buffer.from('hello'), 3);
    assert.equal((await h.stat()).size, 8);
    await h.close();
    assert.deepEqual(await readFile(join(root, 'a', 'b', 'c.bin')), Buffer.from('\0\0\0hello'));
    const r = await fs.openBeneath(root, ['a', 'b', 'c.bin'], 'read');
    const out = Buffer.alloc(5);
    assert.equal(await r.read(out, 0, 5, 3), 5);
    await r.close();
    assert.equal(out.toString(), 'hello');
    // 'create' never truncates an existing file.
    await (await fs.openBeneath(root, ['a', 'b', 'c.bin'], 'create')).close();
    assert.equal((await stat(join(root, 'a', 'b', 'c.bin'))).size, 8);
    await assert.rejects(fs.openBeneath(root, ['a', 'missing'], 'read'), { code: 'IO' });
    await assert.rejects(fs.openBeneath(root, ['a', 'b'], 'write'), { code: 'IO' });
    await assert.rejects(fs.openBeneath(root, ['a', '..', 'x'], 'create'), isUnsafe('..'));
    assert.equal((await fs.statBeneath(root, ['a', 'b', 'c.bin'])).size, 8);
  });

  test(`openBeneath (${beneath}): a link on any component is refused, its target untouched`, async (t) => {
    const root = await tempDir(t);
    const outside = await tempDir(t);
    await writeFile(join(outside, 'victim'), 'precious');
    await mkdir(join(root, 'in'));
    await symlink(join(outside, 'victim'), join(root, 'in', 'file-link'));
    await symlink(outside, join(root, 'in', 'dir-link'));
    await symlink(join(outside, 'not-yet'), join(root, 'in', 'dangling'));
    await symlink(outside, join(root, 'top-link'));
    for (const mode of ['read', 'write', 'create'] as const) {
      await assert.rejects(fs.openBeneath(root, ['in', 'file-link'], mode), isUnsafe('file-link'));
      await assert.rejects(
        fs.openBeneath(root, ['in', 'dir-link', 'victim'], mode),
        isUnsafe('dir-link'),
      );
      await assert.rejects(
        fs.openBeneath(root, ['in', 'dir-link', 'new', 'file'], mode),
        isUnsafe('dir-link'),
      );
      await assert.rejects(
        fs.openBeneath(root, ['top-link', 'victim'], mode),
        isUnsafe('top-link'),
      );
    }
    await assert.rejects(fs.openBeneath(root, ['in', 'dangling'], 'create'), isUnsafe('dangling'));
    await assert.rejects(fs.statBeneath(root, ['in', 'dir-link', 'victim']), isUnsafe('dir-link'));
    assert.equal((await fs.statBeneath(root, ['in', 'file-link'])).isSymbolicLink, true);
    assert.equal(await readFile(join(outside, 'victim'), 'utf8'), 'precious');
    assert.deepEqual((await readdir(outside)).sort(), ['victim']);
  });

  test(`openBeneath (${beneath}): a FIFO where a file should be is refused without blocking`, async (t) => {
    const root = await tempDir(t);
    try {
      execFileSync('mkfifo', [join(root, 'pipe')]);
    } catch {
      t.skip('mkfifo is not available');
      return;
    }
    for (const mode of ['read', 'write', 'create'] as const)
      await assert.rejects(fs.openBeneath(root, ['pipe'], mode), isUnsafe('pipe'));
  });
}

test('the download folder itself may be a link (the user chose it)', async (t) => {
  const real = await tempDir(t);
  const holder = await tempDir(t);
  await symlink(real, join(holder, 'downloads'));
  const h = await createRealFs().openBeneath(join(holder, 'downloads'), ['x'], 'create');
  await h.close();
  assert.deepEqual(await readdir(real), ['x']);
});

test('secret files are written 0600 and refused when others may read or change them', async (t) => {
  const fs = createRealFs();
  const dir = await tempDir(t);
  const path = join(dir, 'key');
  const old = process.umask(0);
  try {
    await fs.writeSecretFile(path, Buffer.from('seed'));
  } finally {
    process.umask(old);
  }
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.deepEqual(await fs.readSecretFile(path), Buffer.from('seed'));
  await fs.writeSecretFile(path, Buffer.from('seed2'));
  assert.deepEqual(await readdir(dir), ['key'], 'no temporary file left behind');
  assert.deepEqual(await fs.readSecretFile(path), Buffer.from('seed2'));
  await chmod(path, 0o400);
  assert.deepEqual(await fs.readSecretFile(path), Buffer.from('seed2'));
  for (const mode of [0o644, 0o640, 0o604, 0o620, 0o602, 0o660]) {
    await chmod(path, mode);
    await assert.rejects(
      fs.readSecretFile(path),
      (e: unknown) =>
        e instanceof SecretFileError &&
        e.code === 'SECRET_FILE_UNSAFE' &&
        e.message.includes(`chmod 600 ${path}`),
      mode.toString(8),
    );
  }
});
