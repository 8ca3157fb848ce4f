/**
 * Benchmark `stream`: streaming while downloading, three parts.
 *
 * 1. `seek`: time to the first byte of a range nobody has fetched yet, and to all of its
 *    64 KiB (seek-to-data), over SHOAL_BENCH_STREAM_SEEKS (20) seeks spread over a file of
 *    SHOAL_BENCH_STREAM_BYTES (256 MiB, 256 KiB pieces), for shoal (`shoal stream`, its HTTP
 *    stream server) and WebTorrent (npm `webtorrent` 1.x in bench/stream-worker.ts, serving
 *    `file.createReadStream` over HTTP), each a fresh process fetching from the same `shoal
 *    share` seeder limited to SHOAL_BENCH_STREAM_SEED_RATE (4 MiB/s) on loopback. p50 and
 *    p95; target shoal ≤ 0.5 × WebTorrent.
 * 2. `rebuffer`: the simulator's `stream` scenario: a SHOAL_BENCH_STREAM_MINUTES (10) minute
 *    4 Mbit/s video played from 6 peers of 150 KB/s; share of the playing time stalled (target
 *    ≤ 0.5 %).
 * 3. `offload`: the simulator's `offload` scenario: SHOAL_BENCH_STREAM_VIEWERS (50) viewers
 *    joining over a minute, the origin a web seed; the origin's share of the bytes (target
 *    ≤ 20 %) and start-up times (target ≤ 5 s each).
 *
 * SHOAL_BENCH_STREAM_PARTS picks the parts (`seek,rebuffer,offload` by default).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { offloadScenario } from '../src/sim/scenarios/offload.js';
import { streamScenario } from '../src/sim/scenarios/stream.js';
import {
  Children,
  envBytes,
  envCount,
  envNumber,
  type JsonChild,
  writeContent,
} from './support.js';

const CLI = fileURLToPath(new URL('../src/bin/shoal.js', import.meta.url));
const WORKER = fileURLToPath(new URL('./stream-worker.js', import.meta.url));
const READ_BYTES = 64 * 1024;
const PIECE_BYTES = 256 * 1024;

const env = (): NodeJS.ProcessEnv => ({ ...process.env, SHOAL_EGRESS: 'loopback' });

/** Milliseconds to the first body byte and to the whole range, of one ranged GET. */
function timedRange(url: string, start: number, length: number): Promise<[number, number]> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let first: number | undefined;
    let got = 0;
    const req = request(
      url,
      { headers: { range: `bytes=${start}-${start + length - 1}` } },
      (res) => {
        if (res.statusCode !== 206) reject(new Error(`${url} answered ${res.statusCode}`));
        res.on('data', (chunk: Buffer) => {
          first ??= performance.now() - t0;
          got += chunk.length;
        });
        res.on('end', () =>
          got === length
            ? resolve([first ?? 0, performance.now() - t0])
            : reject(new Error(`${url}: ${got} bytes of ${length}`)),
        );
      },
    );
    req.setTimeout(120_000, () => req.destroy(new Error(`${url}: no answer in 120 s`)));
    req.on('error', reject);
    req.end();
  });
}

const pct = (values: readonly number[], p: number): number => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

async function seekPart(children: Children, dir: string): Promise<void> {
  const size = envBytes('SHOAL_BENCH_STREAM_BYTES', 256 * 1024 * 1024);
  const rate = envBytes('SHOAL_BENCH_STREAM_SEED_RATE', 4 * 1024 * 1024);
  const seeks = envCount('SHOAL_BENCH_STREAM_SEEKS', 20);
  const file = join(dir, 'video.bin');
  await writeContent(file, size);
  const torrent = join(dir, 'video.torrent');
  const create = children.spawn(
    'create',
    process.execPath,
    [...[CLI, 'create', file, '--v1', '--piece-length', String(PIECE_BYTES), '-o', torrent]],
    env(),
  );
  if ((await create.waitExit(300_000)).code !== 0) throw new Error(create.output());
  // Seek positions spread over the file by the golden ratio, the same for both.
  const positions = Array.from({ length: seeks }, (_, i) =>
    Math.floor((((i + 1) * 0.6180339887) % 1) * (size - READ_BYTES)),
  );
  const results: Record<string, { first: number[]; all: number[] }> = {};
  for (const impl of ['shoal', 'webtorrent'] as const) {
    // A fresh seeder for each: a seed that has sent a piece refuses it to others for a while
    // (it spreads pieces by scarcity), which would handicap whichever viewer came second.
    const seeder = children.spawn(
      'seeder',
      process.execPath,
      [
        ...[CLI, 'share', file, '--torrent', torrent, '--standalone', '--port', '0'],
        ...['--host', '127.0.0.1', '--no-dht', '--json', '--data-dir', join(dir, `seed-${impl}`)],
        ...['--upload-limit', String(rate)],
      ],
      env(),
    );
    const seeding = await seeder.waitFor((e) => e.event === 'seeding', 300_000, 'seeding');
    const peer = `127.0.0.1:${seeding.port as number}`;
    const out = join(dir, `${impl}-out`);
    await mkdir(out, { recursive: true });
    const viewer: JsonChild =
      impl === 'shoal'
        ? children.spawn(
            'shoal stream',
            process.execPath,
            [
              ...[CLI, 'stream', torrent, '--peer', peer, '--host', '127.0.0.1', '--no-dht'],
              ...['--json', '-o', out, '--data-dir', join(dir, 'viewer-data')],
            ],
            env(),
          )
        : children.spawn('webtorrent', process.execPath, [WORKER, torrent, out, peer], env());
    const ready = await viewer.waitFor(
      (e) => e.event === 'streaming' || e.event === 'ready',
      60_000,
      'the stream URL',
    );
    const url = ready.url as string;
    const first: number[] = [];
    const all: number[] = [];
    for (const pos of positions) {
      const [f, a] = await timedRange(url, pos, READ_BYTES);
      first.push(f);
      all.push(a);
    }
    results[impl] = { first, all };
    await viewer.stop();
    await seeder.stop();
    await rm(out, { recursive: true, force: true });
    await rm(join(dir, 'viewer-data'), { recursive: true, force: true });
  }
  const row = (name: string, r: { first: number[]; all: number[] }) =>
    `  ${name.padEnd(10)} first byte p50 ${pct(r.first, 50).toFixed(0).padStart(5)} ms  p95 ${pct(r.first, 95).toFixed(0).padStart(5)} ms   64 KiB p50 ${pct(r.all, 50).toFixed(0).padStart(5)} ms  p95 ${pct(r.all, 95).toFixed(0).padStart(5)} ms`;
  const s = results.shoal!;
  const w = results.webtorrent!;
  process.stdout.write(
    `seek: ${seeks} seeks over ${(size / 2 ** 20).toFixed(0)} MiB, seeder at ${(rate / 2 ** 20).toFixed(1)} MiB/s\n` +
      `${row('shoal', s)}\n${row('webtorrent', w)}\n` +
      `  shoal / webtorrent: first byte p50 ${(pct(s.first, 50) / pct(w.first, 50)).toFixed(2)}, p95 ${(pct(s.first, 95) / pct(w.first, 95)).toFixed(2)}; ` +
      `64 KiB p50 ${(pct(s.all, 50) / pct(w.all, 50)).toFixed(2)}, p95 ${(pct(s.all, 95) / pct(w.all, 95)).toFixed(2)} (target ≤ 0.5)\n`,
  );
}

async function rebufferPart(): Promise<void> {
  const minutes = envNumber('SHOAL_BENCH_STREAM_MINUTES', 10);
  const outcome = await streamScenario({ minutes });
  process.stdout.write(
    `rebuffer (sim stream):\n${outcome.summary.map((l) => `  ${l}\n`).join('')}`,
  );
}

async function offloadPart(): Promise<void> {
  const viewers = envCount('SHOAL_BENCH_STREAM_VIEWERS', 50);
  const outcome = await offloadScenario({ viewers });
  process.stdout.write(
    `offload (sim offload):\n${outcome.summary.map((l) => `  ${l}\n`).join('')}`,
  );
  if (!outcome.ok) process.stdout.write(`  FAILED: ${outcome.failures.join('; ')}\n`);
}

export async function run(): Promise<void> {
  const parts = (process.env.SHOAL_BENCH_STREAM_PARTS ?? 'seek,rebuffer,offload').split(',');
  const dir = await mkdtemp(join(tmpdir(), 'shoal-bench-stream-'));
  const children = new Children(() => undefined);
  try {
    if (parts.includes('seek')) await seekPart(children, dir);
    if (parts.includes('rebuffer')) await rebufferPart();
    if (parts.includes('offload')) await offloadPart();
  } finally {
    await children.close();
    await rm(dir, { recursive: true, force: true });
  }
}
