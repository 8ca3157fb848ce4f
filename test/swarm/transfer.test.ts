import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatMagnet, magnetFromMetainfo, parseMagnet } from '../../src/metainfo/magnet.js';
import { fetchMetadata, MetadataError } from '../../src/swarm/metadata-fetcher.js';
import { startCorruptPeer } from '../support/evil-peer.js';
import { fixtureTorrent, plainDial, startNode, whenDone } from '../support/nodes.js';
import { tempDir } from '../support/tmp.js';

const FILES = {
  'a.bin': 300_000,
  'sub/b.bin': 65_536,
  'sub/c.txt': 777,
  'empty.dat': 0,
  'z/last.bin': 123_457,
};

async function sameFiles(fromDir: string, toDir: string): Promise<void> {
  for (const path of Object.keys(FILES)) {
    const a = createHash('sha256')
      .update(await readFile(join(fromDir, path)))
      .digest('hex');
    const b = createHash('sha256')
      .update(await readFile(join(toDir, path)))
      .digest('hex');
    assert.equal(b, a, path);
  }
}

for (const version of ['v1', 'v2', 'hybrid'] as const) {
  test(`shoal to shoal: a multi-file ${version} torrent arrives byte-identical`, async (t) => {
    const dir = await tempDir(t);
    const torrent = await fixtureTorrent(dir, 'set', FILES, { version, pieceLength: 32768 });
    const seeder = await startNode(t);
    const leecher = await startNode(t);
    const seeding = await seeder.add(torrent, { downloadDir: dir });
    assert.equal(seeding.stats().state, 'seeding');
    const out = join(dir, 'out');
    const getting = await leecher.add(torrent, {
      downloadDir: out,
      peers: [{ host: '127.0.0.1', port: seeder.port }],
    });
    await whenDone(getting);
    await sameFiles(join(dir, 'set'), join(out, 'set'));
    const s = getting.stats();
    assert.equal(s.bytesHave, s.totalLength);
    assert.equal(s.wasted, 0);
    assert.ok(seeding.stats().uploaded >= s.totalLength - 32768, 'the seeder counted its upload');
  });
}

test('a peer serving corrupt blocks is banned; the download completes with correct data', async (t) => {
  const dir = await tempDir(t);
  const torrent = await fixtureTorrent(dir, 'set', FILES, {
    version: 'hybrid',
    pieceLength: 16384,
  });
  const evil = await startCorruptPeer('127.0.0.2');
  t.after(() => evil.close());
  const seeder = await startNode(t);
  await seeder.add(torrent, { downloadDir: dir });
  const leecher = await startNode(t);
  const out = join(dir, 'out');
  const banned: string[] = [];
  const getting = await leecher.add(torrent, {
    downloadDir: out,
    peers: [
      { host: '127.0.0.2', port: evil.port },
      { host: '127.0.0.1', port: seeder.port },
    ],
  });
  getting.on('banned', (host) => banned.push(host));
  await whenDone(getting);
  await sameFiles(join(dir, 'set'), join(out, 'set'));
  assert.deepEqual(banned, ['127.0.0.2']);
  const s = getting.stats();
  // Waste is bounded: the evil peer gets at most two strikes' worth of pieces before the ban.
  assert.ok(s.wasted <= 4 * 16384 * 4, `wasted ${s.wasted} bytes`);
  assert.ok(evil.requests() > 0, 'the evil peer was actually asked');
});

test('a magnet link is enough: metadata comes from the peer (BEP 9), then the data', async (t) => {
  const dir = await tempDir(t);
  const torrent = await fixtureTorrent(dir, 'set', FILES, {
    version: 'hybrid',
    pieceLength: 16384,
    trackers: ['http://127.0.0.1:9/announce'],
  });
  const seeder = await startNode(t);
  const seeding = await seeder.add(torrent, { downloadDir: dir });
  const leecher = await startNode(t);
  const link = parseMagnet(
    `${formatMagnet(magnetFromMetainfo(seeding.meta))}&x.pe=127.0.0.1:${seeder.port}`,
  );
  const out = join(dir, 'out');
  const getting = await leecher.addMagnet(link, { downloadDir: out });
  assert.deepEqual(getting.meta.infoHashV2, seeding.meta.infoHashV2);
  assert.deepEqual(getting.meta.announce, [['http://127.0.0.1:9/announce']]);
  await whenDone(getting);
  await sameFiles(join(dir, 'set'), join(out, 'set'));
});

test('metadata that does not match the info-hash is refused', async (t) => {
  const dir = await tempDir(t);
  const seeder = await startNode(t);
  const real = await seeder.add(await fixtureTorrent(dir, 'set', FILES, { pieceLength: 16384 }), {
    downloadDir: dir,
  });
  const leecher = await startNode(t);
  const forged = {
    ...magnetFromMetainfo(real.meta),
    infoHashV1: Buffer.alloc(20, 1),
    infoHashV2: undefined,
    peers: [{ host: '127.0.0.1', port: seeder.port }],
  };
  await assert.rejects(
    fetchMetadata(leecher.runtime, {
      infoHashV1: forged.infoHashV1,
      peers: forged.peers,
      peerId: leecher.peerId,
      dial: plainDial(leecher.runtime),
      timeoutMs: 1500,
    }),
    MetadataError,
  );
});

test('PEX: leechers that only know the seeder learn of each other (BEP 11)', async (t) => {
  const dir = await tempDir(t);
  const torrent = await fixtureTorrent(dir, 'set', FILES, { pieceLength: 16384 });
  const swarm = { pexIntervalMs: 500 };
  const seeder = await startNode(t, { uploadLimit: 100_000 });
  await seeder.add(torrent, { downloadDir: dir, swarm });
  const a = await startNode(t, { host: '127.0.0.5' });
  const b = await startNode(t, { host: '127.0.0.6' });
  const seederAt = [{ host: '127.0.0.1', port: seeder.port }];
  const ta = await a.add(torrent, { downloadDir: join(dir, 'a'), peers: seederAt, swarm });
  const tb = await b.add(torrent, { downloadDir: join(dir, 'b'), peers: seederAt, swarm });
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && !ta.peerAddresses().includes(`127.0.0.6:${b.port}`)) {
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(
    ta.peerAddresses().includes(`127.0.0.6:${b.port}`),
    `A is connected to ${ta.peerAddresses()}`,
  );
  assert.ok(
    tb.peerAddresses().some((p) => p.startsWith('127.0.0.5')),
    'and B to A',
  );
});
