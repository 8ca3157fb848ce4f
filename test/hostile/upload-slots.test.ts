/**
 * Class: peers that flood a seed with requests — reading what it sends or not — must not
 * starve an honest leecher. Request queues are bounded per peer, a peer whose socket does not
 * drain is choked, and upload slots go round the peers that take data.
 */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { parseTorrent } from '../../src/metainfo/parse.js';
import { fixtureTorrent, startNode, whenDone } from '../support/nodes.js';
import { type RawLeecher, startRawLeecher } from '../support/raw-leecher.js';
import { tempDir } from '../support/tmp.js';

const PIECE = 256 * 1024;
const SIZE = 48 * 1024 * 1024;

async function seed(t: TestContext) {
  const dir = await tempDir(t);
  const torrent = await fixtureTorrent(
    dir,
    'flood',
    { 'data.bin': SIZE },
    {
      version: 'v1',
      pieceLength: PIECE,
    },
  );
  const seeder = await startNode(t);
  await seeder.add(torrent, { downloadDir: dir, persist: false });
  return { dir, torrent, seeder, infoHash: parseTorrent(torrent).infoHashV1! };
}

/** Seconds an honest shoal leecher takes to download the torrent from `port`. */
async function honest(t: TestContext, dir: string, torrent: Buffer, port: number, tag: string) {
  const leecher = await startNode(t);
  const started = performance.now();
  const getting = await leecher.add(torrent, {
    downloadDir: `${dir}/${tag}`,
    persist: false,
    peers: [{ host: '127.0.0.1', port }],
  });
  await whenDone(getting, 60_000);
  return (performance.now() - started) / 1000;
}

test('an honest leecher keeps at least half its speed next to 10 request flooders', {
  timeout: 120_000,
}, async (t) => {
  const { dir, torrent, seeder, infoHash } = await seed(t);
  const alone = await honest(t, dir, torrent, seeder.port, 'alone');
  // Ten flooders from another address: each queues 900 requests at once; half never read.
  const pieces = SIZE / PIECE;
  const flooders: RawLeecher[] = [];
  for (let i = 0; i < 10; i++) {
    const order = Array.from({ length: pieces }, (_, k) => (k * 7 + i * 13) % pieces);
    flooders.push(
      await startRawLeecher({
        host: '127.0.0.1',
        port: seeder.port,
        infoHash,
        pieceLength: PIECE,
        totalLength: SIZE,
        order,
        pipeline: 900,
        flood: 900,
        stopReading: i % 2 === 0,
        localAddress: `127.0.0.${20 + i}`,
        peerByte: 0x30 + i,
      }),
    );
  }
  t.after(() => {
    for (const f of flooders) f.close();
  });
  await new Promise((r) => setTimeout(r, 500));
  const flooded = await honest(t, dir, torrent, seeder.port, 'flooded');
  t.diagnostic(
    `honest leecher: alone ${alone.toFixed(2)} s, beside 10 flooders ${flooded.toFixed(2)} s`,
  );
  assert.ok(
    flooded <= 2 * alone + 0.5,
    `alone ${alone.toFixed(2)} s, flooded ${flooded.toFixed(2)} s`,
  );
});
