/**
 * Benchmark `transfer`, in two parts, all on 127.0.0.1.
 *
 * 1. One seeder → one leecher, a 1 GiB file (SHOAL_BENCH_TRANSFER_BYTES), one v1 torrent with
 *    1 MiB pieces used by both contenders: shoal → shoal (`shoal share` / `shoal get`) and
 *    libtorrent → libtorrent (two Python processes). Each side runs twice (or
 *    SHOAL_BENCH_TRANSFER_ROUNDS times), alternating; the best run counts, the median is told
 *    too, and each leecher's CPU-seconds per GiB (best and median) with the CPU model: CPU per
 *    byte travels between machines better than MB/s does (target: shoal's ≤ libtorrent's).
 *    Throughput is the file size over the time from spawning the leecher to its "done" line
 *    (process start-up included, for both). Both sides run with the DHT off (the peer is
 *    given). Prints MB/s, the ratio and each leecher's peak RSS. Targets: shoal ≥ 1.5×
 *    libtorrent, shoal leecher peak RSS ≤ 256 MiB.
 *
 * 2. Swarming: one shoal seeder limited to 20 MB/s upload, eight unlimited shoal leechers, a
 *    256 MiB file (SHOAL_BENCH_SWARM_BYTES) in 256 KiB pieces. Every leecher is told about the
 *    seeder and all the others, and keeps seeding after it finishes (`get --seed`) until the
 *    last one is done. The seeder can send each byte only once in T_min = F / u_s, the
 *    Kumar–Ross lower bound for this swarm; target: the last leecher done within 1.10 × T_min,
 *    counted from the leechers' spawn (process start-up included).
 *
 * SHOAL_BENCH_TRANSFER_PARTS picks the parts to run (`p2p`, `swarm`; both by default),
 * SHOAL_BENCH_TRANSFER_TIMEOUT_S bounds each part (300 s by default), and SHOAL_BENCH_NODE_ARGS
 * passes Node.js flags to the shoal processes (for profiling).
 * Every downloaded copy is checked against the source (SHA-256); a mismatch, a timeout or a
 * crash makes the benchmark exit non-zero, while a missed target is only reported.
 * The libtorrent contender lives in transfer-libtorrent.ts, the figures' summaries in
 * transfer-report.ts.
 */

import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PROBES, runShoal, SHOAL_CLI, toolProblem } from '../test/interop/helpers.js';
import {
  Children,
  Deadline,
  envBytes,
  freePorts,
  type JsonChild,
  type JsonEvent,
  mbps,
  mib,
  runParts,
  sha256File,
  writeContent,
} from './support.js';
import { libtorrentLeecher, spawnLibtorrentSeeder } from './transfer-libtorrent.js';
import {
  best,
  cpuModel,
  cpuText,
  median,
  metText,
  perGibText,
  type Run,
  timeline,
} from './transfer-report.js';

const MiB = 1024 ** 2;
const TRANSFER_DEFAULT_BYTES = 1024 ** 3;
const TRANSFER_PIECE = '1M';
/** Alternating rounds per contender (SHOAL_BENCH_TRANSFER_ROUNDS): best and median are told. */
const ROUNDS = Math.max(1, Number(process.env.SHOAL_BENCH_TRANSFER_ROUNDS ?? 2));
const TARGET_RATIO = 1.5;
const TARGET_RSS = 256 * MiB;

const SWARM_DEFAULT_BYTES = 256 * MiB;
const SWARM_PIECE = '256K';
const SWARM_LEECHERS = 8;
/** Seeder upload limit in bytes per second: 20 MB/s, given to the CLI as a plain number. */
const SWARM_SEED_RATE = 20_000_000;
const SWARM_TARGET = 1.1;

const FILE_NAME = 'content.bin';

/** Each part gives up after this long (SHOAL_BENCH_TRANSFER_TIMEOUT_S overrides, in seconds). */
const partTimeoutMs = (): number => {
  const raw = process.env.SHOAL_BENCH_TRANSFER_TIMEOUT_S;
  const s = raw === undefined || raw === '' ? 300 : Number(raw);
  if (!(s > 0)) throw new Error(`SHOAL_BENCH_TRANSFER_TIMEOUT_S="${raw}" is not a positive number`);
  return s * 1000;
};

/**
 * Extra Node.js flags for every shoal child, from SHOAL_BENCH_NODE_ARGS (space-separated), e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile the seeders and leechers.
 */
const NODE_ARGS = (process.env.SHOAL_BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');

/**
 * Flags of every shoal child: the DHT off, as in libtorrent's sessions here (the peers are
 * given), and a leecher never hands its download to a daemon that happens to run.
 */
const SHARE_FLAGS = ['--json', '--no-dht'];
const GET_FLAGS = [...SHARE_FLAGS, '--standalone'];

/** The environment of every child: shoal may only talk to loopback. */
const childEnv = (): NodeJS.ProcessEnv => ({ ...process.env, SHOAL_EGRESS: 'loopback' });

const num = (e: JsonEvent | undefined, key: string): number => {
  const v = e?.[key];
  return typeof v === 'number' ? v : Number.NaN;
};

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/** Context shared by the parts: the temp folder and the children to clean up. */
interface Bench {
  readonly dir: string;
  readonly children: Children;
}

async function createTorrentFile(
  path: string,
  torrent: string,
  pieceLength: string,
): Promise<void> {
  const r = await runShoal(['create', path, '-o', torrent, '--piece-length', pieceLength, '--v1']);
  if (r.code !== 0) throw new Error(`shoal create exited with ${r.code}:\n${r.stdout}${r.stderr}`);
}

/** Starts `shoal share` on `file` and waits until it says it is seeding; returns it and its port. */
async function startShoalSeeder(
  bench: Bench,
  label: string,
  file: string,
  torrent: string,
  deadline: Deadline,
  extra: readonly string[] = [],
): Promise<{ seeder: JsonChild; port: number }> {
  const dataDir = await mkdtemp(join(bench.dir, 'seed-data-'));
  const seeder = bench.children.spawn(
    label,
    process.execPath,
    [
      ...NODE_ARGS,
      SHOAL_CLI,
      'share',
      file,
      '--torrent',
      torrent,
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--data-dir',
      dataDir,
      ...SHARE_FLAGS,
      ...extra,
    ],
    childEnv(),
  );
  const ready = await seeder.waitFor(
    (e) => e.event === 'seeding' || e.event === 'incomplete',
    deadline.left(),
    '"seeding" line',
  );
  if (ready.event === 'incomplete') {
    throw new Error(`${label} does not have the whole file: ${JSON.stringify(ready)}`);
  }
  return { seeder, port: num(ready, 'port') };
}

async function verify(path: string, expected: string, who: string): Promise<void> {
  const actual = await sha256File(path);
  if (actual !== expected)
    throw new Error(`${who}: downloaded file differs from the source (sha256 ${actual})`);
}

/**
 * Times one download: spawns the leecher (`cmd args`, saving into `out`) against a `seeder`
 * that is already seeding, waits for its "done" line and for it to exit, then stops the seeder
 * and checks the copy against the source.
 */
async function timeDownload(
  bench: Bench,
  seeder: JsonChild,
  label: string,
  cmd: string,
  args: readonly string[],
  out: string,
  sourceHash: string,
  deadline: Deadline,
  ruMaxrssKey: string,
): Promise<Run> {
  const seederCpu = seeder.cpuSeconds();
  const leecher = bench.children.spawn(label, cmd, args, childEnv()).track();
  const done = await leecher.waitFor((e) => e.event === 'done', deadline.left(), '"done" line');
  const seederCpuAfter = seeder.cpuSeconds();
  const started = leecher.last('started');
  const exit = await leecher.waitExit(Math.min(deadline.left(), 30_000));
  if (exit.code !== 0) throw new Error(`${label} exited with ${exit.code}:\n${leecher.output()}`);
  await seeder.stop();
  await verify(join(out, FILE_NAME), sourceHash, label);
  const selfReported = num(done, 'peakRssBytes'); // VmHWM from libtorrent's script, ru_maxrss from shoal
  return {
    wallSeconds: (done.at - leecher.spawnedAt) / 1000,
    transferSeconds: (done.at - (started?.at ?? leecher.spawnedAt)) / 1000,
    downloaded: num(done, 'downloaded'),
    peakRssBytes:
      ruMaxrssKey === 'peakRssBytes'
        ? (leecher.peakRssBytes ?? selfReported)
        : Math.max(leecher.peakRssBytes ?? 0, selfReported),
    reportedMaxRss: num(done, ruMaxrssKey),
    leecherCpu: done.cpu ?? Number.NaN,
    seederCpu:
      seederCpu !== undefined && seederCpuAfter !== undefined
        ? seederCpuAfter - seederCpu
        : Number.NaN,
  };
}

async function shoalRun(
  bench: Bench,
  source: string,
  torrent: string,
  sourceHash: string,
  deadline: Deadline,
): Promise<Run> {
  const { seeder, port } = await startShoalSeeder(bench, 'shoal seeder', source, torrent, deadline);
  const out = await mkdtemp(join(bench.dir, 'out-shoal-'));
  const dataDir = await mkdtemp(join(bench.dir, 'leech-data-'));
  try {
    const args = [
      ...NODE_ARGS,
      SHOAL_CLI,
      'get',
      torrent,
      '-o',
      out,
      '--peer',
      `127.0.0.1:${port}`,
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--data-dir',
      dataDir,
      ...GET_FLAGS,
    ];
    return await timeDownload(
      bench,
      seeder,
      'shoal leecher',
      process.execPath,
      args,
      out,
      sourceHash,
      deadline,
      'peakRssBytes',
    );
  } finally {
    await seeder.stop();
    await rm(out, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function libtorrentRun(
  bench: Bench,
  sourceDir: string,
  torrent: string,
  sourceHash: string,
  deadline: Deadline,
): Promise<Run> {
  const seeder = spawnLibtorrentSeeder(bench.children, torrent, sourceDir, childEnv());
  const out = await mkdtemp(join(bench.dir, 'out-lt-'));
  try {
    const ready = await seeder.waitFor(
      (e) => e.event === 'seeding',
      deadline.left(),
      '"seeding" line',
    );
    const { cmd, args } = libtorrentLeecher(
      torrent,
      out,
      num(ready, 'port'),
      deadline.left() / 1000,
    );
    return await timeDownload(
      bench,
      seeder,
      'libtorrent leecher',
      cmd,
      args,
      out,
      sourceHash,
      deadline,
      'ruMaxrssBytes',
    );
  } finally {
    await seeder.stop();
    await rm(out, { recursive: true, force: true });
  }
}

/**
 * Runs the reference's round once more when a signal killed one of its processes (the Debian
 * python3-libtorrent leecher died of SIGSEGV in one round of many here): a crash of the
 * reference is no figure, and is told. Any other failure, and any of shoal's, stops the run.
 */
async function againIfKilled(run: () => Promise<Run>): Promise<Run> {
  try {
    return await run();
  } catch (error) {
    const killed = /exited \(code null, signal (SIG[A-Z]+)\)/.exec(String(error));
    if (killed === null) throw error;
    process.stdout.write(`  libtorrent died of ${killed[1]}: that round runs again\n`);
    return run();
  }
}

/** Part 1: shoal → shoal against libtorrent → libtorrent, one seeder and one leecher each. */
async function pointToPoint(bench: Bench): Promise<void> {
  const size = envBytes('SHOAL_BENCH_TRANSFER_BYTES', TRANSFER_DEFAULT_BYTES);
  const ltProblem = toolProblem('libtorrent', PROBES.libtorrent);
  const deadline = new Deadline(partTimeoutMs(), 'part 1');
  const sourceDir = join(bench.dir, 'p2p-src');
  await mkdir(sourceDir);
  const source = join(sourceDir, FILE_NAME);
  const torrent = join(bench.dir, 'p2p.torrent');
  try {
    let t = performance.now();
    await writeContent(source, size);
    const sourceHash = await sha256File(source); // also leaves the file in the page cache
    process.stdout.write(
      `wrote and hashed ${size} bytes (${mib(size)}) in ${seconds(performance.now() - t)}\n`,
    );
    t = performance.now();
    await createTorrentFile(source, torrent, TRANSFER_PIECE);
    process.stdout.write(
      `v1 torrent, ${TRANSFER_PIECE} pieces, in ${seconds(performance.now() - t)}\n`,
    );

    const runs: Record<'shoal' | 'libtorrent', Run[]> = { shoal: [], libtorrent: [] };
    for (let round = 0; round < ROUNDS; round++) {
      const order =
        round % 2 === 0 ? (['shoal', 'libtorrent'] as const) : (['libtorrent', 'shoal'] as const);
      for (const who of order) {
        if (who === 'libtorrent' && ltProblem !== undefined) continue;
        const r =
          who === 'shoal'
            ? await shoalRun(bench, source, torrent, sourceHash, deadline)
            : await againIfKilled(() =>
                libtorrentRun(bench, sourceDir, torrent, sourceHash, deadline),
              );
        runs[who].push(r);
        process.stdout.write(
          `  round ${round + 1} ${who.padEnd(10)} ${mbps(size, r.wallSeconds).padStart(12)}  ` +
            `(${r.wallSeconds.toFixed(2)} s from spawn; transfer alone ${r.transferSeconds.toFixed(2)} s = ` +
            `${mbps(size, r.transferSeconds)})\n` +
            `          peak RSS ${mib(r.peakRssBytes)} (ru_maxrss ${mib(r.reportedMaxRss)}); ` +
            `CPU leecher ${r.leecherCpu.toFixed(2)} s, seeder ${r.seederCpu.toFixed(2)} s; ` +
            `downloaded ${r.downloaded}, sha256 ok\n`,
        );
      }
    }

    const s = best(runs.shoal);
    process.stdout.write(`CPU         ${cpuModel()}, ${availableParallelism()} cores\n`);
    const medianText = (who: Run[]) =>
      `median ${mbps(size, median(who.map((r) => r.wallSeconds)))}; ${perGibText(who, size)}`;
    process.stdout.write(`shoal       ${medianText(runs.shoal)}\n`);
    if (ltProblem === undefined) {
      process.stdout.write(`libtorrent  ${medianText(runs.libtorrent)}\n`);
      const cpu = (who: Run[]) => median(who.map((r) => r.leecherCpu));
      const cpuRatio = cpu(runs.shoal) / cpu(runs.libtorrent);
      process.stdout.write(
        `CPU ratio   shoal/libtorrent leecher CPU per GiB (medians) = ${cpuRatio.toFixed(2)}× (target ≤ 1×: ${metText(cpuRatio <= 1)})\n`,
      );
    }
    const worstRss = Math.max(...runs.shoal.map((r) => r.peakRssBytes));
    const rssOk = worstRss <= TARGET_RSS;
    process.stdout.write(
      `shoal       ${mbps(size, s.wallSeconds)} (best of ${runs.shoal.length}; transfer alone ${mbps(size, s.transferSeconds)}; ${cpuText(s)})\n`,
    );
    if (ltProblem !== undefined) {
      process.stdout.write(`libtorrent  skipped: ${ltProblem}\n`);
    } else {
      const l = best(runs.libtorrent);
      const ratio = l.wallSeconds / s.wallSeconds;
      process.stdout.write(
        `libtorrent  ${mbps(size, l.wallSeconds)} (best of ${runs.libtorrent.length}; transfer alone ${mbps(size, l.transferSeconds)}; ${cpuText(l)})\n`,
      );
      process.stdout.write(
        `ratio       shoal/libtorrent = ${ratio.toFixed(2)}× (target ≥ ${TARGET_RATIO}×: ${metText(ratio >= TARGET_RATIO)})\n`,
      );
      process.stdout.write(
        `peak RSS    libtorrent leecher ${mib(l.peakRssBytes)} (includes its memory-mapped file pages)\n`,
      );
    }
    process.stdout.write(
      `peak RSS    shoal leecher ${mib(worstRss)} at most over ${runs.shoal.length} runs (target ≤ ${mib(TARGET_RSS)}: ${metText(rssOk)})\n`,
    );
  } finally {
    await rm(sourceDir, { recursive: true, force: true });
    await rm(torrent, { force: true });
  }
}

/** Part 2: one rate-limited shoal seeder and eight shoal leechers that must trade. */
async function swarm(bench: Bench): Promise<void> {
  const size = envBytes('SHOAL_BENCH_SWARM_BYTES', SWARM_DEFAULT_BYTES);
  const deadline = new Deadline(partTimeoutMs(), 'part 2');
  const sourceDir = join(bench.dir, 'swarm-src');
  await mkdir(sourceDir);
  const source = join(sourceDir, FILE_NAME);
  const torrent = join(bench.dir, 'swarm.torrent');
  const outs: string[] = [];
  try {
    await writeContent(source, size);
    const sourceHash = await sha256File(source);
    await createTorrentFile(source, torrent, SWARM_PIECE);
    const tMin = size / SWARM_SEED_RATE;
    process.stdout.write(
      `${mib(size)} file, v1, ${SWARM_PIECE} pieces; seeder upload limit ${SWARM_SEED_RATE} B/s; ` +
        `${SWARM_LEECHERS} leechers\nT_min = F / u_s = ${size} / ${SWARM_SEED_RATE} = ${tMin.toFixed(2)} s\n`,
    );
    const { seeder, port } = await startShoalSeeder(
      bench,
      'swarm seeder',
      source,
      torrent,
      deadline,
      ['--upload-limit', String(SWARM_SEED_RATE)],
    );
    const ports = await freePorts(SWARM_LEECHERS);
    const peers = (i: number) =>
      [port, ...ports.filter((_, j) => j !== i)].flatMap((p) => ['--peer', `127.0.0.1:${p}`]);
    const args: string[][] = [];
    for (let i = 0; i < SWARM_LEECHERS; i++) {
      const out = await mkdtemp(join(bench.dir, `swarm-out-${i}-`));
      outs.push(out);
      const dataDir = await mkdtemp(join(bench.dir, `swarm-data-${i}-`));
      args.push([
        ...NODE_ARGS,
        SHOAL_CLI,
        'get',
        torrent,
        '-o',
        out,
        '--seed',
        ...peers(i),
        '--port',
        String(ports[i]),
        '--host',
        '127.0.0.1',
        '--data-dir',
        dataDir,
        ...GET_FLAGS,
      ]);
    }
    const seederCpu0 = seeder.cpuSeconds() ?? Number.NaN;
    const t0 = performance.now();
    const leechers = args.map((a, i) =>
      bench.children.spawn(`leecher ${i + 1}`, process.execPath, a, childEnv()).track(100),
    );
    const dones = await Promise.all(
      leechers.map((l) => l.waitFor((e) => e.event === 'done', deadline.left(), '"done" line')),
    );
    const last = Math.max(...dones.map((d) => d.at - t0)) / 1000;
    // One more progress round from everybody, so the upload counters include the end.
    const settle = performance.now();
    await Promise.all(
      [seeder, ...leechers].map((c) =>
        c
          .waitFor(
            (e) => e.event === 'progress' && e.at > settle,
            Math.min(3000, deadline.left()),
            'progress',
          )
          .catch(() => undefined),
      ),
    );
    const uploaded = (c: JsonChild): number => {
      for (let i = c.events.length - 1; i >= 0; i--) {
        const v = c.events[i]!.uploaded;
        if (typeof v === 'number') return v;
      }
      return 0;
    };
    const seederUp = uploaded(seeder);
    // When the seeder had sent one whole copy: from then on every byte it sends is a duplicate.
    const oneCopy = seeder.events.find((e) => typeof e.uploaded === 'number' && e.uploaded >= size);
    const seederCpu = (seeder.cpuSeconds() ?? Number.NaN) - seederCpu0;
    await bench.children.stopAll();

    let totalDown = 0;
    let totalUp = 0;
    let totalCpu = seederCpu;
    for (let i = 0; i < SWARM_LEECHERS; i++) {
      const d = dones[i]!;
      const down = num(d, 'downloaded');
      const up = uploaded(leechers[i]!);
      totalDown += down;
      totalUp += up;
      const started = leechers[i]!.last('started');
      totalCpu += d.cpu ?? Number.NaN;
      process.stdout.write(
        `  leecher ${i + 1}  started at ${started ? ((started.at - t0) / 1000).toFixed(2) : '?'} s, ` +
          `done at ${((d.at - t0) / 1000).toFixed(2)} s  downloaded ${mib(down)}  ` +
          `uploaded ${mib(up)}  peak RSS ${mib(leechers[i]!.peakRssBytes ?? Number.NaN)}  ` +
          `CPU ${(started?.cpu ?? Number.NaN).toFixed(2)} s to start, ${(d.cpu ?? Number.NaN).toFixed(2)} s to done\n`,
      );
    }
    for (let i = 0; i < SWARM_LEECHERS; i++)
      await verify(join(outs[i]!, FILE_NAME), sourceHash, `leecher ${i + 1}`);
    process.stdout.write(`all ${SWARM_LEECHERS} copies match the source (sha256)\n`);
    const needed = SWARM_LEECHERS * size;
    const firstDone = Math.min(...dones.map((d) => d.at - t0)) / 1000;
    const lastStart = Math.max(...leechers.map((l) => (l.last('started')?.at ?? t0) - t0)) / 1000;
    process.stdout.write(
      `seeder uploaded ${mib(seederUp)} = ${(seederUp / size).toFixed(2)} × the file (ideal 1.00 ×); ` +
        `leechers uploaded ${mib(totalUp)} to each other\n` +
        `the ${SWARM_LEECHERS} leechers needed ${mib(needed)} (downloaded ${mib(totalDown)}): ` +
        `${((100 * Math.max(0, needed - seederUp)) / needed).toFixed(0)}% at least came from other leechers; ` +
        `${mib(seederUp + totalUp)} sent in all = ${((seederUp + totalUp) / needed).toFixed(2)} × what was needed\n` +
        `first leecher done at ${firstDone.toFixed(2)} s; the last "started" line came at ${lastStart.toFixed(2)} s (process start-up)\n` +
        `the seeder had sent one copy by ${oneCopy ? ((oneCopy.at - t0) / 1000).toFixed(2) : '?'} s (progress lines come every second); ` +
        `CPU of the nine processes ${totalCpu.toFixed(1)} s (seeder ${seederCpu.toFixed(1)} s)\n`,
    );
    process.stdout.write(timeline(seeder, leechers, size, t0, last));
    const ratio = last / tMin;
    process.stdout.write(
      `last leecher done at ${last.toFixed(2)} s = ${ratio.toFixed(2)} × T_min ` +
        `(target ≤ ${SWARM_TARGET} × ${tMin.toFixed(2)} s = ${(SWARM_TARGET * tMin).toFixed(2)} s: ${metText(ratio <= SWARM_TARGET)})\n`,
    );
  } finally {
    await bench.children.stopAll();
    await rm(sourceDir, { recursive: true, force: true });
    await Promise.all(outs.map((o) => rm(o, { recursive: true, force: true })));
  }
}

/** Runs both parts and prints their figures; a part that fails does not stop the other. */
export async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-bench-transfer-'));
  const children = new Children(() => rmSync(dir, { recursive: true, force: true }));
  const bench: Bench = { dir, children };
  try {
    const parts: [string, string, (b: Bench) => Promise<void>][] = [
      ['p2p', 'part 1: one seeder → one leecher', pointToPoint],
      ['swarm', 'part 2: swarming, one seeder at 20 MB/s and 8 leechers', swarm],
    ];
    await runParts('SHOAL_BENCH_TRANSFER_PARTS', parts, bench, children);
  } finally {
    await children.close();
    await rm(dir, { recursive: true, force: true });
  }
}
