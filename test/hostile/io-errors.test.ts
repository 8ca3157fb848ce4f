/**
 * Class: I/O errors never crash shoal. A full disk or a read-only download folder puts the
 * torrent in an error state with a clear message; `shoal get` says it in one line and exits 1;
 * a node carries on, and the torrent resumes once the cause is fixed. The disks are small tmpfs
 * mounts (root only; a skip elsewhere, a failure in CI).
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fixtureTorrent, startNode, whenDone } from '../support/nodes.js';
import { tempDir } from '../support/tmp.js';

const CLI = fileURLToPath(new URL('../../src/bin/shoal.js', import.meta.url));
const MiB = 1024 * 1024;

/** Mounts a tmpfs of `sizeMiB` at a new folder (unmounted after the test), or skips. */
async function smallDisk(
  t: TestContext,
  sizeMiB: number,
  readOnly = false,
): Promise<string | undefined> {
  const problem =
    process.getuid?.() !== 0 ? 'not root' : process.platform !== 'linux' ? 'not Linux' : undefined;
  if (problem) {
    if (process.env.CI) throw new Error(`cannot mount a small disk (${problem}); CI runs as root`);
    t.skip(`cannot mount a small disk: ${problem}`);
    return undefined;
  }
  const dir = await mkdtemp(join(tmpdir(), 'shoal-smalldisk-'));
  const mountPoint = join(dir, 'disk');
  await mkdir(mountPoint);
  execFileSync('mount', [
    '-t',
    'tmpfs',
    '-o',
    `size=${sizeMiB}m${readOnly ? ',ro' : ''}`,
    'tmpfs',
    mountPoint,
  ]);
  // Unmount first, then remove the folder (tempDir's cleanup would run too early).
  t.after(async () => {
    execFileSync('umount', ['-l', mountPoint]);
    await rm(dir, { recursive: true, force: true });
  });
  return mountPoint;
}

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function seeding(t: TestContext, size: number) {
  const dir = await tempDir(t);
  const torrent = await fixtureTorrent(dir, 'big', { 'data.bin': size }, { version: 'v1' });
  const seeder = await startNode(t);
  await seeder.add(torrent, { downloadDir: dir, persist: false });
  const torrentPath = join(dir, 'big.torrent');
  await import('node:fs/promises').then((fs) => fs.writeFile(torrentPath, torrent));
  return { dir, torrent, torrentPath, seeder };
}

for (const [what, size, readOnly, message] of [
  ['a full disk', 1, false, /no space left/],
  ['a read-only download folder', 4, true, /read-only|EROFS|permission/i],
] as const) {
  test(`shoal get into ${what} exits 1 with one line, no stack trace`, {
    timeout: 90_000,
  }, async (t) => {
    const disk = await smallDisk(t, size, readOnly);
    if (!disk) return;
    const { torrentPath, seeder } = await seeding(t, 4 * MiB);
    const data = await tempDir(t, 'shoal-io-data-');
    const r = await runCli([
      'get',
      torrentPath,
      '-o',
      disk,
      '--peer',
      `127.0.0.1:${seeder.port}`,
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--no-dht',
      '--data-dir',
      data,
      '--standalone',
    ]);
    assert.equal(r.code, 1, `exit ${r.code}\n${r.stderr}`);
    // Status lines may come before it; the error is one line.
    const errors = r.stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('shoal: '));
    assert.equal(errors.length, 1, `one error line on stderr, got:\n${r.stderr}`);
    assert.match(errors[0]!, message);
    assert.doesNotMatch(r.stderr, /\s+at .+:\d+:\d+/, 'no stack trace');
  });
}

test('a node keeps running when a torrent fills the disk, and the torrent resumes once there is room', {
  timeout: 90_000,
}, async (t) => {
  const disk = await smallDisk(t, 1);
  if (!disk) return;
  const { dir, torrent, seeder } = await seeding(t, 4 * MiB);
  const node = await startNode(t);
  // No 'error' listener on purpose: the library must not crash the process for lack of one.
  const getting = await node.add(torrent, {
    downloadDir: disk,
    persist: false,
    peers: [{ host: '127.0.0.1', port: seeder.port }],
    swarm: { errorRetryMs: 300 },
  });
  const deadline = Date.now() + 20_000;
  while (getting.stats().state !== 'error' && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  const failed = getting.stats();
  assert.equal(failed.state, 'error', JSON.stringify(failed));
  assert.match(failed.error ?? '', /no space left/);
  execFileSync('mount', ['-o', 'remount,size=16m', disk]);
  await whenDone(getting, 30_000);
  const digest = async (p: string) =>
    createHash('sha256')
      .update(await readFile(p))
      .digest('hex');
  assert.equal(
    await digest(join(disk, 'big', 'data.bin')),
    await digest(join(dir, 'big', 'data.bin')),
  );
});
