import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Dht } from '../../src/dht/dht.js';
import { formatMagnet } from '../../src/metainfo/magnet.js';
import { EgressPolicy } from '../../src/runtime/egress.js';
import { createRealRuntime } from '../../src/runtime/real.js';
import { fixtureTorrent, startNode } from '../support/nodes.js';
import { tempDir } from '../support/tmp.js';

const CLI = fileURLToPath(new URL('../../src/bin/shoal.js', import.meta.url));
const runtime = createRealRuntime(new EgressPolicy('loopback'));

test('shoal get with a bare magnet link finds a seeder through a private 50-node DHT', async (t) => {
  const dir = await tempDir(t);
  const nodes: Dht[] = [];
  t.after(() => Promise.all(nodes.map((d) => d.stop())));
  for (let i = 0; i < 50; i++) {
    const bootstrap = i === 0 ? [] : [{ host: '127.0.3.1', port: nodes[0]!.port }];
    nodes.push(
      await Dht.start(runtime, {
        host: `127.0.3.${i + 1}`,
        port: 0,
        bootstrap,
        queryTimeoutMs: 1000,
      }),
    );
  }
  // The nodes join one after another, as a network grows. Had all 50 joined at the same instant,
  // none would know the network yet, and groups of nodes would stay unaware of whole quarters
  // of the id space until their first bucket refresh: lookups from such a group (the seeder's
  // announce, the leecher's search) then end among themselves, and the test failed about one
  // run in four.
  for (const d of nodes) await d.bootstrap();
  const bootstrap = `127.0.3.1:${nodes[0]!.port}`;

  const torrent = await fixtureTorrent(
    dir,
    'film',
    { 'film.mkv': 700_000, 'subs.srt': 3_000 },
    { pieceLength: 32768 },
  );
  const seeder = await startNode(t, { host: '127.0.3.100', dht: true, dhtBootstrap: [bootstrap] });
  const seeding = await seeder.add(torrent, { downloadDir: dir });
  // Wait until the seeder's announce reached the DHT.
  const hash = seeding.meta.infoHashV1!;
  for (let i = 0; i < 50 && (await nodes[30]!.getPeers(hash)).peers.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 200));
  }
  const magnet = formatMagnet({ infoHashV1: hash, trackers: [], webSeeds: [], peers: [] });
  assert.doesNotMatch(magnet, /tr=|x\.pe=/);
  const out = join(dir, 'out');
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      CLI,
      'get',
      magnet,
      '-o',
      out,
      '--dht-bootstrap',
      bootstrap,
      '--host',
      '127.0.3.101',
      '--port',
      '0',
      '--data-dir',
      join(dir, 'd'),
      '--json',
    ],
    { timeout: 60_000, env: { ...process.env, SHOAL_EGRESS: 'loopback' } },
  ).catch((error: { stdout?: string; stderr?: string; message: string }) => {
    throw new Error(
      `${error.message}\nstdout: ${error.stdout
        ?.split('\n')
        .filter((l) => !l.includes('"progress"'))
        .join('\n')}\nstderr: ${error.stderr}`,
    );
  });
  assert.match(stdout, /"event":"done"/);
  for (const f of ['film.mkv', 'subs.srt']) {
    assert.deepEqual(await readFile(join(out, 'film', f)), await readFile(join(dir, 'film', f)), f);
  }
});
