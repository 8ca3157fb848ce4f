/**
 * Benchmark `many`: one `shoal start` node seeding many small torrents (10,000, or
 * SHOAL_BENCH_MANY_TORRENTS). The torrents (a few KiB each, one piece) and the node's library
 * (`<data-dir>/torrents/`, as `shoal add` leaves it) are generated in a temp folder. The node
 * is started once to check the files and write resume data, stopped, then started again, which
 * is the measured start: spawn to "all seeding" (the `started` line, which `shoal start` prints
 * once every torrent of its library runs), resident memory per torrent after settling (against
 * a node with no torrents, measured in the same run), CPU over an idle period
 * (SHOAL_BENCH_MANY_IDLE_S, 30 s) and the files written in the data and download folders during
 * it (resume-data churn). libtorrent (a session adding the same torrents in seed mode) is
 * measured the same way when its Python bindings are installed. No trackers, DHT, LSD or
 * overlay: no traffic at all.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { encode } from '../src/codec/bencode.js';
import { PROBES, SHOAL_CLI, SYSTEM_PYTHON, toolProblem } from '../test/interop/helpers.js';
import { Children, envCount, type JsonChild, type JsonEvent } from './support.js';

const DEFAULT_TORRENTS = 10_000;
const DEFAULT_IDLE_S = 30;
const PIECE_LENGTH = 16 * 1024;
/** Time for the node to settle after start before memory and idle CPU are measured. */
const SETTLE_MS = 5000;
const TARGET_START_S = 30;
const TARGET_KIB_PER_TORRENT = 50;
const TARGET_IDLE_CPU = 0.02;

const cpuModel = (): string =>
  `${cpus()[0]?.model.trim() ?? 'unknown CPU'} (${cpus().length} CPUs)`;

/** The pieces of content of torrent `i`: 2–8 KiB, different for every torrent. */
function contentOf(i: number): Buffer {
  const length = 2048 + ((i * 2654435761) % 6144);
  const out = Buffer.alloc(length);
  for (let offset = 0, n = 0; offset < length; n++) {
    const block = createHash('sha256').update(`many ${i} ${n}`).digest();
    offset += block.copy(out, offset);
  }
  return out;
}

/**
 * Writes `count` one-file v1 torrents' content into `contentDir` and their library entries
 * (`.torrent` + `.json`) into `<dataDir>/torrents/`; returns the `.torrent` paths.
 */
async function generate(count: number, contentDir: string, dataDir: string): Promise<string[]> {
  const torrentsDir = join(dataDir, 'torrents');
  await mkdir(contentDir, { recursive: true });
  await mkdir(torrentsDir, { recursive: true });
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `file-${String(i).padStart(6, '0')}.bin`;
    const data = contentOf(i);
    await writeFile(join(contentDir, name), data);
    const info = {
      length: data.length,
      name: Buffer.from(name),
      'piece length': PIECE_LENGTH,
      pieces: createHash('sha1').update(data).digest(),
    };
    const infoHash = createHash('sha1').update(encode(info)).digest('hex');
    const torrentPath = join(torrentsDir, `${infoHash}.torrent`);
    await writeFile(torrentPath, encode({ info }));
    const entry = { infoHash, downloadDir: contentDir, paused: false };
    await writeFile(join(torrentsDir, `${infoHash}.json`), JSON.stringify(entry));
    paths.push(torrentPath);
  }
  return paths;
}

/** Resident memory of a process now (VmRSS), in bytes. */
function rssBytes(pid: number): number {
  const m = /^VmRSS:\s*(\d+)\s*kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for process ${pid}`);
  return Number(m[1]) * 1024;
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds used so far by each thread of a process, by thread name. */
function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cpu = (Number(fields[11]) + Number(fields[12])) / 100;
      out.set(name, (out.get(name) ?? 0) + cpu);
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** Which threads used the CPU between two {@link threadCpu} readings, busiest first. */
function threadShares(before: Map<string, number>, after: Map<string, number>, s: number): string {
  return [...after]
    .map(([name, cpu]) => [name, (cpu - (before.get(name) ?? 0)) / s] as const)
    .filter(([, share]) => share >= 0.001)
    .sort((a, b) => b[1] - a[1])
    .map(([name, share]) => `${name} ${(share * 100).toFixed(1)}%`)
    .join(', ');
}

/** Files under `dir` modified at or after `sinceMs` (wall clock). */
async function filesWrittenSince(dir: string, sinceMs: number): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const s = await stat(path).catch(() => undefined);
    if (s && s.mtimeMs >= sinceMs) out.push(path.slice(dir.length + 1));
  }
  return out;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Settled {
  readonly startSeconds: number;
  readonly seeding: number;
  readonly rss: number;
  readonly idleCpu: number;
  /** CPU by thread over the idle period. */
  readonly threads: string;
  /** The files written during the idle period. */
  readonly written: readonly string[];
}

/**
 * Starts `shoal start` on `dataDir`, waits for its `started` line, lets it settle, and
 * measures it idle for `idleS` seconds (files written counted under `watchDirs`).
 */
async function measureShoal(
  children: Children,
  label: string,
  dataDir: string,
  idleS: number,
  watchDirs: readonly string[],
): Promise<Settled> {
  const child = spawnShoal(children, label, dataDir);
  const started = await untilStarted(child);
  const startSeconds = (started.at - child.spawnedAt) / 1000;
  const seeding = child.events.filter((e) => e.event === 'torrent' && e.state === 'seeding').length;
  await sleep(SETTLE_MS);
  const pid = child.pid!;
  const rss = rssBytes(pid);
  let idleCpu = 0;
  let threads = '';
  const written: string[] = [];
  if (idleS > 0) {
    const since = Date.now();
    const cpu0 = cpuSecondsOf(pid);
    const threads0 = threadCpu(pid);
    const t0 = performance.now();
    await sleep(idleS * 1000);
    const seconds = (performance.now() - t0) / 1000;
    idleCpu = (cpuSecondsOf(pid) - cpu0) / seconds;
    threads = threadShares(threads0, threadCpu(pid), seconds);
    for (const dir of watchDirs) written.push(...(await filesWrittenSince(dir, since)));
  }
  await stopShoal(child);
  return { startSeconds, seeding, rss, idleCpu, threads, written };
}

/**
 * Waits for the `started` line and the per-torrent lines after it; then a moment, since the
 * node listens for SIGTERM only once it has printed them.
 */
async function untilStarted(child: JsonChild): Promise<JsonEvent> {
  const started = await child.waitFor((e) => e.event === 'started', 600_000, 'started');
  const count = Number(started.torrents);
  let seen = 0;
  await child
    .waitFor(
      (e) => e.event === 'torrent' && ++seen >= count,
      count === 0 ? 0 : 60_000,
      'every torrent line',
    )
    .catch((error: unknown) => {
      if (count > 0) throw error;
    });
  await sleep(200);
  return started;
}

function spawnShoal(children: Children, label: string, dataDir: string): JsonChild {
  const args = [
    ...(process.env.SHOAL_BENCH_MANY_PROFILE
      ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SHOAL_BENCH_MANY_PROFILE}`]
      : []),
    SHOAL_CLI,
    'start',
    '--json',
    '--data-dir',
    dataDir,
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--no-dht',
    '--no-overlay',
    '--no-api',
  ];
  return children.spawn(label, process.execPath, args, {
    ...process.env,
    SHOAL_EGRESS: 'loopback',
  });
}

async function stopShoal(child: JsonChild): Promise<number> {
  const t0 = performance.now();
  child.proc.kill('SIGTERM');
  const exit = await child.waitExit(600_000);
  if (exit.code !== 0)
    throw new Error(`${child.label} exited with ${exit.code ?? exit.signal}:\n${child.output()}`);
  return (performance.now() - t0) / 1000;
}

/**
 * Adds every torrent given on stdin (one path a line) to a session in seed mode, saving into
 * argv[1]; prints `seeding` once all are, then `settled` after the settling time.
 */
const LIBTORRENT_SCRIPT = `
import json, sys, time
import libtorrent as lt
save, idle, settle = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
ses = lt.session({
    'listen_interfaces': '127.0.0.1:0', 'outgoing_interfaces': '127.0.0.1',
    'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
    'dht_bootstrap_nodes': '', 'active_limit': -1, 'active_seeds': -1, 'active_downloads': -1,
    'alert_mask': 0,
})
paths = [l.strip() for l in sys.stdin if l.strip()]
for p in paths:
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(p)
    params.save_path = save
    params.flags |= lt.torrent_flags.seed_mode
    params.flags &= ~lt.torrent_flags.auto_managed
    params.flags &= ~lt.torrent_flags.paused
    ses.async_add_torrent(params)
def seeding():
    hs = ses.get_torrents()
    return len(hs) == len(paths) and all(h.status().state == lt.torrent_status.seeding for h in hs)
deadline = time.time() + 600
while not seeding():
    if time.time() > deadline:
        print(json.dumps({'event': 'error', 'message': 'not all seeding in 600 s'})); sys.exit(1)
    time.sleep(0.05)
print(json.dumps({'event': 'seeding', 'torrents': len(paths)}), flush=True)
sys.stdin.close()
time.sleep(settle)
print(json.dumps({'event': 'settled'}), flush=True)
time.sleep(idle + 600)
`;

async function measureLibtorrent(
  children: Children,
  torrents: readonly string[],
  saveDir: string,
  idleS: number,
): Promise<Settled> {
  const child = children.spawn(
    'libtorrent',
    SYSTEM_PYTHON,
    ['-c', LIBTORRENT_SCRIPT, saveDir, String(idleS), String(SETTLE_MS / 1000)],
    process.env,
  );
  child.proc.stdin!.end(`${torrents.join('\n')}\n`);
  const seedingAt = await child.waitFor((e) => e.event === 'seeding', 600_000, 'seeding');
  await child.waitFor((e) => e.event === 'settled', 60_000, 'settled');
  const pid = child.pid!;
  const rss = rssBytes(pid);
  let idleCpu = 0;
  if (idleS > 0) {
    const cpu0 = cpuSecondsOf(pid);
    const t0 = performance.now();
    await sleep(idleS * 1000);
    idleCpu = (cpuSecondsOf(pid) - cpu0) / ((performance.now() - t0) / 1000);
  }
  await child.stop();
  return {
    startSeconds: (seedingAt.at - child.spawnedAt) / 1000,
    seeding: Number(seedingAt.torrents),
    rss,
    idleCpu,
    threads: '',
    written: [],
  };
}

const verdict = (ok: boolean) => (ok ? 'pass' : 'FAIL');

/** Runs the benchmark and prints its figures. */
export async function run(): Promise<void> {
  const count = envCount('SHOAL_BENCH_MANY_TORRENTS', DEFAULT_TORRENTS, 0);
  const idleS = envCount('SHOAL_BENCH_MANY_IDLE_S', DEFAULT_IDLE_S, 0);
  const dir = await mkdtemp(join(tmpdir(), 'shoal-bench-many-'));
  const children = new Children(() => rmSync(dir, { recursive: true, force: true }));
  try {
    process.stdout.write(`${count} torrents, idle period ${idleS} s, on ${cpuModel()}\n`);
    const contentDir = join(dir, 'content');
    const dataDir = join(dir, 'data');
    let t = performance.now();
    const torrents = await generate(count, contentDir, dataDir);
    process.stdout.write(
      `generated in ${((performance.now() - t) / 1000).toFixed(1)} s (one piece of 2–8 KiB each)\n`,
    );

    // First start: no resume data yet, so every torrent's files are checked; the stop writes it.
    const first = spawnShoal(children, 'shoal (first start)', dataDir);
    const firstStarted = await untilStarted(first);
    const firstS = (firstStarted.at - first.spawnedAt) / 1000;
    t = performance.now();
    const stopS = await stopShoal(first);
    const resumeFiles = (await readdir(join(dataDir, 'torrents'))).filter((n) =>
      n.endsWith('.resume'),
    ).length;
    process.stdout.write(
      `first start (files checked): ${firstS.toFixed(2)} s to all started; stop ${stopS.toFixed(2)} s; ${resumeFiles} resume files\n`,
    );

    const empty = await measureShoal(children, 'shoal (no torrents)', join(dir, 'empty'), 0, []);
    const shoal = await measureShoal(children, 'shoal', dataDir, idleS, [dataDir, contentDir]);
    const perTorrent = count > 0 ? (shoal.rss - empty.rss) / count : 0;
    const line = (what: string, value: string, target: string, ok: boolean) =>
      process.stdout.write(
        `${what.padEnd(28)} ${value.padEnd(22)} ${target.padEnd(14)} ${verdict(ok)}\n`,
      );
    process.stdout.write('-- shoal (restart with resume data)\n');
    line(
      'start to all seeding',
      `${shoal.startSeconds.toFixed(2)} s (${shoal.seeding}/${count})`,
      `≤ ${TARGET_START_S} s`,
      shoal.startSeconds <= TARGET_START_S && shoal.seeding === count,
    );
    line(
      'resident per torrent',
      `${(perTorrent / 1024).toFixed(1)} KiB`,
      `≤ ${TARGET_KIB_PER_TORRENT} KiB`,
      perTorrent <= TARGET_KIB_PER_TORRENT * 1024,
    );
    process.stdout.write(
      `  (RSS ${(shoal.rss / 1024 ** 2).toFixed(1)} MiB, with no torrents ${(empty.rss / 1024 ** 2).toFixed(1)} MiB)\n`,
    );
    if (idleS > 0) {
      line(
        'idle CPU',
        `${(shoal.idleCpu * 100).toFixed(2)}% of a core`,
        `≤ ${TARGET_IDLE_CPU * 100}%`,
        shoal.idleCpu <= TARGET_IDLE_CPU,
      );
      process.stdout.write(`  (by thread: ${shoal.threads || 'none'})\n`);
      line(
        `files written in ${idleS} s idle`,
        String(shoal.written.length),
        '0',
        shoal.written.length === 0,
      );
      if (shoal.written.length > 0)
        process.stdout.write(`  (e.g. ${shoal.written.slice(0, 3).join(', ')})\n`);
    }

    const ltProblem = toolProblem('libtorrent', PROBES.libtorrent);
    if (ltProblem !== undefined) {
      process.stdout.write(`libtorrent skipped: ${ltProblem}\n`);
      return;
    }
    const lt = await measureLibtorrent(children, torrents, contentDir, idleS);
    const ltEmpty = await measureLibtorrent(children, [], contentDir, 0);
    const ltPer = count > 0 ? (lt.rss - ltEmpty.rss) / count : 0;
    process.stdout.write('-- libtorrent (seed mode)\n');
    process.stdout.write(
      `start to all seeding         ${lt.startSeconds.toFixed(2)} s (${lt.seeding}/${count}); shoal/libtorrent time ${(shoal.startSeconds / lt.startSeconds).toFixed(2)}×\n`,
    );
    process.stdout.write(
      `resident per torrent         ${(ltPer / 1024).toFixed(1)} KiB (RSS ${(lt.rss / 1024 ** 2).toFixed(1)} MiB, empty ${(ltEmpty.rss / 1024 ** 2).toFixed(1)} MiB); shoal/libtorrent ${(perTorrent / ltPer).toFixed(2)}×\n`,
    );
    if (idleS > 0)
      process.stdout.write(
        `idle CPU                     ${(lt.idleCpu * 100).toFixed(2)}% of a core\n`,
      );
  } finally {
    await children.close();
    await rm(dir, { recursive: true, force: true });
  }
}
