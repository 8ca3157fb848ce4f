/** SCRATCH (not to be committed): MSE stress against aria2 and Transmission requiring encryption. */
import { type TestContext, test } from 'node:test';
import {
  copyContent,
  createNetns,
  fileScope,
  makeTransferFixture,
  netnsProbe,
  requireTool,
  run,
  startAria2,
  startTransmission,
  type TransferFixture,
  tempDir,
  torrentOf,
} from './helpers.js';

const LOOP = '/work/runs/mse-stress/loop.mjs';
const N = Number(process.env.ZZ_N ?? 600);
const MAX_MS = Number(process.env.ZZ_MAX_MS ?? 7.5 * 60_000);
const DELAY_MS = Number(process.env.ZZ_DELAY_MS ?? 10);
const ONLY = process.env.ZZ_ONLY;
const WORKERS = Number(process.env.ZZ_WORKERS ?? 1);
const FORCE = process.env.ZZ_FORCE_YA === undefined ? {} : { forceYaByte: Number(process.env.ZZ_FORCE_YA) };
const LABEL = process.env.ZZ_LABEL ?? 'run';

const scope = fileScope();
let fixture: Promise<TransferFixture> | undefined;
const getFixture = () => {
  fixture ??= makeTransferFixture(scope, ['v1']);
  return fixture;
};

async function loop(t: TestContext, name: string, prefix: string[], job: object, env = {}) {
  const out = `/work/runs/mse-stress/${name}-${LABEL}.jsonl`;
  const r = await run(
    prefix[0] ?? process.execPath,
    [...prefix.slice(1), ...(prefix.length ? [process.execPath] : []), LOOP, JSON.stringify(job), out],
    { env: { ...process.env, ...env } },
  );
  t.diagnostic(`${name}: exit ${r.code} ${r.stdout.trim()} ${r.stderr.slice(-2000)}`);
}

test('stress: aria2 requiring RC4', { timeout: 10 * 60_000, skip: ONLY === 'tr' }, async (t) => {
  if (!requireTool(t, 'aria2c')) return;
  const fx = await getFixture();
  const torrent = torrentOf(fx, 'v1');
  const dir = await tempDir(t, 'shoal-mse-stress-aria2-');
  await copyContent(fx, dir);
  const aria2 = await startAria2(t, {
    mode: 'seed',
    torrent,
    dir,
    timeoutSeconds: 600,
    args: ['--bt-require-crypto=true', '--bt-min-crypto-level=arc4'],
  });
  await loop(t, 'aria2', [], {
    host: '127.0.0.1',
    port: aria2.port,
    torrent,
    n: N,
    maxMs: MAX_MS,
    delayMs: DELAY_MS,
    workers: WORKERS,
    ...FORCE,
    ...(WORKERS > 1 && {
      localAddresses: Array.from({ length: WORKERS }, (_, w) => `127.0.0.${w + 2}`),
    }),
  });
  t.diagnostic(`aria2 tail: ${aria2.proc.tail()}`);
});

test('stress: Transmission requiring encryption', {
  timeout: 10 * 60_000,
  skip: ONLY === 'aria2',
}, async (t) => {
  if (!requireTool(t, 'transmission-daemon', ['transmission-daemon', '--version'])) return;
  if (!requireTool(t, 'netns', netnsProbe)) return;
  const netns = await createNetns(t, 'shoal-mse-st', 1 + Math.max(1, WORKERS));
  const [address] = netns.addresses as [string];
  const tr = await startTransmission(t, netns, address, { encryption: 2 });
  const fx = await getFixture();
  const torrent = torrentOf(fx, 'v1');
  const seedDir = await tempDir(t, 'shoal-mse-stress-tr-');
  await copyContent(fx, seedDir);
  const id = await tr.add(torrent, seedDir);
  await tr.waitFor(id, 'to seed', (s) => s.status === 6 && s.percentDone === 1, 30_000);
  await loop(
    t,
    'transmission',
    ['ip', 'netns', 'exec', netns.name],
    {
      host: address,
      port: tr.peerPort,
      torrent,
      n: N,
      maxMs: MAX_MS,
      delayMs: DELAY_MS,
      workers: WORKERS,
      ...FORCE,
      ...(WORKERS > 1 && { localAddresses: netns.addresses.slice(1) }),
    },
    { SHOAL_EGRESS: 'loopback', SHOAL_EGRESS_ALLOW: netns.cidr },
  );
  t.diagnostic(`transmission tail: ${tr.proc.tail()}`);
});
