/**
 * Acceptance: shoal's Message Stream Encryption against Transmission with encryption required
 * (`"encryption": 2`). Transmission refuses peers on 127.0.0.0/8, so, as in
 * transfer-transmission.test.ts, it runs in a network namespace of the test's own, and shoal
 * runs there too. First the handshake alone, in a child process (`dialMain`): it dials with
 * `mseConnect`, gets Transmission's BitTorrent handshake and bitfield through RC4 and fetches
 * pieces that verify; a control checks that Transmission refuses a plaintext handshake. Then
 * whole nodes with their default settings: Transmission downloads from a shoal seeder, and a
 * shoal leecher downloads from Transmission, files byte-identical, every connection encrypted.
 * Transmission cannot be told to dial a peer, so shoal dials it (`--peer`) both ways.
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
  run,
  shoalFetch,
  shoalSeed,
  startTransmission,
  type TransferFixture,
  tempDir,
  torrentOf,
} from './helpers.js';
import { type DialJob, type DialReport, dialCommand } from './mse-support.js';

const scope = fileScope();
let fixture: Promise<TransferFixture> | undefined;
const getFixture = () => {
  fixture ??= makeTransferFixture(scope, ['v1']);
  return fixture;
};

const SEEDING = 6;
const STOPPED = 0;
const ENCRYPTION_REQUIRED = 2;

/** Transmission seeding the v1 fixture in a namespace, requiring encryption. */
async function transmissionSeed(t: TestContext) {
  const netns = await createNetns(t, 'shoal-mse-tr', 2);
  const [address] = netns.addresses as [string];
  const tr = await startTransmission(t, netns, address, { encryption: ENCRYPTION_REQUIRED });
  const fx = await getFixture();
  const torrent = torrentOf(fx, 'v1');
  const seedDir = await tempDir(t, 'shoal-mse-tr-seed-');
  await copyContent(fx, seedDir);
  const id = await tr.add(torrent, seedDir);
  await tr.waitFor(id, 'to seed', (s) => s.status === SEEDING && s.percentDone === 1, 30_000);
  return { netns, tr, address, torrent };
}

/** Runs a {@link DialJob} inside `netns` and returns its report. */
async function dialFrom(netns: { name: string; cidr: string }, job: DialJob): Promise<DialReport> {
  const r = await run('ip', ['netns', 'exec', netns.name, process.execPath, ...dialCommand(job)], {
    env: { ...process.env, SHOAL_EGRESS: 'loopback', SHOAL_EGRESS_ALLOW: netns.cidr },
  });
  if (r.code !== 0) throw new Error(`the dialler exited with ${r.code}:\n${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as DialReport;
}

function usable(t: TestContext): boolean {
  return (
    requireTool(t, 'transmission-daemon', ['transmission-daemon', '--version']) &&
    requireTool(t, 'netns', netnsProbe)
  );
}

test('Transmission requiring encryption drops a plaintext handshake (control)', {
  timeout: 90_000,
}, async (t) => {
  if (!usable(t)) return;
  const { netns, tr, address, torrent } = await transmissionSeed(t);
  const r = await dialFrom(netns, { host: address, port: tr.peerPort, torrent, mode: 'plain' });
  assert.equal(r.closedByPeer, true, 'Transmission hung up');
  assert.equal(r.received, 0, 'and sent nothing back');
});

test('shoal dials a Transmission seed that requires encryption and fetches pieces', {
  timeout: 90_000,
}, async (t) => {
  if (!usable(t)) return;
  const { netns, tr, address, torrent } = await transmissionSeed(t);
  const r = await dialFrom(netns, {
    host: address,
    port: tr.peerPort,
    torrent,
    mode: 'mse',
    allow: 'both',
    pieces: 24,
  });
  assert.equal(r.encrypted, true, 'Transmission selects RC4');
  assert.ok(r.messageIds?.includes(5), 'its handshake and bitfield came through');
  assert.equal(r.verified, 24, 'and 24 pieces that verify');
  t.diagnostic(`Transmission sent messages ${r.messageIds?.join(', ')}`);
});

test('a shoal leecher downloads from a Transmission seed that requires encryption', {
  timeout: 90_000,
}, async (t) => {
  if (!usable(t)) return;
  const { netns, tr, address } = await transmissionSeed(t);
  const fx = await getFixture();
  const saveDir = await tempDir(t, 'shoal-mse-tr-get-');
  const result = await shoalFetch(t, torrentOf(fx, 'v1'), saveDir, {
    host: netns.addresses[1]!,
    peers: [`${address}:${tr.peerPort}`],
    netns,
    timeoutMs: 70_000,
  });
  await assertSameContent(fx, saveDir);
  const peers = result.proc.events().filter((e) => e.event === 'peer');
  assert.ok(
    peers.length > 0 && peers.every((p) => p.encrypted === true),
    `every peer encrypted: ${JSON.stringify(peers)}`,
  );
  t.diagnostic(`shoal fetched from Transmission (RC4) in ${result.seconds.toFixed(1)} s`);
});

test('Transmission requiring encryption downloads from a shoal seeder', {
  timeout: 90_000,
}, async (t) => {
  if (!usable(t)) return;
  const netns = await createNetns(t, 'shoal-mse-tr', 2);
  const [trAddress, shoalAddress] = netns.addresses as [string, string];
  const tr = await startTransmission(t, netns, trAddress, { encryption: ENCRYPTION_REQUIRED });
  const fx = await getFixture();
  const torrent = torrentOf(fx, 'v1');
  const saveDir = await tempDir(t, 'shoal-mse-tr-leech-');
  // Transmission must know the torrent before shoal dials it, or it turns shoal away.
  const id = await tr.add(torrent, saveDir);
  const seed = await shoalSeed(t, fx, torrent, {
    host: shoalAddress,
    peers: [`${trAddress}:${tr.peerPort}`],
    netns,
  });
  const finished = await tr.waitFor(
    id,
    'to download everything',
    (s) => s.percentDone === 1 && s.leftUntilDone === 0,
    70_000,
  );
  await tr.rpc('torrent-stop', { ids: [id] }); // flushes Transmission's write cache
  await tr.waitFor(id, 'to stop', (s) => s.status === STOPPED, 10_000);
  await assertSameContent(fx, saveDir);
  assert.ok(
    finished.peers.some((p) => p.address === shoalAddress),
    `shoal among Transmission's peers: ${JSON.stringify(finished.peers)}`,
  );
  const served = seed.proc
    .events()
    .filter((e) => e.event === 'progress')
    .flatMap((e) => e.peerList as { address: string; encrypted: boolean }[]);
  assert.ok(
    served.length > 0 && served.every((p) => p.encrypted),
    `shoal's connection to Transmission is encrypted: ${JSON.stringify(served.slice(0, 2))}`,
  );
});
