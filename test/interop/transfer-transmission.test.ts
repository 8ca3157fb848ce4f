/**
 * Acceptance: shoal and Transmission (transmission-daemon) move real content between them.
 *
 * For a multi-file hybrid torrent and a v1 torrent (made by `shoal create`, 32 KiB pieces,
 * files that are not piece multiples, one in a nested folder): a shoal leecher downloads from a
 * Transmission seed, and Transmission downloads from a shoal seed, and the files come out
 * byte-identical (SHA-256) to the source.
 *
 * Transmission refuses peers on 127.0.0.0/8 and tells peers apart by IP alone, so each test
 * makes its own network namespace with two addresses on its loopback device, 10.201.0.1 for
 * Transmission and 10.201.0.2 for shoal, and runs both inside it; nothing in it can reach any
 * other network. No tracker, DHT, LPD, PEX or port forwarding: shoal dials Transmission's peer
 * port (`--peer`). Transmission's RPC listens on 127.0.0.1 inside the namespace.
 *
 * Transmission 3.00 (Debian 12) cannot parse hybrid torrents (transmission #1339), so the
 * hybrid tests are skipped, with that reason, when the installed version cannot. A version that
 * can but does not know BEP 47 padding files gets them written to disk to seed from, as it would
 * have stored them after downloading.
 */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import {
  assertSameContent,
  copyContent,
  createNetns,
  fileScope,
  makeTransferFixture,
  netnsProbe,
  requireTool,
  shoalFetch,
  shoalSeed,
  startTransmission,
  type TransferFixture,
  type TransferVersion,
  tempDir,
  torrentOf,
  transmissionLoadProblem,
  writePadFiles,
} from './helpers.js';

const scope = fileScope();
let fixture: Promise<TransferFixture> | undefined;
const getFixture = () => {
  fixture ??= makeTransferFixture(scope, ['hybrid', 'v1']);
  return fixture;
};

const SEEDING = 6;
const STOPPED = 0;

/** The fixture and torrent for `version`, or undefined when the test cannot run here. */
async function prepare(
  t: TestContext,
  version: TransferVersion,
): Promise<{ fx: TransferFixture; torrent: string } | undefined> {
  if (!requireTool(t, 'transmission-daemon', ['transmission-daemon', '--version'])) return;
  if (!requireTool(t, 'transmission-show')) return;
  if (!requireTool(t, 'netns', netnsProbe)) return;
  const fx = await getFixture();
  const torrent = torrentOf(fx, version);
  const problem = await transmissionLoadProblem(torrent);
  if (problem !== undefined) {
    t.skip(problem);
    return;
  }
  return { fx, torrent };
}

/** A namespace with Transmission running on its first address; shoal gets the second. */
async function transmissionInNamespace(t: TestContext) {
  const netns = await createNetns(t, 'shoal-tr');
  const [trAddress, shoalAddress] = netns.addresses as [string, string];
  const tr = await startTransmission(t, netns, trAddress);
  return { netns, tr, shoalAddress, trPeer: `${trAddress}:${tr.peerPort}` };
}

// Hybrid torrents are left out while Debian ships a client that cannot use them (see above):
// a test that could only ever skip proves nothing. Add 'hybrid' back with a newer client.
for (const version of ['v1'] as TransferVersion[]) {
  test(`shoal downloads a multi-file ${version} torrent from Transmission`, {
    timeout: 90_000,
  }, async (t) => {
    const ready = await prepare(t, version);
    if (!ready) return;
    const { fx, torrent } = ready;
    const { netns, tr, shoalAddress, trPeer } = await transmissionInNamespace(t);
    const seedDir = await tempDir(t, 'shoal-tr-seed-');
    await copyContent(fx, seedDir);
    if (version === 'hybrid') await writePadFiles(torrent, seedDir);
    const id = await tr.add(torrent, seedDir);
    await tr.waitFor(
      id,
      'to check its data and seed',
      (s) => s.status === SEEDING && s.percentDone === 1,
      30_000,
    );

    const saveDir = await tempDir(t, 'shoal-tr-get-');
    const result = await shoalFetch(t, torrent, saveDir, {
      host: shoalAddress,
      peers: [trPeer],
      netns,
      timeoutMs: 70_000,
    });
    await assertSameContent(fx, saveDir);
    t.diagnostic(`shoal fetched ${version} from Transmission in ${result.seconds.toFixed(1)} s`);
    if (result.warnings.length > 0) t.diagnostic(`shoal warnings: ${result.warnings.join('; ')}`);
  });

  test(`Transmission downloads a multi-file ${version} torrent from shoal`, {
    timeout: 90_000,
  }, async (t) => {
    const ready = await prepare(t, version);
    if (!ready) return;
    const { fx, torrent } = ready;
    const { netns, tr, shoalAddress, trPeer } = await transmissionInNamespace(t);
    const saveDir = await tempDir(t, 'shoal-tr-leech-');
    // Transmission must know the torrent before shoal dials it, or it turns shoal away.
    const id = await tr.add(torrent, saveDir);
    const started = performance.now();
    const seed = await shoalSeed(t, fx, torrent, { host: shoalAddress, peers: [trPeer], netns });

    const finished = await tr.waitFor(
      id,
      'to download everything',
      (s) => s.percentDone === 1 && s.leftUntilDone === 0,
      70_000,
    );
    const seconds = (performance.now() - started) / 1000;
    const peers = finished.peers.map((p) => `${p.address}:${p.port} (${p.clientName})`);
    // Stopping flushes Transmission's write cache and closes its files.
    await tr.rpc('torrent-stop', { ids: [id] });
    await tr.waitFor(id, 'to stop', (s) => s.status === STOPPED, 10_000);
    await assertSameContent(fx, saveDir);
    assert.ok(seed.proc.exitCode === undefined, `shoal share ended early\n${seed.proc.tail()}`);
    t.diagnostic(`Transmission fetched ${version} from shoal in ${seconds.toFixed(1)} s`);
    t.diagnostic(`Transmission's peers at the end: ${peers.join(', ') || 'none'}`);
    const warnings = seed.proc.events().filter((e) => e.event === 'warning');
    if (warnings.length > 0) {
      t.diagnostic(`shoal warnings: ${warnings.map((w) => w.message).join('; ')}`);
    }
  });
}
