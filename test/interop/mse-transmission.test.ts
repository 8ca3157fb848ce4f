/**
 * Acceptance: shoal's Message Stream Encryption against Transmission with encryption required
 * (`"encryption": 2`). Transmission refuses peers on 127.0.0.0/8, so, as in
 * transfer-transmission.test.ts, it runs in a network namespace of the test's own, and the
 * dialling side runs there too, in a child process (`dialMain`): it dials with `mseConnect`,
 * gets Transmission's BitTorrent handshake and bitfield through RC4 and fetches pieces that
 * verify. A control checks that Transmission refuses a plaintext handshake. Transmission cannot
 * be told to dial a peer, so only this direction is tested.
 */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import {
  copyContent,
  createNetns,
  fileScope,
  makeTransferFixture,
  netnsProbe,
  requireTool,
  run,
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
const ENCRYPTION_REQUIRED = 2;

/** Transmission seeding the v1 fixture in a namespace, requiring encryption. */
async function transmissionSeed(t: TestContext) {
  const netns = await createNetns(t, 'shoal-mse-tr');
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
