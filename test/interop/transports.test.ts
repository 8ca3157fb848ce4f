/**
 * Acceptance: shoal reaches the peers real users run — over uTP and with protocol encryption
 * (MSE/PE) — through its node, not only its codecs. libtorrent with TCP off (uTP only) downloads
 * from a shoal seed and seeds to a shoal leecher; libtorrent with encryption forced both ways
 * does the same; aria2 requiring RC4 seeds to shoal. Files come out byte-identical, and shoal's
 * `--json` progress lines say how each peer is connected.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertSameContent,
  copyContent,
  fileScope,
  makeTransferFixture,
  requireTool,
  shoalFetch,
  shoalSeed,
  startAria2,
  startLibtorrent,
  type TransferFixture,
  tempDir,
  torrentOf,
} from './helpers.js';

const HOST = '127.0.0.1';
const scope = fileScope();
let fixture: Promise<TransferFixture> | undefined;
const getFixture = () => {
  fixture ??= makeTransferFixture(scope, ['v1']);
  return fixture;
};

/** libtorrent settings for "require encryption" both ways, RC4 only (enc_level 1 plaintext, 2 rc4, 3 both). */
const FORCED_RC4 = { in_enc_policy: 0, out_enc_policy: 0, allowed_enc_level: 2 };

/** The peers a finished `shoal get` reported (`peer` lines, one per handshake). */
function peersSeen(lines: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  return lines.filter((l) => l.event === 'peer');
}

test('libtorrent over uTP only downloads from a shoal seed', { timeout: 90_000 }, async (t) => {
  if (!requireTool(t, 'libtorrent')) return;
  const fx = await getFixture();
  const torrent = torrentOf(fx, 'v1');
  const seed = await shoalSeed(t, fx, torrent, { host: HOST });
  const saveDir = await tempDir(t, 'shoal-utp-leech-');
  const lt = await startLibtorrent(t, {
    mode: 'leech',
    torrent,
    savePath: saveDir,
    host: HOST,
    peers: [`${HOST}:${seed.port}`],
    timeoutSeconds: 60,
    utpOnly: true,
  });
  const code = await lt.proc.waitExit(70_000);
  assert.equal(code, 0, `libtorrent did not finish\n${lt.proc.tail()}\n${seed.proc.tail()}`);
  await assertSameContent(fx, saveDir);
});

test('shoal downloads from a libtorrent seed that speaks uTP only', {
  timeout: 90_000,
}, async (t) => {
  if (!requireTool(t, 'libtorrent')) return;
  const fx = await getFixture();
  const torrent = torrentOf(fx, 'v1');
  const seedDir = await tempDir(t, 'shoal-utp-seed-');
  await copyContent(fx, seedDir);
  const lt = await startLibtorrent(t, {
    mode: 'seed',
    torrent,
    savePath: seedDir,
    host: HOST,
    utpOnly: true,
  });
  const saveDir = await tempDir(t, 'shoal-utp-get-');
  // Default policy: TCP first; libtorrent takes no TCP, so shoal must fall back to uTP.
  const result = await shoalFetch(t, torrent, saveDir, {
    host: HOST,
    peers: [`${HOST}:${lt.port}`],
    timeoutMs: 60_000,
  });
  await assertSameContent(fx, saveDir);
  const peers = peersSeen(result.proc.events());
  assert.ok(
    peers.some((p) => p.transport === 'utp'),
    `no peer over uTP in ${JSON.stringify(peers.slice(0, 3))}`,
  );
});

test('libtorrent requiring encryption downloads from a shoal seed', {
  timeout: 90_000,
}, async (t) => {
  if (!requireTool(t, 'libtorrent')) return;
  const fx = await getFixture();
  const torrent = torrentOf(fx, 'v1');
  const seed = await shoalSeed(t, fx, torrent, { host: HOST });
  const saveDir = await tempDir(t, 'shoal-enc-leech-');
  const lt = await startLibtorrent(t, {
    mode: 'leech',
    torrent,
    savePath: saveDir,
    host: HOST,
    peers: [`${HOST}:${seed.port}`],
    timeoutSeconds: 60,
    settings: FORCED_RC4,
  });
  const code = await lt.proc.waitExit(70_000);
  assert.equal(code, 0, `libtorrent did not finish\n${lt.proc.tail()}\n${seed.proc.tail()}`);
  await assertSameContent(fx, saveDir);
});

test('shoal downloads from a libtorrent seed requiring encryption; peers show RC4', {
  timeout: 90_000,
}, async (t) => {
  if (!requireTool(t, 'libtorrent')) return;
  const fx = await getFixture();
  const torrent = torrentOf(fx, 'v1');
  const seedDir = await tempDir(t, 'shoal-enc-seed-');
  await copyContent(fx, seedDir);
  const lt = await startLibtorrent(t, {
    mode: 'seed',
    torrent,
    savePath: seedDir,
    host: HOST,
    settings: FORCED_RC4,
  });
  const saveDir = await tempDir(t, 'shoal-enc-get-');
  const result = await shoalFetch(t, torrent, saveDir, {
    host: HOST,
    peers: [`${HOST}:${lt.port}`],
    timeoutMs: 60_000,
    args: ['--encryption', 'require'],
  });
  await assertSameContent(fx, saveDir);
  const peers = peersSeen(result.proc.events());
  assert.ok(
    peers.length > 0 && peers.every((p) => p.encrypted === true),
    `peers not all encrypted: ${JSON.stringify(peers.slice(0, 3))}`,
  );
});

test('shoal downloads from aria2 requiring RC4', { timeout: 90_000 }, async (t) => {
  if (!requireTool(t, 'aria2c')) return;
  const fx = await getFixture();
  const torrent = torrentOf(fx, 'v1');
  const seedDir = await tempDir(t, 'shoal-aria2-enc-seed-');
  await copyContent(fx, seedDir);
  const aria2 = await startAria2(t, {
    mode: 'seed',
    torrent,
    dir: seedDir,
    args: ['--bt-require-crypto=true', '--bt-min-crypto-level=arc4'],
  });
  const saveDir = await tempDir(t, 'shoal-aria2-enc-get-');
  const result = await shoalFetch(t, torrent, saveDir, {
    host: HOST,
    peers: [`${HOST}:${aria2.port}`],
    timeoutMs: 60_000,
  });
  await assertSameContent(fx, saveDir);
  const peers = peersSeen(result.proc.events());
  assert.ok(
    peers.some((p) => p.encrypted === true),
    `no encrypted peer: ${JSON.stringify(peers.slice(0, 3))}`,
  );
});
