import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { encodeMessage } from '../../src/wire/messages.js';
import { startFakeSeed } from '../support/evil-peer.js';
import { fixtureTorrent, startNode, whenDone } from '../support/nodes.js';
import { rawHandshake, sendRaw } from '../support/raw-peer.js';
import { tempDir } from '../support/tmp.js';

test('hostile peers are disconnected and memory stays bounded, while honest transfer goes on', async (t) => {
  const dir = await tempDir(t);
  const torrent = await fixtureTorrent(
    dir,
    'big',
    { 'data.bin': 2_000_000 },
    { pieceLength: 32768 },
  );
  const seeder = await startNode(t);
  const seeding = await seeder.add(torrent, { downloadDir: dir });
  const hash = seeding.handshakeHashes[0]!;
  const port = seeder.port;
  const heapBefore = process.memoryUsage().heapUsed;

  const request = encodeMessage({ type: 'request', index: 0, begin: 0, length: 16384 });
  const flood = Buffer.concat(Array.from({ length: 5000 }, () => request));
  const attacks: [string, Uint8Array[]][] = [
    ['request flood', [rawHandshake(hash), encodeMessage({ type: 'interested' }), flood]],
    ['oversized message', [rawHandshake(hash), Buffer.from('7fffffff', 'hex'), Buffer.alloc(1000)]],
    ['malformed have', [rawHandshake(hash), Buffer.from('000000030400ff', 'hex')]],
    [
      'bitfield of the wrong size',
      [rawHandshake(hash), encodeMessage({ type: 'bitfield', bits: Buffer.alloc(2000, 0xff) })],
    ],
    ['have out of range', [rawHandshake(hash), encodeMessage({ type: 'have', index: 1_000_000 })]],
    [
      'request beyond the piece',
      [
        rawHandshake(hash),
        encodeMessage({ type: 'request', index: 0, begin: 32768, length: 16384 }),
      ],
    ],
    ['garbage instead of a handshake', [Buffer.alloc(200, 0x41)]],
    ['unknown torrent', [rawHandshake(Buffer.alloc(20, 9))]],
  ];

  // An honest leecher downloads at the same time.
  const leecher = await startNode(t);
  const out = join(dir, 'out');
  const getting = await leecher.add(torrent, {
    downloadDir: out,
    peers: [{ host: '127.0.0.1', port }],
  });
  // Bytes that are not a BitTorrent handshake may be an encrypted (MSE) one, whose first 628
  // bytes can be anything: such a peer is closed when the handshake deadline (10 s) passes.
  const results = await Promise.all(
    attacks.map(([name, chunks]) =>
      sendRaw('127.0.0.1', port, chunks, name.startsWith('garbage') ? 15_000 : 5000),
    ),
  );
  for (const [i, [name]] of attacks.entries()) {
    assert.equal(results[i]!.closedByPeer, true, `${name} was not disconnected`);
  }
  await whenDone(getting);
  const want = createHash('sha256')
    .update(await readFile(join(dir, 'big', 'data.bin')))
    .digest('hex');
  const got = createHash('sha256')
    .update(await readFile(join(out, 'big', 'data.bin')))
    .digest('hex');
  assert.equal(got, want);
  const growth = process.memoryUsage().heapUsed - heapBefore;
  assert.ok(growth < 64 * 1024 * 1024, `heap grew by ${growth} bytes`);
});

test('a peer that lies in its bitfield and stalls is dropped; others finish the download', async (t) => {
  const dir = await tempDir(t);
  const torrent = await fixtureTorrent(dir, 'd', { 'x.bin': 500_000 }, { pieceLength: 16384 });
  const seeder = await startNode(t, { uploadLimit: 100_000 });
  await seeder.add(torrent, { downloadDir: dir });
  // The liar: claims every piece, unchokes, and never answers.
  const liar = await startFakeSeed('127.0.0.3', () => {});
  t.after(() => liar.close());
  const liarPort = liar.port;
  const leecher = await startNode(t);
  const getting = await leecher.add(torrent, {
    downloadDir: join(dir, 'out'),
    peers: [
      { host: '127.0.0.3', port: liarPort },
      { host: '127.0.0.1', port: seeder.port },
    ],
    swarm: { requestTimeoutMs: 1000 },
  });
  await whenDone(getting, 60_000);
  const doneAt = performance.now();
  const liarClosedAt = liar.closedAt();
  assert.ok(
    liarClosedAt !== undefined && liarClosedAt < doneAt,
    'the staller was disconnected before the download ended',
  );
  assert.equal(getting.stats().wasted, 0);
});
