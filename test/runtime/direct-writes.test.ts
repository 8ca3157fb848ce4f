/**
 * Direct (O_DIRECT) writes: whatever the shape of a write — aligned or not, a tail, longer than
 * a staging slot, many at once — the file holds exactly the bytes written; long aligned runs
 * leave no pages in the page cache (checked with util-linux `fincore`); a file system without
 * O_DIRECT falls back to buffered writes.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import fc from 'fast-check';
import { loadConfig } from '../../src/node/config.js';
import { DirectWriter } from '../../src/runtime/direct-writes.js';
import { pageArena } from '../../src/runtime/page-arena.js';
import { createRealFs, realFs } from '../../src/runtime/real-fs.js';
import { fixtureTorrent, startNode, whenDone } from '../support/nodes.js';
import { fixtureBytes, tempDir } from '../support/tmp.js';

const fs = createRealFs();
const MiB = 1024 * 1024;

/** True when the folder's file system takes O_DIRECT writes; else skips (fails in CI). */
async function directWorks(t: TestContext, dir: string): Promise<boolean> {
  const probe = await open(join(dir, 'probe'), 'w');
  const writer = await DirectWriter.open(probe.fd);
  const written = (await writer?.writePrefix(Buffer.alloc(MiB, 1), 0)) ?? 0;
  await writer?.close();
  await probe.close();
  if (written === MiB) return true;
  const reason = `the file system of ${dir} takes no O_DIRECT writes`;
  if (process.env.CI) throw new Error(`${reason}; CI's temporary folder must`);
  t.skip(reason);
  return false;
}

/** Bytes of `path` in the page cache (util-linux fincore). */
function cachedBytes(t: TestContext, path: string): number | undefined {
  const probe = spawnSync('fincore', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    const reason = 'util-linux fincore is not installed (Debian: util-linux-extra)';
    if (process.env.CI) throw new Error(`${reason}; .ci/run installs it`);
    t.skip(reason);
    return undefined;
  }
  const out = execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path]);
  return Number(out.toString().trim());
}

async function writeThrough(
  root: string,
  name: string,
  directWrites: boolean,
  writes: readonly { position: number; data: Buffer }[],
): Promise<void> {
  const h = await fs.openBeneath(root, [name], 'create', { directWrites });
  try {
    for (const w of writes) await h.write(w.data, w.position);
  } finally {
    await h.close();
  }
}

test('long aligned runs bypass the page cache; buffered writes fill it', async (t) => {
  const root = await tempDir(t);
  if (!(await directWorks(t, root))) return;
  const data = fixtureBytes(8 * MiB + 1000, 'direct');
  await writeThrough(root, 'direct.bin', true, [{ position: 0, data }]);
  await writeThrough(root, 'buffered.bin', false, [{ position: 0, data }]);
  // Looked at before anything reads the files back (which would cache them).
  const direct = cachedBytes(t, join(root, 'direct.bin'));
  const buffered = cachedBytes(t, join(root, 'buffered.bin'));
  assert.deepEqual(await readFile(join(root, 'direct.bin')), data);
  assert.deepEqual(await readFile(join(root, 'buffered.bin')), data);
  if (direct === undefined || buffered === undefined) return;
  // Only the unaligned 1000-byte tail went through the cache: one page.
  assert.ok(direct <= 4096, `${direct} bytes of the direct-written file are cached`);
  assert.ok(buffered >= 8 * MiB, `only ${buffered} bytes of the buffered file are cached`);
});

test('page-arena memory is written direct as it is; an unaligned view of it still lands', async (t) => {
  const root = await tempDir(t);
  if (!(await directWorks(t, root))) return;
  const data = fixtureBytes(4 * MiB + 1000, 'arena');
  const slot = pageArena()!.take(data.length)!;
  slot.set(data);
  const inPlace = Buffer.from(slot.buffer, slot.byteOffset, data.length);
  assert.ok(pageArena()!.owns(inPlace));
  await writeThrough(root, 'arena.bin', true, [{ position: 0, data: inPlace }]);
  const cached = cachedBytes(t, join(root, 'arena.bin'));
  assert.deepEqual(await readFile(join(root, 'arena.bin')), data);
  // Off a page boundary: not written in place, but through a staging slot.
  const unaligned = Buffer.from(slot.buffer, slot.byteOffset + 100, MiB);
  await writeThrough(root, 'unaligned.bin', true, [{ position: 0, data: unaligned }]);
  assert.deepEqual(await readFile(join(root, 'unaligned.bin')), data.subarray(100, 100 + MiB));
  pageArena()!.give(slot);
  if (cached !== undefined) assert.ok(cached <= 4096, `${cached} bytes cached`);
});

test('writes of any shape land exactly, direct or buffered (property)', async (t) => {
  const root = await tempDir(t);
  let run = 0;
  const write = fc.record({
    position: fc.oneof(
      fc.integer({ min: 0, max: 64 }).map((k) => k * 4096),
      fc.integer({ min: 0, max: 300_000 }),
    ),
    length: fc.oneof(
      fc.integer({ min: 1, max: 5000 }),
      fc.integer({ min: 256 * 1024, max: 2 * MiB + 8192 }),
    ),
  });
  await fc.assert(
    fc.asyncProperty(fc.array(write, { minLength: 1, maxLength: 6 }), async (shapes) => {
      const name = `f${run++}.bin`;
      const writes = shapes.map((s, i) => ({
        position: s.position,
        data: fixtureBytes(s.length, `${name}:${i}`),
      }));
      const size = Math.max(...writes.map((w) => w.position + w.data.length));
      const expected = Buffer.alloc(size);
      for (const w of writes) w.data.copy(expected, w.position);
      await writeThrough(root, name, true, writes);
      assert.deepEqual(await readFile(join(root, name)), expected);
      await rm(join(root, name));
    }),
    { numRuns: 40, seed: 15 },
  );
});

test('more writes at once than staging slots: each waits for a slot, all land', async (t) => {
  const root = await tempDir(t);
  const files = Array.from({ length: 20 }, (_, i) => ({
    name: `p${i}.bin`,
    data: fixtureBytes(3 * MiB, `parallel:${i}`),
  }));
  await Promise.all(
    files.map((f) => writeThrough(root, f.name, true, [{ position: 0, data: f.data }])),
  );
  for (const f of files) assert.deepEqual(await readFile(join(root, f.name)), f.data);
});

test('a tmpfs, with or without O_DIRECT, still gets every byte', async (t) => {
  if (process.getuid?.() !== 0 || process.platform !== 'linux') {
    if (process.env.CI) throw new Error('CI runs as root on Linux: a tmpfs can be mounted');
    t.skip('mounting a tmpfs needs root on Linux');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'shoal-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', dir]);
  // One hook: unmount, then remove the folder.
  t.after(async () => {
    execFileSync('umount', ['-l', dir]);
    await rm(dir, { recursive: true, force: true });
  });
  const data = fixtureBytes(4 * MiB + 123, 'tmpfs');
  await writeThrough(dir, 'x.bin', true, [{ position: 8192, data }]);
  const back = await readFile(join(dir, 'x.bin'));
  assert.equal(back.length, 8192 + data.length);
  assert.deepEqual(back.subarray(8192), data);
});

test('a node writes downloads past the page cache unless directWrites is off', async (t) => {
  const dir = await tempDir(t);
  if (!(await directWorks(t, dir))) return;
  const torrent = await fixtureTorrent(dir, 'big', { 'a.bin': 6 * MiB }, { pieceLength: MiB });
  const seeder = await startNode(t);
  await seeder.add(torrent, { downloadDir: dir });
  const off = await loadConfig(realFs, {}, { SHOAL_DATA_DIR: dir, SHOAL_DIRECT_WRITES: 'off' });
  assert.equal(off.directWrites, false);
  for (const directWrites of [true, false]) {
    const leecher = await startNode(t, { directWrites });
    const out = join(dir, `out-${directWrites}`);
    await whenDone(
      await leecher.add(torrent, {
        downloadDir: out,
        peers: [{ host: '127.0.0.1', port: seeder.port }],
      }),
    );
    const file = join(out, 'big', 'a.bin');
    const cached = cachedBytes(t, file);
    assert.deepEqual(await readFile(file), await readFile(join(dir, 'big', 'a.bin')));
    if (cached === undefined) return;
    if (directWrites) assert.equal(cached, 0, `${cached} bytes of the download are cached`);
    else assert.equal(cached, 6 * MiB);
    await leecher.stop();
  }
});
