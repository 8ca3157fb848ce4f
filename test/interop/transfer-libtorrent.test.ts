/**
 * Acceptance: shoal and libtorrent 2.0 (Python bindings) move real content between them.
 *
 * For a multi-file hybrid torrent, a v1 torrent and a v2-only torrent (all made by
 * `shoal create`, 32 KiB pieces, files that are not piece multiples, one in a nested folder):
 * a shoal leecher downloads from a libtorrent seed, and a libtorrent leecher downloads from a
 * shoal seed, and the files come out byte-identical (SHA-256) to the source. No tracker: shoal
 * dials libtorrent with `--peer`, libtorrent dials shoal with `connect_peer`. Everything listens
 * on 127.0.0.1 only; libtorrent runs with DHT, LSD, UPnP and NAT-PMP off.
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
  type TransferVersion,
  tempDir,
  torrentOf,
} from './helpers.js';

const HOST = '127.0.0.1';
const scope = fileScope();
let fixture: Promise<TransferFixture> | undefined;
const getFixture = () => {
  fixture ??= makeTransferFixture(scope, ['hybrid', 'v1', 'v2']);
  return fixture;
};

const VERSIONS: readonly TransferVersion[] = ['hybrid', 'v1', 'v2'];

for (const version of VERSIONS) {
  test(`shoal downloads a multi-file ${version} torrent from libtorrent`, {
    timeout: 90_000,
  }, async (t) => {
    if (!requireTool(t, 'libtorrent')) return;
    const fx = await getFixture();
    const torrent = torrentOf(fx, version);
    const seedDir = await tempDir(t, 'shoal-lt-seed-');
    await copyContent(fx, seedDir);
    const lt = await startLibtorrent(t, { mode: 'seed', torrent, savePath: seedDir, host: HOST });

    const saveDir = await tempDir(t, 'shoal-lt-get-');
    const result = await shoalFetch(t, torrent, saveDir, {
      host: HOST,
      peers: [`${HOST}:${lt.port}`],
      timeoutMs: 60_000,
    });
    await assertSameContent(fx, saveDir);
    t.diagnostic(`shoal fetched ${version} from libtorrent in ${result.seconds.toFixed(1)} s`);
    if (result.warnings.length > 0) t.diagnostic(`shoal warnings: ${result.warnings.join('; ')}`);
  });

  test(`libtorrent downloads a multi-file ${version} torrent from shoal`, {
    timeout: 90_000,
  }, async (t) => {
    if (!requireTool(t, 'libtorrent')) return;
    const fx = await getFixture();
    const torrent = torrentOf(fx, version);
    const seed = await shoalSeed(t, fx, torrent, { host: HOST });

    const saveDir = await tempDir(t, 'shoal-lt-leech-');
    const started = performance.now();
    const lt = await startLibtorrent(t, {
      mode: 'leech',
      torrent,
      savePath: saveDir,
      host: HOST,
      peers: [`${HOST}:${seed.port}`],
      timeoutSeconds: 60,
    });
    const code = await lt.proc.waitExit(70_000);
    const seconds = (performance.now() - started) / 1000;
    assert.equal(code, 0, `libtorrent did not finish\n${lt.proc.tail()}\n${seed.proc.tail()}`);
    assert.ok(lt.proc.event('done'), lt.proc.tail());
    await assertSameContent(fx, saveDir);
    t.diagnostic(`libtorrent fetched ${version} from shoal in ${seconds.toFixed(1)} s`);
    const warnings = seed.proc.events().filter((e) => e.event === 'warning');
    if (warnings.length > 0) {
      t.diagnostic(`shoal warnings: ${warnings.map((w) => w.message).join('; ')}`);
    }
  });
}
