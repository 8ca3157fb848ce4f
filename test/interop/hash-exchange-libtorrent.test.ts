/**
 * Acceptance: BEP 52 hash exchange with libtorrent 2.0 (Python bindings), magnet links only.
 *
 * A v2-only torrent's info dictionary (all a magnet link yields, over BEP 9) has no piece
 * layers, so the downloader must ask the other side for them with `hash request` messages and
 * check each answer's proof against the file's `pieces root` before any piece can be verified.
 * Both ways: libtorrent downloads from a shoal seed given only the magnet link (shoal answers
 * libtorrent's hash requests), and shoal downloads from a libtorrent seed given only the magnet
 * link (libtorrent answers shoal's). Two contents: the multi-file transfer fixture in 32 KiB
 * pieces (files of 3 to 62 pieces), and one in 16 KiB pieces with a file of 611 pieces, whose
 * layer takes two requests of 512 hashes and whose proofs carry uncle hashes. Files are compared
 * by SHA-256. Everything listens on 127.0.0.1 only; libtorrent runs with DHT, LSD, UPnP and
 * NAT-PMP off, and the peers dial each other directly (`--peer`, `connect_peer`).
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
  startLibtorrent,
  type TransferFixture,
  tempDir,
  torrentOf,
  waitUntil,
} from './helpers.js';

const HOST = '127.0.0.1';
const scope = fileScope();
const KiB = 1024;

const CONTENTS: Readonly<
  Record<string, { readonly pieceLength: number; readonly sizes?: Record<string, number> }>
> = {
  'the multi-file fixture (32 KiB pieces)': { pieceLength: 32 * KiB },
  'a 611-piece file (16 KiB pieces, two layer requests)': {
    pieceLength: 16 * KiB,
    sizes: { 'long.bin': 610 * 16 * KiB + 1234, 'short.txt': 5_000, 'sub/mid.bin': 300_001 },
  },
};

const fixtures = new Map<string, Promise<TransferFixture>>();
const getFixture = (name: string) => {
  const spec = CONTENTS[name]!;
  let fx = fixtures.get(name);
  if (fx === undefined) {
    fx = makeTransferFixture(scope, ['v2'], spec.pieceLength, spec.sizes);
    fixtures.set(name, fx);
  }
  return fx;
};

/** The magnet link of the fixture's v2 torrent: its v2 info-hash and nothing else. */
function magnetOf(fx: TransferFixture): string {
  const v2 = fx.infoHashes.v2?.v2;
  assert.ok(v2, 'the fixture has a v2 info-hash');
  return `magnet:?xt=urn:btmh:1220${v2}`;
}

for (const name of Object.keys(CONTENTS)) {
  test(`libtorrent downloads a v2-only torrent from shoal by magnet link: ${name}`, {
    timeout: 120_000,
  }, async (t) => {
    if (!requireTool(t, 'libtorrent')) return;
    const fx = await getFixture(name);
    const seed = await shoalSeed(t, fx, torrentOf(fx, 'v2'), { host: HOST });

    const saveDir = await tempDir(t, 'shoal-lt-magnet-leech-');
    const started = performance.now();
    const lt = await startLibtorrent(t, {
      mode: 'leech',
      magnet: magnetOf(fx),
      savePath: saveDir,
      host: HOST,
      peers: [`${HOST}:${seed.port}`],
      timeoutSeconds: 90,
    });
    const code = await lt.proc.waitExit(100_000);
    const seconds = (performance.now() - started) / 1000;
    assert.equal(code, 0, `libtorrent did not finish\n${lt.proc.tail()}\n${seed.proc.tail()}`);
    assert.ok(lt.proc.event('done'), lt.proc.tail());
    // libtorrent drops a peer whose hashes do not check out (and fails pieces they disprove).
    const trouble = lt.proc
      .events()
      .filter(
        (e) =>
          e.event === 'alert' &&
          (e.type === 'hash_failed_alert' || /hash/i.test(String(e.message))),
      );
    assert.deepEqual(trouble, [], 'libtorrent had trouble with our hashes');
    await assertSameContent(fx, saveDir);
    // It asked for piece layers (all it had was the info dictionary) and every answer was hashes.
    const served = await waitUntil(
      'the seed to report the hash requests it served',
      () => {
        const last = seed.proc
          .events()
          .filter((e) => e.event === 'progress')
          .at(-1);
        const hx = last?.hashExchange as { served: number; refused: number } | undefined;
        return hx !== undefined && hx.served > 0 ? hx : undefined;
      },
      10_000,
      { detail: () => seed.proc.tail() },
    );
    assert.equal(served.refused, 0, "shoal refused some of libtorrent's hash requests");
    t.diagnostic(`shoal answered ${served.served} hash requests`);
    t.diagnostic(`libtorrent fetched ${name} from shoal by magnet in ${seconds.toFixed(1)} s`);
  });

  test(`shoal downloads a v2-only torrent from libtorrent by magnet link: ${name}`, {
    timeout: 120_000,
  }, async (t) => {
    if (!requireTool(t, 'libtorrent')) return;
    const fx = await getFixture(name);
    const seedDir = await tempDir(t, 'shoal-lt-magnet-seed-');
    await copyContent(fx, seedDir);
    const lt = await startLibtorrent(t, {
      mode: 'seed',
      torrent: torrentOf(fx, 'v2'),
      savePath: seedDir,
      host: HOST,
      timeoutSeconds: 110,
    });

    const saveDir = await tempDir(t, 'shoal-lt-magnet-get-');
    const result = await shoalFetch(t, magnetOf(fx), saveDir, {
      host: HOST,
      peers: [`${HOST}:${lt.port}`],
      timeoutMs: 90_000,
    });
    await assertSameContent(fx, saveDir);
    assert.equal(result.done.wasted, 0, 'no piece failed its check');
    // Every file longer than a piece needed its layer from libtorrent, proved to its root.
    const longFiles = [...fx.files.values()].filter((f) => f.length > fx.pieceLength).length;
    assert.ok(longFiles > 0);
    assert.deepEqual(result.done.hashExchange, { served: 0, refused: 0, layersFetched: longFiles });
    assert.deepEqual(
      result.warnings.filter((w) => /hash|banned/i.test(w)),
      [],
      'no hash trouble with libtorrent',
    );
    t.diagnostic(
      `shoal fetched ${name} from libtorrent by magnet in ${result.seconds.toFixed(1)} s`,
    );
  });
}
