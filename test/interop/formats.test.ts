/**
 * Who can read which torrent format, checked against the installed clients: the evidence for
 * `shoal create` and `shoal share` making v1 torrents by default, and for the README's table.
 *
 * Debian 12's Transmission 3.00 refuses to parse hybrid and v2 torrents, and its aria2 1.36
 * reads a hybrid with a wrong info-hash (so it can never join the swarm) and refuses a v2 one;
 * libtorrent's hybrids behave the same as shoal's (they are byte for byte the same info
 * dictionary). A torrent made without a version flag must be usable by both.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  pseudoRandomBytes,
  requireTool,
  run,
  runPython,
  runShoal,
  shoalInfo,
  tempDir,
} from './helpers.js';

const README = fileURLToPath(new URL('../../../README.md', import.meta.url));
const ARIA2 = ['aria2c', '--version'];

/** A two-file folder to make torrents of. */
async function content(t: TestContext): Promise<{ dir: string; folder: string }> {
  const dir = await tempDir(t, 'shoal-formats-');
  const folder = join(dir, 'album');
  await mkdir(folder);
  await writeFile(join(folder, 'a.bin'), pseudoRandomBytes('formats/a', 100_000));
  await writeFile(join(folder, 'b.bin'), pseudoRandomBytes('formats/b', 70_000));
  return { dir, folder };
}

/** The info-hash `transmission-show` reports for `torrent`, or undefined when it cannot parse it. */
async function transmissionHash(torrent: string): Promise<string | undefined> {
  const r = await run('transmission-show', [torrent]);
  return r.code === 0 ? /^\s*Hash: ([0-9a-f]{40})$/im.exec(r.stdout)?.[1] : undefined;
}

/** The info-hash `aria2c -S` reports for `torrent`, or undefined when it cannot read it. */
async function aria2Hash(torrent: string): Promise<string | undefined> {
  const r = await run('aria2c', ['--no-conf=true', '-S', torrent]);
  return r.code === 0 ? /^Info Hash: ([0-9a-f]{40})$/im.exec(r.stdout)?.[1] : undefined;
}

/** Whether each client reads `torrent` with its real v1 info-hash (a v2-only one has none). */
async function readers(torrent: string): Promise<{ transmission: boolean; aria2: boolean }> {
  const v1 = (await shoalInfo(torrent)).infoHashV1;
  return {
    transmission: v1 !== null && (await transmissionHash(torrent)) === v1,
    aria2: v1 !== null && (await aria2Hash(torrent)) === v1,
  };
}

/** A row of the README's format table: client → v1, v2, hybrid readable ("yes" or "no…"). */
async function readmeRow(client: string): Promise<Record<'v1' | 'v2' | 'hybrid', boolean>> {
  const readme = await readFile(README, 'utf8');
  const line = readme.split('\n').find((l) => l.startsWith(`| ${client}`));
  assert.ok(line, `the README's format table has a row for ${client}`);
  const cells = line
    .split('|')
    .slice(2, 5)
    .map((c) => c.trim());
  const yes = (c: string | undefined) => {
    assert.match(c ?? '', /^(yes|no)\b/, `${client}: "${c}" says yes or no`);
    return c!.startsWith('yes');
  };
  return { v1: yes(cells[0]), v2: yes(cells[1]), hybrid: yes(cells[2]) };
}

test('shoal create and share make, by default, a torrent Transmission and aria2 read right', async (t) => {
  if (!requireTool(t, 'transmission-show')) return;
  if (!requireTool(t, 'aria2c', ARIA2)) return;
  const { dir, folder } = await content(t);
  const torrent = join(dir, 'default.torrent');
  const r = await runShoal(['create', folder, '-o', torrent]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await readers(torrent), { transmission: true, aria2: true });
});

test("the README's format table says what the installed Transmission and aria2 do", async (t) => {
  if (!requireTool(t, 'transmission-show')) return;
  if (!requireTool(t, 'aria2c', ARIA2)) return;
  const { dir, folder } = await content(t);
  const made: Record<string, string> = {};
  for (const version of ['v1', 'v2', 'hybrid'] as const) {
    made[version] = join(dir, `shoal-${version}.torrent`);
    const r = await runShoal(['create', folder, `--${version}`, '-o', made[version]!]);
    assert.equal(r.code, 0, r.stderr);
  }
  const seen: Record<string, { transmission: boolean; aria2: boolean }> = {};
  for (const [version, path] of Object.entries(made)) seen[version] = await readers(path);
  t.diagnostic(`shoal torrents: ${JSON.stringify(seen)}`);

  const transmission = (await run('transmission-show', ['--version'])).stderr.trim();
  const aria2 = (await run('aria2c', ['--version'])).stdout.split('\n')[0]!.trim();
  t.diagnostic(`${transmission}; ${aria2}`);
  const checks: [string, boolean, 'transmission' | 'aria2'][] = [
    ['Transmission 3.00', /^transmission-show 3\.00\b/.test(transmission), 'transmission'],
    ['aria2 1.36', /^aria2 version 1\.36\./.test(aria2), 'aria2'],
  ];
  for (const [row, installed, client] of checks) {
    const said = await readmeRow(row);
    assert.ok(seen.v1![client], `${client} reads a v1 torrent`);
    if (!installed) {
      t.diagnostic(`${row} is not the installed version: only its v1 column was checked`);
      continue;
    }
    for (const version of ['v1', 'v2', 'hybrid'] as const)
      assert.equal(seen[version]![client], said[version], `README: ${row} reads ${version}`);
  }

  // libtorrent's hybrid of the same folder is the same torrent to them: same verdicts.
  if (!requireTool(t, 'libtorrent')) return;
  const lt = join(dir, 'libtorrent-hybrid.torrent');
  await runPython(
    `import libtorrent as lt, sys
fs = lt.file_storage()
lt.add_files(fs, sys.argv[1])
ct = lt.create_torrent(fs, 16384)
lt.set_piece_hashes(ct, sys.argv[2])
open(sys.argv[3], 'wb').write(lt.bencode(ct.generate()))`,
    [folder, dir, lt],
  );
  assert.equal((await shoalInfo(lt)).version, 'hybrid');
  assert.deepEqual(await readers(lt), seen.hybrid, "libtorrent's hybrid fares as shoal's");
});
