/**
 * Benchmark `tracker`: announces per second and latency of `shoal tracker` and of opentracker
 * (the Debian package), in the same run, on 127.0.0.1.
 *
 * A bounded load generator (bench/tracker-load.ts, a Node process of its own) announces to
 * each tracker in turn for SHOAL_BENCH_TRACKER_SECONDS (10 s by default) after a 1 s warm-up,
 * with random info-hashes from a pool of 1000 torrents, random peer ids and ports, numwant 50:
 *
 * - UDP (BEP 15): 16 simulated clients (sockets), each connects once, 64 announces outstanding
 *   in all, the next sent as each reply arrives;
 * - HTTP: 16 concurrent connections, a new TCP connection per announce for both trackers, as
 *   opentracker closes every connection after its reply (shoal answers `Connection: close`
 *   the same way); and, for shoal alone, the same over keep-alive connections.
 *
 * Each phase runs SHOAL_BENCH_TRACKER_ROUNDS times (2 by default; the order of the trackers
 * alternates) and the best counts. Prints announces/s, p50 and p99 latency, the CPU the tracker
 * and the generator used in the measured window, and the ratios shoal/opentracker.
 * Target: UDP ≥ 0.5× opentracker. shoal runs with `--rate-limit 0` (one source address would
 * otherwise be throttled); opentracker, which the Debian build compiles with a whitelist only,
 * gets the pool as its whitelist and runs as `nobody`. Without opentracker only shoal is
 * measured. Errors in more than 1 % of the replies, or a crash, make the benchmark exit
 * non-zero; a missed target is only reported.
 */
import { rmSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeUdpPort, PROBES, SHOAL_CLI, toolProblem } from '../test/interop/helpers.js';
import { Children, freePorts, type JsonChild } from './support.js';
import { infoHashPool, type LoadConfig, type LoadResult } from './tracker-load.js';

const HOST = '127.0.0.1';
const POOL_SIZE = 1000;
const NUM_WANT = 50;
const UDP_CLIENTS = 16;
const UDP_WINDOW = 64;
const HTTP_CONNECTIONS = 16;
const WARMUP_SECONDS = 1;
const MAX_REQUESTS = 5_000_000;
const TARGET_UDP_RATIO = 0.5;
const LOAD_SCRIPT = fileURLToPath(new URL('./tracker-load.js', import.meta.url));

type TrackerName = 'shoal' | 'opentracker';
type Mode = 'udp' | 'http' | 'http-keepalive';

interface Tracker {
  readonly name: TrackerName;
  readonly child: JsonChild;
  readonly httpPort: number;
  readonly udpPort: number;
}

interface PhaseResult extends LoadResult {
  /** CPU seconds the tracker used in the measured window. */
  readonly trackerCpu: number;
}

/** A positive number from environment variable `name`, or `fallback`. */
function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!(n > 0)) throw new Error(`${name}="${raw}" is not a positive number`);
  return n;
}

async function startShoal(children: Children): Promise<Tracker> {
  const [httpPort] = await freePorts(1);
  const udpPort = await freeUdpPort(HOST);
  const child = children.spawn(
    'shoal tracker',
    process.execPath,
    [
      SHOAL_CLI,
      'tracker',
      '--host',
      HOST,
      '--http-port',
      String(httpPort),
      '--udp-port',
      String(udpPort),
      '--rate-limit',
      '0',
      '--json',
    ],
    { ...process.env, SHOAL_EGRESS: 'loopback' },
  );
  await child.waitFor((e) => e.event === 'listening', 15_000, 'listening');
  return { name: 'shoal', child, httpPort: httpPort!, udpPort };
}

/**
 * opentracker on 127.0.0.1 with the pool as its whitelist, as `nobody`, chrooted to `dir`
 * (mode 755, whitelist 644 so that `nobody` can read it); resolves once it answers an announce
 * for a whitelisted hash (it loads the whitelist in the background).
 */
async function startOpentracker(
  children: Children,
  dir: string,
  pool: readonly Buffer[],
): Promise<Tracker> {
  await chmod(dir, 0o755);
  const list = join(dir, 'whitelist.txt');
  await writeFile(list, `${pool.map((h) => h.toString('hex')).join('\n')}\n`);
  await chmod(list, 0o644);
  const [httpPort] = await freePorts(1);
  const udpPort = await freeUdpPort(HOST);
  const child = children.spawn(
    'opentracker',
    'opentracker',
    [
      '-i',
      HOST,
      '-p',
      String(httpPort),
      '-P',
      String(udpPort),
      '-d',
      dir,
      '-u',
      'nobody',
      '-w',
      'whitelist.txt',
    ],
    process.env,
  );
  const enc = (b: Buffer) => [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('');
  const probe =
    `http://${HOST}:${httpPort}/announce?info_hash=${enc(pool[0]!)}` +
    `&peer_id=${enc(Buffer.from('-BN0001-probeprobe00'))}&port=1&uploaded=0&downloaded=0` +
    '&left=0&compact=1&event=stopped';
  const deadline = performance.now() + 15_000;
  for (;;) {
    if (child.exit !== undefined) throw new Error(`opentracker exited:\n${child.output()}`);
    try {
      const res = await fetch(probe, { signal: AbortSignal.timeout(2000) });
      const body = Buffer.from(await res.arrayBuffer()).toString('latin1');
      if (res.status === 200 && body.includes('8:interval')) break;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline)
      throw new Error(`opentracker does not serve its whitelist:\n${child.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { name: 'opentracker', child, httpPort: httpPort!, udpPort };
}

/** One phase: the generator against `tracker` with `mode`; samples the tracker's CPU. */
async function phase(
  children: Children,
  tracker: Tracker,
  mode: Mode,
  seconds: number,
): Promise<PhaseResult> {
  const config: LoadConfig = {
    protocol: mode === 'udp' ? 'udp' : 'http',
    host: HOST,
    port: mode === 'udp' ? tracker.udpPort : tracker.httpPort,
    seconds,
    warmupSeconds: WARMUP_SECONDS,
    maxRequests: MAX_REQUESTS,
    window: mode === 'udp' ? UDP_WINDOW : HTTP_CONNECTIONS,
    clients: UDP_CLIENTS,
    keepAlive: mode === 'http-keepalive',
    poolSize: POOL_SIZE,
    numWant: NUM_WANT,
  };
  const gen = children.spawn(
    `load generator (${tracker.name} ${mode})`,
    process.execPath,
    [LOAD_SCRIPT, JSON.stringify(config)],
    process.env,
  );
  const limit = (WARMUP_SECONDS + seconds + 30) * 1000;
  await gen.waitFor((e) => e.event === 'measuring', limit, 'the measured window');
  const cpu0 = tracker.child.cpuSeconds();
  await gen.waitFor((e) => e.event === 'measured', limit, 'the end of the window');
  const cpu1 = tracker.child.cpuSeconds();
  const result = await gen.waitFor((e) => e.event === 'result', 30_000, 'its result');
  await gen.waitExit(10_000);
  if (tracker.child.exit !== undefined)
    throw new Error(`${tracker.name} exited during the ${mode} phase:\n${tracker.child.output()}`);
  const { at: _at, cpu: _cpu, event: _event, ...figures } = result;
  return {
    ...(figures as unknown as LoadResult),
    trackerCpu: cpu0 !== undefined && cpu1 !== undefined ? cpu1 - cpu0 : Number.NaN,
  };
}

const fmtRate = (n: number) => Math.round(n).toLocaleString('en-US').padStart(9);
const ms = (n: number) => `${n.toFixed(2)} ms`;
const pct = (cpu: number, s: number) => `${Math.round((100 * cpu) / s)}%`;

function describe(mode: Mode, name: TrackerName, r: PhaseResult): string {
  const perCpu = r.trackerCpu > 0 ? Math.round(r.announces / r.trackerCpu) : Number.NaN;
  return (
    `  ${mode.padEnd(14)} ${name.padEnd(11)} ${fmtRate(r.perSecond)} announces/s  ` +
    `p50 ${ms(r.p50Ms).padStart(9)}  p99 ${ms(r.p99Ms).padStart(9)}  ` +
    `tracker CPU ${pct(r.trackerCpu, r.seconds).padStart(4)} (${fmtRate(perCpu).trim()}/CPU-s)  ` +
    `generator CPU ${pct(r.cpuSeconds, r.seconds).padStart(4)}  ` +
    `${r.errors} errors, ${r.lost} lost${r.errorSample ? ` (${r.errorSample})` : ''}\n`
  );
}

/** Runs the benchmark and prints its figures. */
export async function run(): Promise<void> {
  const seconds = envNumber('SHOAL_BENCH_TRACKER_SECONDS', 10);
  const rounds = Math.floor(envNumber('SHOAL_BENCH_TRACKER_ROUNDS', 2));
  const otProblem = toolProblem('opentracker', PROBES.opentracker);
  const dir = await mkdtemp(join(tmpdir(), 'shoal-bench-tracker-'));
  const children = new Children(() => rmSync(dir, { recursive: true, force: true }));
  const pool = infoHashPool(POOL_SIZE);
  try {
    const trackers: Tracker[] = [await startShoal(children)];
    if (otProblem === undefined) trackers.push(await startOpentracker(children, dir, pool));
    process.stdout.write(
      `pool of ${POOL_SIZE} torrents, numwant ${NUM_WANT}, ${seconds} s per phase after a ` +
        `${WARMUP_SECONDS} s warm-up, best of ${rounds} round(s)\n` +
        `UDP: ${UDP_CLIENTS} clients (connect once each), ${UDP_WINDOW} announces outstanding; ` +
        `HTTP: ${HTTP_CONNECTIONS} connections, a new one per announce (opentracker closes ` +
        'each after its reply), plus keep-alive for shoal alone\n' +
        `note: ${cpus().length} CPUs shared by the tracker and the load generator (one Node ` +
        'process), so a fast tracker is held back by the generator: compare the ratios, and ' +
        'the announces per tracker CPU-second\n',
    );
    if (otProblem !== undefined) process.stdout.write(`opentracker skipped: ${otProblem}\n`);

    const best = new Map<string, PhaseResult>();
    const modes: Mode[] = ['udp', 'http', 'http-keepalive'];
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? trackers : [...trackers].reverse();
      for (const mode of modes) {
        for (const tracker of order) {
          if (mode === 'http-keepalive' && tracker.name !== 'shoal') continue;
          const r = await phase(children, tracker, mode, seconds);
          process.stdout.write(`  round ${round + 1}${describe(mode, tracker.name, r)}`);
          const replies = r.announces + r.errors;
          if (r.announces === 0 || r.errors > 0.01 * replies) {
            process.stdout.write(
              `FAILED: ${tracker.name} ${mode}: ${r.errors} errors in ${replies} replies\n`,
            );
            process.exitCode = 1;
          }
          const key = `${mode}/${tracker.name}`;
          const prev = best.get(key);
          if (!prev || r.perSecond > prev.perSecond) best.set(key, r);
        }
      }
    }

    process.stdout.write(`best of ${rounds}:\n`);
    for (const mode of modes) {
      for (const t of trackers) {
        const r = best.get(`${mode}/${t.name}`);
        if (r) process.stdout.write(describe(mode, t.name, r));
      }
    }
    for (const mode of ['udp', 'http'] as const) {
      const s = best.get(`${mode}/shoal`);
      const o = best.get(`${mode}/opentracker`);
      if (!s || !o) continue;
      const ratio = s.perSecond / o.perSecond;
      const cpuRatio = s.announces / s.trackerCpu / (o.announces / o.trackerCpu);
      const target =
        mode === 'udp'
          ? ` (target ≥ ${TARGET_UDP_RATIO}×: ${ratio >= TARGET_UDP_RATIO ? 'met' : 'NOT met'})`
          : '';
      process.stdout.write(
        `ratio ${mode.padEnd(4)} shoal/opentracker: ${ratio.toFixed(2)}× announces/s${target}; ` +
          `p50 ${(s.p50Ms / o.p50Ms).toFixed(2)}×, p99 ${(s.p99Ms / o.p99Ms).toFixed(2)}× ` +
          `latency; ${cpuRatio.toFixed(2)}× announces per tracker CPU-second\n`,
      );
    }
  } finally {
    await children.close();
    await rm(dir, { recursive: true, force: true });
  }
}
