/**
 * Hostile class: peers that stand between a magnet link and its metadata (BEP 9) — silent
 * ones, ones that handshake and never answer, liars, floods — in any number and order.
 * Bounds: the metadata comes from the honest peer within seconds whatever is listed before it
 * (3 stallers: under 5 s; 100 silent peers: under 30 s, against a 60 s fetch deadline); a peer
 * whose metadata does not hash to the info-hash, or that sends more than twice the metadata, is
 * dropped and the result is always the verified info dictionary.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { sha1 } from '../../src/crypto/hash.js';
import { parseMagnet } from '../../src/metainfo/magnet.js';
import { EgressPolicy } from '../../src/runtime/egress.js';
import { createRealRuntime } from '../../src/runtime/real.js';
import { fetchMetadata, type MetadataProgress } from '../../src/swarm/metadata-fetcher.js';
import type { Torrent } from '../../src/swarm/torrent.js';
import { startFakeMetadataPeer } from '../support/metadata-peers.js';
import { fixtureTorrent, startNode, whenDone } from '../support/nodes.js';
import { tcpDialer } from '../support/tcp-dialer.js';
import { tempDir } from '../support/tmp.js';

const runtime = createRealRuntime(new EgressPolicy('loopback'));

async function seed(t: TestContext): Promise<{ seeding: Torrent; port: number; dir: string }> {
  const dir = await tempDir(t);
  const torrent = await fixtureTorrent(
    dir,
    'set',
    { 'a.bin': 200_000, 'b.txt': 999 },
    {
      pieceLength: 16384,
    },
  );
  const seeder = await startNode(t);
  const seeding = await seeder.add(torrent, { downloadDir: dir });
  return { seeding, port: seeder.port, dir };
}

/** A magnet link for `seeding` naming `peers` (in this order) as x.pe. */
function magnet(seeding: Torrent, peers: readonly { host: string; port: number }[]) {
  const hash = seeding.meta.infoHashV1!.toString('hex');
  return parseMagnet(
    `magnet:?xt=urn:btih:${hash}${peers.map((p) => `&x.pe=${p.host}:${p.port}`).join('')}`,
  );
}

test('3 silent peers and one that never answers ut_metadata, listed first, do not stall a magnet', async (t) => {
  const { seeding, port, dir } = await seed(t);
  const size = seeding.meta.infoBytes.length;
  const stallers = [
    await startFakeMetadataPeer(t, 'silent', '127.0.20.1', size),
    await startFakeMetadataPeer(t, 'silent', '127.0.20.2', size),
    await startFakeMetadataPeer(t, 'silent', '127.0.20.3', size),
    await startFakeMetadataPeer(t, 'mute', '127.0.20.4', size),
  ];
  const leecher = await startNode(t);
  const started = Date.now();
  const getting = await leecher.addMagnet(
    magnet(seeding, [...stallers, { host: '127.0.0.1', port }]),
    { downloadDir: join(dir, 'out') },
  );
  const ms = Date.now() - started;
  console.log(`metadata after ${ms} ms with 4 stallers listed first`);
  assert.deepEqual(getting.meta.infoHashV1, seeding.meta.infoHashV1);
  assert.ok(ms < 5000, `metadata took ${ms} ms`);
  assert.ok(
    stallers.every((s) => s.connections() > 0),
    'the stallers were asked too (in parallel)',
  );
  await whenDone(getting, 20_000);
});

test('a liar and a flood are dropped; the honest peer, appearing later, gives the metadata', async (t) => {
  const { seeding, port } = await seed(t);
  const size = seeding.meta.infoBytes.length;
  const liar = await startFakeMetadataPeer(t, 'liar', '127.0.22.1', size);
  const flood = await startFakeMetadataPeer(t, 'flood', '127.0.22.2', size);
  const { dialer } = tcpDialer(t, runtime, 'prefer');
  const peers = [liar, flood];
  // The honest peer turns up a second later (as from the DHT or a tracker).
  const late = setTimeout(
    () => peers.push({ host: '127.0.0.1', port, connections: () => 0, open: () => 0 }),
    1000,
  );
  t.after(() => clearTimeout(late));
  const events: MetadataProgress[] = [];
  const started = Date.now();
  const info = await fetchMetadata(runtime, {
    infoHashV1: seeding.meta.infoHashV1!,
    peers: () => peers,
    peerId: Buffer.alloc(20, 7),
    dial: (request) => dialer.dial(request),
    onProgress: (p) => events.push(p),
  });
  console.log(`metadata after ${Date.now() - started} ms`);
  assert.ok(sha1(info).equals(seeding.meta.infoHashV1!), 'the verified info dictionary');
  const failures = events.filter((e) => e.event === 'failed');
  const liarFailure = failures.find((e) => e.peer === `127.0.22.1:${liar.port}`);
  const floodFailure = failures.find((e) => e.peer === `127.0.22.2:${flood.port}`);
  assert.match(liarFailure?.reason ?? '', /does not match the info-hash/);
  assert.match(floodFailure?.reason ?? '', /more than the metadata needs/);
  // One encrypted opening (closed by the plaintext-only fake), one plaintext exchange.
  assert.equal(liar.connections(), 2, 'a liar is not asked again');
  assert.equal(failures.filter((e) => e.peer === liarFailure?.peer).length, 1);
  assert.equal(events.at(-1)?.event, 'done');
  assert.equal(events.at(-1)?.peer, `127.0.0.1:${port}`);
  assert.ok(Date.now() - started < 10_000);
});

test('a flood of 100 silent peers listed first: the metadata still comes within 30 s', async (t) => {
  const { seeding, port, dir } = await seed(t);
  const size = seeding.meta.infoBytes.length;
  const silent = await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      startFakeMetadataPeer(t, i % 10 === 0 ? 'mute' : 'silent', `127.0.21.${i + 1}`, size),
    ),
  );
  const leecher = await startNode(t);
  const started = Date.now();
  const getting = await leecher.addMagnet(magnet(seeding, []), {
    downloadDir: join(dir, 'out'),
    peers: [...silent, { host: '127.0.0.1', port }],
  });
  const ms = Date.now() - started;
  const asked = silent.filter((s) => s.connections() > 0).length;
  console.log(`metadata after ${ms} ms behind 100 silent peers (${asked} of them asked)`);
  assert.deepEqual(getting.meta.infoHashV1, seeding.meta.infoHashV1);
  assert.ok(ms < 30_000, `metadata took ${ms} ms`);
  await whenDone(getting, 20_000);
});
