import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { fixtureTorrent, startNode } from '../support/nodes.js';
import { tempDir } from '../support/tmp.js';

const CLI = fileURLToPath(new URL('../../src/bin/shoal.js', import.meta.url));
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a blocked address is never dialled and its connections are refused, and counted', async (t) => {
  const dir = await tempDir(t);
  const listPath = join(dir, 'list.p2p');
  await writeFile(listPath, '# test list\nLocal seeder:127.0.7.2-127.0.7.2\n');
  const torrent = await fixtureTorrent(dir, 'content', { 'a.bin': 100_000 });
  const seeder = await startNode(t, { host: '127.0.7.2' });
  await seeder.add(torrent, { downloadDir: dir });
  const leecher = await startNode(t, { host: '127.0.7.1', blocklist: listPath });
  assert.equal(leecher.blocklist?.list.size, 1);
  const leech = await leecher.add(torrent, {
    downloadDir: join(dir, 'out'),
    peers: [{ host: '127.0.7.2', port: seeder.port }],
  });
  // The seeder is told of the leecher too: its dial is refused at the leecher's door.
  seeder.get(leech.infoHashHex)!.addPeer('127.0.7.1', leecher.port, true);
  await delay(2500);
  assert.equal(leech.stats().piecesHave, 0);
  assert.equal(leecher.connections.counters.dialled, 0, 'never dialled');
  assert.ok(leecher.connections.counters.refused.blocked >= 1, 'the inbound one was refused');
  const text = leecher.metrics.exposition();
  assert.match(text, /shoal_blocklist_ranges 1\b/);
  assert.match(text, /shoal_connections_total\{direction="any",outcome="refused_blocked"\} [1-9]/);
});

test('a gzipped list from a URL is loaded, kept, and used again when the URL is unreachable', async (t) => {
  const dir = await tempDir(t);
  const body = gzipSync('a:10.0.0.0-10.0.0.255\nb:10.0.1.0-10.0.1.255\n');
  const server = createServer((_req, res) => res.end(body));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/list.gz`;
  const dataDir = join(dir, 'data');
  const first = await startNode(t, { dataDir, blocklist: url });
  assert.equal(first.blocklist?.list.size, 1, 'adjacent ranges merge');
  assert.ok(first.blocklist?.list.has('10.0.1.9'));
  assert.equal(first.blocklist?.staleBecause, undefined);
  await first.stop();
  await new Promise((r) => server.close(r));
  const again = await startNode(t, { dataDir, blocklist: url });
  assert.ok(again.blocklist?.list.has('10.0.0.1'), 'the kept copy');
  assert.match(again.blocklist?.staleBecause ?? '', /ECONNREFUSED|refused/i);
});

test('shoal start --blocklist: says what it loaded, or why it cannot, in one line', async (t) => {
  const dir = await tempDir(t);
  const bad = join(dir, 'bad.txt');
  await writeFile(bad, 'nothing useful here\n');
  const run = (list: string) =>
    promisify(execFile)(
      process.execPath,
      [
        CLI,
        'start',
        '--port',
        '0',
        '--no-dht',
        '--no-api',
        '--data-dir',
        join(dir, 'd'),
        '--blocklist',
        list,
      ],
      { env: { ...process.env, SHOAL_EGRESS: 'loopback' }, timeout: 20_000 },
    ).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
  const r = await run(bad);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^shoal: the blocklist .*bad\.txt holds no address range/m);
  const missing = await run(join(dir, 'nope.txt'));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read the blocklist .*nope\.txt/);
});
