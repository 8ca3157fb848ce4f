/**
 * Class: one address must not lock others out of a node's connections. Connections from one
 * IP are capped node-wide and per torrent; keep-alives do not keep an idle connection; a full
 * torrent replaces a peer that trades nothing with a newcomer. A full node does not spend a
 * Diffie-Hellman exchange on an encrypted dial it would refuse anyway, and answers a plaintext
 * one with its handshake before it closes, so the dialler backs off instead of trying again.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { parseTorrent } from '../../src/metainfo/parse.js';
import { encodeMessage } from '../../src/wire/messages.js';
import { fixtureTorrent, startNode, whenDone } from '../support/nodes.js';
import { rawHandshake } from '../support/raw-peer.js';
import { tempDir } from '../support/tmp.js';

/** Opens `n` connections from `localAddress` that handshake and then send only keep-alives. */
function holdConnections(
  t: TestContext,
  port: number,
  infoHash: Uint8Array,
  n: number,
  localAddress: string,
): { open(): number } {
  const sockets = new Set<Socket>();
  for (let i = 0; i < n; i++) {
    const s = connect({ host: '127.0.0.1', port, localAddress });
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    s.on('connect', () => {
      sockets.add(s);
      s.write(rawHandshake(infoHash, 0x10 + (i % 200)));
    });
  }
  const keepAlive = setInterval(() => {
    for (const s of sockets) s.write(encodeMessage({ type: 'keep-alive' }));
  }, 500);
  t.after(() => {
    clearInterval(keepAlive);
    for (const s of sockets) s.destroy();
  });
  return { open: () => sockets.size };
}

async function setUp(t: TestContext, swarm: Record<string, number> = {}) {
  const dir = await tempDir(t);
  const torrent = await fixtureTorrent(
    dir,
    'slots',
    { 'data.bin': 4 * 1024 * 1024 },
    { version: 'v1' },
  );
  const seeder = await startNode(t);
  await seeder.add(torrent, { downloadDir: dir, persist: false, swarm });
  return { dir, torrent, seeder, infoHash: parseTorrent(torrent).infoHashV1! };
}

async function honestDownload(t: TestContext, dir: string, torrent: Buffer, port: number) {
  const leecher = await startNode(t);
  const out = join(dir, 'out');
  const getting = await leecher.add(torrent, {
    downloadDir: out,
    persist: false,
    peers: [{ host: '127.0.0.1', port }],
  });
  await whenDone(getting, 30_000);
  const digest = async (p: string) =>
    createHash('sha256')
      .update(await readFile(p))
      .digest('hex');
  assert.equal(
    await digest(join(out, 'slots', 'data.bin')),
    await digest(join(dir, 'slots', 'data.bin')),
  );
}

test('an honest peer connects and downloads while one IP tries to hold 200 connections', {
  timeout: 60_000,
}, async (t) => {
  const { dir, torrent, seeder, infoHash } = await setUp(t);
  const attack = holdConnections(t, seeder.port, infoHash, 200, '127.0.0.2');
  await new Promise((r) => setTimeout(r, 1500));
  assert.ok(
    seeder.connections.size <= seeder.config.maxConnectionsPerIp,
    `one IP holds ${seeder.connections.size} connections`,
  );
  assert.ok(attack.open() < 200);
  await honestDownload(t, dir, torrent, seeder.port);
});

test('a full torrent replaces an idle connection with a newcomer; keep-alives do not count', {
  timeout: 60_000,
}, async (t) => {
  // Ten slots, all taken by one address that only sends keep-alives.
  const { dir, torrent, seeder, infoHash } = await setUp(t, { maxPeers: 10, turnoverIdleMs: 1000 });
  holdConnections(t, seeder.port, infoHash, 10, '127.0.0.3');
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(seeder.list()[0]!.stats().peers, 10, 'the attacker filled the torrent');
  await honestDownload(t, dir, torrent, seeder.port);
});

/**
 * Opens an encrypted (MSE) dial from `localAddress`: sends a 96-byte public key and reports how
 * many bytes the node sent back before it closed or `waitMs` passed.
 */
function mseDial(port: number, localAddress: string, waitMs = 2000): Promise<number> {
  return new Promise((resolve) => {
    let received = 0;
    const s = connect({ host: '127.0.0.1', port, localAddress });
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve(received);
    };
    const timer = setTimeout(done, waitMs);
    s.on('error', () => {});
    s.on('close', done);
    s.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received >= 96) done();
    });
    s.on('connect', () => {
      const publicKey = randomBytes(96);
      publicKey[0] = 0x10; // below the prime
      s.write(publicKey);
    });
  });
}

test('a full torrent closes an encrypted dial before the Diffie-Hellman exchange', {
  timeout: 60_000,
}, async (t) => {
  const { seeder, infoHash } = await setUp(t, { maxPeers: 2, turnoverIdleMs: 3_600_000 });
  assert.ok((await mseDial(seeder.port, '127.0.0.4')) >= 96, 'with room, the node answers');
  holdConnections(t, seeder.port, infoHash, 2, '127.0.0.3');
  for (let i = 0; i < 50 && seeder.list()[0]!.stats().peers < 2; i++)
    await new Promise((r) => setTimeout(r, 100));
  assert.equal(seeder.list()[0]!.stats().peers, 2, 'the torrent is full');
  assert.equal(await mseDial(seeder.port, '127.0.0.4'), 0, 'full: closed with no public key');
});

test('a full torrent answers a plaintext dial with its handshake, then ends the connection', {
  timeout: 60_000,
}, async (t) => {
  const { seeder, infoHash } = await setUp(t, { maxPeers: 2, turnoverIdleMs: 3_600_000 });
  holdConnections(t, seeder.port, infoHash, 2, '127.0.0.3');
  for (let i = 0; i < 50 && seeder.list()[0]!.stats().peers < 2; i++)
    await new Promise((r) => setTimeout(r, 100));
  assert.equal(seeder.list()[0]!.stats().peers, 2, 'the torrent is full');
  const answer = await new Promise<{ bytes: Buffer; ended: boolean }>((resolve) => {
    const chunks: Buffer[] = [];
    let ended = false;
    const s = connect({ host: '127.0.0.1', port: seeder.port, localAddress: '127.0.0.5' });
    const timer = setTimeout(() => s.destroy(), 5000);
    s.on('error', () => {});
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => {
      ended = true;
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ bytes: Buffer.concat(chunks), ended });
    });
    s.on('connect', () => s.write(rawHandshake(infoHash, 0x42)));
  });
  assert.equal(answer.bytes.length, 68, 'its handshake and nothing more');
  assert.equal(answer.bytes.subarray(1, 20).toString('latin1'), 'BitTorrent protocol');
  assert.deepEqual(answer.bytes.subarray(28, 48), Buffer.from(infoHash));
  assert.ok(answer.ended, 'closed with a FIN, after its handshake arrived');
  assert.equal(seeder.list()[0]!.stats().peers, 2, 'nobody was replaced');
});
