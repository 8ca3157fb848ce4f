/**
 * Acceptance: shoal and rtorrent (libtorrent-rakshasa, Debian's `rtorrent`) move real content
 * between them, in both directions, in plaintext and with rtorrent requiring RC4 encryption
 * (MSE/PE).
 *
 * The content is the shared multi-file fixture (nested folder, files that are not piece
 * multiples) in a v1 torrent: rtorrent knows neither v2 nor BEP 47 padding. rtorrent refuses a
 * torrent without a tracker, so each test runs `shoal tracker` on 127.0.0.1 and makes the
 * torrent name it; both clients announce there, and shoal also dials rtorrent's listen port
 * (`--peer`) so no test waits for an announce round. Files come out byte-identical (SHA-256).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import {
  assertSameContent,
  copyContent,
  fileScope,
  makeTransferFixture,
  requireTool,
  runShoal,
  shoalFetch,
  shoalSeed,
  startRtorrent,
  startShoal,
  type TransferFixture,
  tempDir,
  waitUntil,
} from './helpers.js';

const HOST = '127.0.0.1';
/** Encrypted connections only, RC4 only (rtorrent's strictest setting). */
const REQUIRE_RC4 = 'allow_incoming,require,require_RC4';
const scope = fileScope();
let fixture: Promise<TransferFixture> | undefined;
const getFixture = () => {
  fixture ??= makeTransferFixture(scope, []);
  return fixture;
};

/**
 * Whether rtorrent runs here (`rtorrent -h` prints its version and exits 0); starts a shoal
 * tracker and makes a v1 torrent of the fixture that names it.
 */
async function prepare(
  t: TestContext,
): Promise<{ fx: TransferFixture; torrent: string } | undefined> {
  if (!requireTool(t, 'rtorrent', ['rtorrent', '-h'])) return undefined;
  const fx = await getFixture();
  const tracker = startShoal(t, ['tracker', '--http-port', '0', '--host', HOST, '--json'], {
    name: 'shoal tracker',
  });
  const listening = await tracker.waitForEvent('listening', 15_000);
  const torrent = join(await tempDir(t, 'shoal-rtorrent-torrent-'), 'payload.torrent');
  const made = await runShoal([
    'create',
    fx.content,
    '-o',
    torrent,
    '--v1',
    '--piece-length',
    String(fx.pieceLength),
    '--tracker',
    `http://${HOST}:${listening.http as number}/announce`,
  ]);
  assert.equal(made.code, 0, `shoal create failed: ${made.stderr}`);
  return { fx, torrent };
}

/** An rtorrent seed of the fixture (checked and seeding), its torrent and the fixture. */
async function rtorrentSeed(t: TestContext, encryption: string | undefined) {
  const ready = await prepare(t);
  if (!ready) return undefined;
  const seedDir = await tempDir(t, 'shoal-rtorrent-seed-');
  await copyContent(ready.fx, seedDir);
  const rt = await startRtorrent(t, {
    mode: 'seed',
    torrent: ready.torrent,
    dir: seedDir,
    ...(encryption && { encryption }),
  });
  return { ...ready, rt };
}

for (const encryption of [undefined, REQUIRE_RC4]) {
  const how = encryption ? ' (rtorrent requires RC4)' : '';

  test(`shoal downloads a multi-file v1 torrent from rtorrent${how}`, {
    timeout: 90_000,
  }, async (t) => {
    const seeding = await rtorrentSeed(t, encryption);
    if (!seeding) return;
    const { fx, torrent, rt } = seeding;
    const saveDir = await tempDir(t, 'shoal-rtorrent-get-');
    const result = await shoalFetch(t, torrent, saveDir, {
      host: HOST,
      peers: [`${HOST}:${rt.port}`],
      args: ['--no-dht'],
      timeoutMs: 60_000,
    });
    await assertSameContent(fx, saveDir);
    const peers = result.proc.events().filter((e) => e.event === 'peer');
    assert.ok(peers.length > 0, 'shoal reported the rtorrent connection');
    if (encryption)
      assert.ok(
        peers.every((p) => p.encrypted === true),
        `every connection encrypted: ${JSON.stringify(peers)}`,
      );
    t.diagnostic(`shoal fetched from rtorrent${how} in ${result.seconds.toFixed(1)} s`);
  });

  test(`rtorrent downloads a multi-file v1 torrent from shoal${how}`, {
    timeout: 90_000,
  }, async (t) => {
    const ready = await prepare(t);
    if (!ready) return;
    const { fx, torrent } = ready;
    const saveDir = await tempDir(t, 'shoal-rtorrent-leech-');
    const started = performance.now();
    const rt = await startRtorrent(t, {
      mode: 'leech',
      torrent,
      dir: saveDir,
      ...(encryption && { encryption }),
    });
    const seed = await shoalSeed(t, fx, torrent, {
      host: HOST,
      peers: [`${HOST}:${rt.port}`],
      args: ['--no-dht'],
    });
    await rt.waitFinished(60_000).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\nshoal:\n${seed.proc.tail()}`);
    });
    const seconds = (performance.now() - started) / 1000;
    await rt.proc.stop(); // rtorrent writes through mmap: stopping it syncs and closes its files
    // Requiring RC4, rtorrent drops plaintext peers (the control below): the data came
    // through RC4.
    await assertSameContent(fx, saveDir);
    t.diagnostic(`rtorrent fetched from shoal${how} in ${seconds.toFixed(1)} s`);
  });
}

test('rtorrent requiring RC4 drops a shoal that will not encrypt (control)', {
  timeout: 60_000,
}, async (t) => {
  const seeding = await rtorrentSeed(t, REQUIRE_RC4);
  if (!seeding) return;
  const { torrent, rt } = seeding;
  const dataDir = await tempDir(t, 'shoal-rtorrent-plain-');
  const get = startShoal(t, [
    'get',
    torrent,
    '-o',
    await tempDir(t, 'shoal-rtorrent-plain-get-'),
    '--peer',
    `${HOST}:${rt.port}`,
    '--encryption',
    'disable',
    '--no-utp', // rtorrent speaks no uTP: the TCP refusal is the whole answer
    '--no-dht',
    '--port',
    '0',
    '--host',
    HOST,
    '--data-dir',
    dataDir,
    '--json',
  ]);
  const refused = await waitUntil(
    'shoal to report the connection to rtorrent failing',
    () =>
      get.events().find((e) => e.event === 'status' && e.kind === 'peer' && e.connected === false),
    30_000,
    { detail: () => get.tail() },
  );
  assert.equal(get.event('peer'), undefined, 'no handshake completed');
  assert.equal(get.event('done'), undefined);
  t.diagnostic(`shoal's view: ${String(refused.problem)}`);
});
