/**
 * `/metrics` of a real `shoal start`, scraped while it downloads from a loopback seeder, passes
 * Prometheus' own linter (`promtool check metrics`, Debian's prometheus package).
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { EgressPolicy } from '../../src/runtime/egress.js';
import { httpCall } from '../../src/runtime/http-server.js';
import {
  makeTransferFixture,
  requireTool,
  run,
  shoalSeed,
  startShoal,
  tempDir,
  torrentOf,
  waitUntil,
} from './helpers.js';

const egress = new EgressPolicy('loopback');

test('promtool check metrics passes on /metrics scraped during a download', async (t) => {
  if (!requireTool(t, 'promtool', ['promtool', '--version'])) return;
  const fixture = await makeTransferFixture(t, ['v1']);
  const seeder = await shoalSeed(t, fixture, torrentOf(fixture, 'v1'), {
    host: '127.0.0.1',
    args: ['--no-dht', '--upload-limit', '512K'],
  });
  const dataDir = await tempDir(t, 'shoal-daemon-');
  await writeFile(
    join(dataDir, 'config.json'),
    JSON.stringify({ downloadDir: join(dataDir, 'downloads') }),
  );
  const daemon = startShoal(
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
    ],
    { name: 'shoal start' },
  );
  const started = await daemon.waitForLine(/web UI and API on (http:\/\/\S+);/, 20_000);
  const api = started[1]!;
  const token = (await readFile(join(dataDir, 'api-token'), 'utf8')).trim();
  const hash = fixture.infoHashes.v1!.v1!;
  const add = await httpCall(egress, {
    method: 'POST',
    url: `${api}/api/torrents`,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ magnet: `magnet:?xt=urn:btih:${hash}&x.pe=127.0.0.1:${seeder.port}` }),
    timeoutMs: 5000,
    maxBytes: 1 << 20,
  });
  assert.equal(add.status, 202, add.body.toString());
  const scrape = await waitUntil(
    'a scrape taken mid-download',
    async () => {
      const res = await httpCall(egress, {
        method: 'GET',
        url: `${api}/metrics`,
        timeoutMs: 5000,
        maxBytes: 1 << 20,
      });
      const text = res.body.toString('utf8');
      const downloading = /^shoal_torrents_by_state\{state="downloading"\} 1$/m.test(text);
      const bytes = Number(
        /^shoal_payload_bytes_total\{direction="in"\} (\d+)/m.exec(text)?.[1] ?? 0,
      );
      return downloading && bytes > 0 ? text : undefined;
    },
    30_000,
    { intervalMs: 100, detail: () => daemon.tail() },
  );
  const checked = await run('promtool', ['check', 'metrics'], { input: scrape });
  assert.equal(checked.code, 0, `${checked.stdout}${checked.stderr}\n${scrape}`);
  assert.equal(checked.stdout.trim() + checked.stderr.trim(), '', 'no lint warnings');
});
