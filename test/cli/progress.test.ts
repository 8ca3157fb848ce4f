/**
 * What `shoal get` and `shoal share` show on a terminal (run on a pseudo-terminal through
 * util-linux `script`): live lines redrawn in place, nothing stale left above what is printed,
 * a final 100% line, an ETA from a smoothed rate, rates within the limit; `share` prints its
 * magnet once and shows upload and peers.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fixtureTorrent, startNode, whenDone } from '../support/nodes.js';
import { runOnTty, screen } from '../support/terminal.js';
import { tempDir } from '../support/tmp.js';

const CLI = fileURLToPath(new URL('../../src/bin/shoal.js', import.meta.url));
const env = { ...process.env, SHOAL_EGRESS: 'loopback' };
const BAR = /\[[█░]{20}\]/;

function needScript(t: TestContext): boolean {
  const r = spawnSync('script', ['--version'], { encoding: 'utf8' });
  if (r.status === 0) return true;
  if (process.env.CI) throw new Error('util-linux script is needed for terminal tests');
  t.skip('util-linux script is not available');
  return false;
}

/** Bytes per second in a shown rate (`123 KiB/s`). */
function rateOf(text: string): number {
  const m = /^([\d.]+) (B|KiB|MiB|GiB)$/.exec(text.trim());
  assert.ok(m, `a rate: "${text}"`);
  return Number(m[1]) * { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }[m[2] as 'B'];
}

/** Waits until `check` holds, for at most `ms`. */
async function until(what: string, check: () => boolean, ms: number, detail: () => string) {
  for (let waited = 0; !check(); waited += 100) {
    if (waited > ms) assert.fail(`${what} within ${ms} ms:\n${detail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('get on a terminal: no stale bar above what it prints, a final 100% line, smoothed ETA and rates within the limit', async (t) => {
  if (!needScript(t)) return;
  const dir = await tempDir(t);
  const torrent = await fixtureTorrent(dir, 'movie', { 'movie.bin': 1_200_000 });
  const torrentPath = join(dir, 'movie.torrent');
  await writeFile(torrentPath, torrent);
  const seeder = await startNode(t);
  await seeder.add(torrent, { downloadDir: dir });
  const limit = 200 * 1024;
  const run = runOnTty(
    [
      process.execPath,
      CLI,
      'get',
      torrentPath,
      ...['-o', join(dir, 'out'), '--data-dir', join(dir, 'data'), '--standalone'],
      ...['--port', '0', '--host', '127.0.0.1', '--no-dht', '--download-limit', '200K'],
      ...['--peer', `127.0.0.1:${seeder.port}`],
    ],
    env,
  );
  t.after(() => run.child.kill('SIGKILL'));
  assert.equal(await run.exited, 0, run.output());
  const out = run.output();
  const shown = screen(out);
  const bars = shown.filter((l) => BAR.test(l));
  assert.equal(bars.length, 1, `one bar left on the screen:\n${shown.join('\n')}`);
  assert.match(bars[0]!, /\[█{20}\] 100\.0% .*ETA done/);
  const at = shown.indexOf(bars[0]!);
  assert.match(shown[at + 1] ?? '', /^done: movie verified/);
  assert.ok(
    shown.slice(0, at).some((l) => /^fetching movie/.test(l)),
    `the start line is above the bar:\n${shown.join('\n')}`,
  );
  // Every frame drawn: rates never above the limit; ETA "-" first, then a time.
  const frames = out.split(/\r?\n|\r/).filter((l) => BAR.test(l));
  const etas = frames.map((f) => / ETA (\S+)/.exec(f)?.[1]);
  assert.equal(etas[0], '-');
  assert.ok(
    etas.some((e) => /^\d+(s|m\d\ds)$/.test(e ?? '')),
    etas.join(' '),
  );
  for (const f of frames) {
    const down = /↓ ([^/]+)\/s/.exec(f)?.[1];
    assert.ok(down !== undefined, f);
    assert.ok(rateOf(down) <= limit * 1.01, `shown ${down}/s, limit 200 KiB/s: ${f}`);
  }
});

test('share prints its magnet once and shows what it uploads to how many peers', async (t) => {
  if (!needScript(t)) return;
  const dir = await tempDir(t);
  const torrent = await fixtureTorrent(dir, 'album', { 'a.bin': 1_500_000 });
  const torrentPath = join(dir, 'album.torrent');
  await writeFile(torrentPath, torrent);
  const run = runOnTty(
    [
      process.execPath,
      CLI,
      'share',
      join(dir, 'album'),
      ...['--torrent', torrentPath, '--data-dir', join(dir, 'data'), '--standalone'],
      ...['--port', '0', '--host', '127.0.0.1', '--no-dht', '--upload-limit', '300K'],
    ],
    env,
  );
  t.after(() => run.child.kill('SIGKILL'));
  await until('share to start', () => /on port \d+/.test(run.output()), 20_000, run.output);
  const port = Number(/on port (\d+)/.exec(run.output())![1]);
  const leecher = await startNode(t);
  const leech = await leecher.add(torrent, {
    downloadDir: join(dir, 'out'),
    peers: [{ host: '127.0.0.1', port }],
  });
  await whenDone(leech);
  await until(
    'the seeding line to count what went out',
    () => /seeding \| ↑ .* \| \d+ peers? \| [\d.]+ (KiB|MiB) sent, ratio 1\.0\d/.test(run.output()),
    10_000,
    run.output,
  );
  run.child.stdin!.write('\x03');
  assert.equal(await run.exited, 0, run.output());
  const out = run.output();
  assert.equal(out.split('magnet:?').length - 1, 1, `one magnet link:\n${out}`);
  assert.ok(
    out.split(/\r?\n|\r/).some((l) => /seeding \| ↑ [\d.]+ KiB\/s \| 1 peer \|/.test(l)),
    'a frame showed the upload rate to 1 peer',
  );
});
