/**
 * `transmission-remote` (Debian's transmission-cli) drives a real `shoal start` through the
 * Transmission RPC: adds a magnet (whose `x.pe` names a loopback shoal seeder), lists it with
 * progress rising to 100%, stops, starts, shows details and files, and removes it with its
 * data; with a password configured it needs `--auth`.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  makeTransferFixture,
  type Proc,
  requireTool,
  run,
  shoalSeed,
  startShoal,
  tempDir,
  torrentOf,
  waitUntil,
} from './helpers.js';

const REMOTE = 'transmission-remote';

/** Starts `shoal start` with its API on a free loopback port; resolves with the API address. */
async function startDaemon(
  t: Parameters<typeof tempDir>[0],
  config: Record<string, unknown>,
): Promise<{ proc: Proc; api: string; downloads: string }> {
  const dataDir = await tempDir(t, 'shoal-daemon-');
  const downloads = join(dataDir, 'downloads');
  await writeFile(
    join(dataDir, 'config.json'),
    JSON.stringify({ downloadDir: downloads, ...config }),
  );
  const proc = startShoal(
    t,
    [
      'start',
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--no-dht',
      '--data-dir',
      dataDir,
      '--api-port',
      '0',
      '--json',
    ],
    { name: 'shoal start' },
  );
  const started = await proc.waitForEvent('started', 20_000);
  return { proc, api: new URL(started.api as string).host, downloads };
}

/** One row of `transmission-remote -l`. */
interface ListRow {
  readonly id: number;
  readonly done: string;
  readonly status: string;
  readonly name: string;
}

function parseList(stdout: string): ListRow[] {
  const rows: ListRow[] = [];
  for (const line of stdout.split('\n')) {
    const m =
      /^\s*(\d+)\*?\s+(\d+%|n\/a)\s+.*?\s(Idle|Downloading|Seeding|Stopped|Finished|Up & Down|Verifying|Will Verify|Queued)\s+(.+)$/.exec(
        line,
      );
    if (m) rows.push({ id: Number(m[1]), done: m[2]!, status: m[3]!, name: m[4]!.trim() });
  }
  return rows;
}

test('transmission-remote adds a magnet, lists progress, stops, starts and removes it', async (t) => {
  if (!requireTool(t, REMOTE, [REMOTE, '--version'])) return;
  const fixture = await makeTransferFixture(t, ['v1']);
  const seeder = await shoalSeed(t, fixture, torrentOf(fixture, 'v1'), {
    host: '127.0.0.1',
    args: ['--no-dht', '--upload-limit', '1M'],
  });
  const daemon = await startDaemon(t, {});
  const remote = (...args: string[]) => run(REMOTE, [daemon.api, ...args]);
  const hash = fixture.infoHashes.v1!.v1!;
  const info = { infoHashV1: hash, name: fixture.name };
  const magnet = `magnet:?xt=urn:btih:${hash}&dn=${fixture.name}&x.pe=127.0.0.1:${seeder.port}`;

  const added = await remote('-a', magnet);
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stdout, /responded: "success"/);

  // Progress rises to 100%, seen through -l.
  const seen = new Set<string>();
  await waitUntil(
    'the torrent to reach 100% in transmission-remote -l',
    async () => {
      const list = await remote('-l');
      const row = parseList(list.stdout).find((r) => r.name === info.name);
      if (row) seen.add(row.done);
      return row?.done === '100%' ? row : undefined;
    },
    60_000,
    {
      intervalMs: 200,
      abort: () => (daemon.proc.exitCode !== undefined ? 'the daemon exited' : undefined),
      detail: () => daemon.proc.tail(),
    },
  );
  assert.ok(seen.size >= 2, `progress was seen rising: ${[...seen].join(', ')}`);
  const id = parseList((await remote('-l')).stdout)[0]!.id;

  const stop = await remote('-t', String(id), '-S');
  assert.match(stop.stdout, /success/);
  assert.match(parseList((await remote('-l')).stdout)[0]!.status, /Stopped|Finished/);
  const start = await remote('-t', String(id), '-s');
  assert.match(start.stdout, /success/);
  assert.match(parseList((await remote('-l')).stdout)[0]!.status, /Idle|Seeding/);

  const details = await remote('-t', String(id), '-i');
  assert.match(details.stdout, new RegExp(`Hash: ${info.infoHashV1}`));
  assert.match(details.stdout, /Percent Done: 100%/);
  const files = await remote('-t', String(id), '-f');
  for (const path of fixture.files.keys())
    assert.ok(files.stdout.includes(path.split('/').pop()!), `${path} listed:\n${files.stdout}`);
  const session = await remote('-si');
  assert.match(session.stdout, /RPC version: 16/);

  const dataPath = join(daemon.downloads, info.name);
  assert.ok(existsSync(dataPath), 'the download is on disk');
  const removed = await remote('-t', String(id), '--remove-and-delete');
  assert.match(removed.stdout, /success/);
  assert.deepEqual(parseList((await remote('-l')).stdout), []);
  await waitUntil('the data to be deleted', () => (existsSync(dataPath) ? undefined : true), 5000);
});

test('with a password, transmission-remote needs --auth', async (t) => {
  if (!requireTool(t, REMOTE, [REMOTE, '--version'])) return;
  const daemon = await startDaemon(t, { api: { user: 'alice', password: 'open sesame' } });
  const refused = await run(REMOTE, [daemon.api, '-l']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr + refused.stdout, /401|Unauthorized/i);
  const wrong = await run(REMOTE, [daemon.api, '--auth', 'alice:nope', '-l']);
  assert.notEqual(wrong.code, 0);
  const ok = await run(REMOTE, [daemon.api, '--auth', 'alice:open sesame', '-l']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /ID\s+Done/);
});

test('transmission-remote sets seeding ratio limits per torrent and for the session', async (t) => {
  if (!requireTool(t, REMOTE, [REMOTE, '--version'])) return;
  const fixture = await makeTransferFixture(t, ['v1']);
  const daemon = await startDaemon(t, {});
  const remote = (...args: string[]) => run(REMOTE, [daemon.api, ...args]);
  const added = await remote('-a', torrentOf(fixture, 'v1'), '-w', fixture.root);
  assert.match(added.stdout, /success/, added.stderr);
  const id = String(parseList((await remote('-l')).stdout)[0]!.id);

  assert.match((await remote('-t', id, '-sr', '1.5')).stdout, /success/);
  assert.match((await remote('-t', id, '-i')).stdout, /Ratio Limit: 1\.5/);
  assert.match((await remote('-t', id, '-SR')).stdout, /success/);
  assert.match((await remote('-t', id, '-i')).stdout, /Ratio Limit: Unlimited/);
  assert.match((await remote('-t', id, '-srd')).stdout, /success/);
  assert.match((await remote('-gsr', '3')).stdout, /success/);
  const session = await remote('-si');
  assert.match(session.stdout, /Default seed ratio limit: 3\.0\b/);
  assert.match((await remote('-t', id, '-i')).stdout, /Ratio Limit: Default/);
  assert.match((await remote('-GSR')).stdout, /success/);
  assert.match((await remote('-si')).stdout, /Default seed ratio limit: Unlimited/);
});
