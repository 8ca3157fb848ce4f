/**
 * Acceptance: shoal's Message Stream Encryption against aria2 seeding with encryption required
 * (`--bt-require-crypto=true --bt-min-crypto-level=arc4`). shoal dials it with `mseConnect`,
 * gets its BitTorrent handshake and bitfield through RC4 and fetches pieces that verify; a
 * control checks that aria2 really refuses a plaintext handshake. aria2 cannot be told to dial
 * a peer, so only this direction is tested. Everything on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRealRuntime } from '../../src/runtime/real.js';
import { mseConnect } from '../../src/transport/mse/handshake.js';
import type { MseAllow } from '../../src/transport/mse/protocol.js';
import { rawHandshake, sendRaw } from '../support/raw-peer.js';
import {
  copyContent,
  fileScope,
  makeTransferFixture,
  requireTool,
  startAria2,
  type TransferFixture,
  tempDir,
  torrentOf,
} from './helpers.js';
import { fetchPieces, ourHandshake, PeerReader, torrentFacts } from './mse-support.js';

const HOST = '127.0.0.1';
const runtime = createRealRuntime();
const scope = fileScope();
let fixture: Promise<TransferFixture> | undefined;
const getFixture = () => {
  fixture ??= makeTransferFixture(scope, ['v1']);
  return fixture;
};

const REQUIRE_RC4 = ['--bt-require-crypto=true', '--bt-min-crypto-level=arc4'];

async function aria2Seed(t: Parameters<typeof requireTool>[0]) {
  const fx = await getFixture();
  const torrent = torrentOf(fx, 'v1');
  const dir = await tempDir(t, 'shoal-mse-aria2-seed-');
  await copyContent(fx, dir);
  const aria2 = await startAria2(t, { mode: 'seed', torrent, dir, args: REQUIRE_RC4 });
  return { aria2, ...(await torrentFacts(torrent)) };
}

test('aria2 requiring encryption drops a plaintext handshake (control)', {
  timeout: 60_000,
}, async (t) => {
  if (!requireTool(t, 'aria2c')) return;
  const { aria2, infoHash } = await aria2Seed(t);
  const r = await sendRaw(HOST, aria2.port, [rawHandshake(infoHash)], 5000);
  assert.ok(r.closedByPeer, 'aria2 hung up');
  assert.equal(r.received, 0, 'and sent nothing back');
});

for (const allow of ['rc4', 'both'] as MseAllow[]) {
  test(`shoal dials an aria2 seed that requires RC4, offering ${allow}`, {
    timeout: 60_000,
  }, async (t) => {
    if (!requireTool(t, 'aria2c')) return;
    const { aria2, infoHash, pieceLength, pieceHashes } = await aria2Seed(t);
    const socket = await runtime.tcp.connect(HOST, aria2.port, { timeoutMs: 5000 });
    t.after(() => socket.destroy());
    const { stream, encrypted } = await mseConnect(socket, {
      infoHash,
      allow,
      random: runtime.random,
      timers: runtime.timers,
      initialPayload: ourHandshake(infoHash),
    });
    assert.equal(encrypted, true, 'aria2 selects RC4');
    const reader = new PeerReader(stream);
    const got = await reader.until((p) => p.messageIds.includes(5), 15_000);
    assert.ok(got.handshake, 'aria2 answered with its handshake');
    assert.ok(Buffer.from(got.handshake.infoHash).equals(infoHash), 'for our torrent');
    const verified = await fetchPieces(stream, reader, { pieceLength, pieceHashes }, 24);
    t.diagnostic(`aria2 sent messages ${got.messageIds.join(', ')}; ${verified} pieces verified`);
  });
}
