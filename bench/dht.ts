/**
 * Benchmark `dht`: shoal's mainline DHT node next to the npm `bittorrent-dht` package (v11),
 * measured in the same run, on loopback addresses only. Every node and load generator is a
 * child process (bench/dht-worker.ts); this process only starts them and reports.
 *
 * 1. Queries per second one node serves. A node (rate limit off for shoal: ratePerSecond 0),
 *    whose routing table 40 idle shoal nodes have filled, is loaded by a generator process with
 *    16 client sockets on their own addresses and SHOAL_BENCH_DHT_WINDOW (64) queries
 *    outstanding — ping, find_node and get_peers in turn, random targets — for
 *    SHOAL_BENCH_DHT_SECONDS (10) after a 1 s warm-up. A query unanswered after 1 s is lost.
 *    Reported: replies/s, p50/p99 latency, mean reply size, and the CPU the node and the
 *    generator used. SHOAL_BENCH_DHT_ROUNDS (2) rounds, alternating order; the best counts.
 * 2. Lookup time. SHOAL_BENCH_DHT_NODES (200) nodes of one implementation in one process on
 *    127.0.x.y addresses; 20 info-hashes each announced by 3 of them; then a fresh node of the
 *    same implementation, in a process of its own, joins and runs SHOAL_BENCH_DHT_LOOKUPS (100)
 *    get_peers lookups one after another. Reported: p50/p99 time to the end of a lookup and to
 *    its first peer, how many lookups found a peer and how many peers (of 3) on average, hops
 *    (shoal) and nodes queried (shoal) or answering (bittorrent-dht) per lookup. The two
 *    implementations search differently —
 *    shoal α = 3, k = 8; bittorrent-dht 16 queries in flight, k = 20 — so both times matter.
 *
 * SHOAL_BENCH_DHT_PARTS picks the parts (`qps`, `lookup`; both by default). A crashed child or
 * a lookup part where no lookup finds a peer makes the benchmark exit non-zero.
 */
import { fileURLToPath } from 'node:url';
import type { Impl, LoadResult, LookupResult, WorkerConfig } from './dht-worker.js';
import { Children, Deadline, type JsonChild, type JsonEvent, runParts } from './support.js';

const WORKER = fileURLToPath(new URL('./dht-worker.js', import.meta.url));
const IMPLS: readonly Impl[] = ['shoal', 'bittorrent-dht'];
const FILLERS = 40;
const SOURCES = 16;
const WARMUP_SECONDS = 1;
const LOST_AFTER_MS = 1000;
const HASHES = 20;

/** Loopback /24s of each role and implementation, clear of the tests' and other benches'. */
const SUBNET = {
  serve: { shoal: 150, 'bittorrent-dht': 151 },
  fillers: { shoal: 152, 'bittorrent-dht': 153 },
  sources: { shoal: 154, 'bittorrent-dht': 155 },
  // A network of up to 1000 nodes spans four /24s.
  net: { shoal: 160, 'bittorrent-dht': 170 },
  lookup: { shoal: 180, 'bittorrent-dht': 181 },
} as const;

/** A positive number from environment variable `name`, or `fallback`. */
function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!(n > 0)) throw new Error(`${name}="${raw}" is not a positive number`);
  return n;
}

const childEnv = (): NodeJS.ProcessEnv => ({ ...process.env, SHOAL_EGRESS: 'loopback' });

function spawnWorker(children: Children, label: string, config: WorkerConfig): JsonChild {
  return children.spawn(label, process.execPath, [WORKER, JSON.stringify(config)], childEnv());
}

const ev = (e: JsonEvent) => e as unknown as Record<string, unknown>;
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '–');
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '–');
const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');

// ---------------------------------------------------------------- part 1: queries per second

interface QpsRun extends LoadResult {
  readonly nodeCpu: number;
  readonly tableSize: number;
}

async function qpsRound(children: Children, impl: Impl, deadline: Deadline): Promise<QpsRun> {
  const host = `127.0.${SUBNET.serve[impl]}.1`;
  const node = spawnWorker(children, `${impl} node`, {
    role: 'serve',
    impl,
    host,
    fillers: FILLERS,
    fillerSubnet: SUBNET.fillers[impl],
  });
  try {
    const ready = await node.waitFor((e) => e.event === 'ready', deadline.left(), '"ready"');
    const seconds = envNumber('SHOAL_BENCH_DHT_SECONDS', 10);
    const gen = spawnWorker(children, `load generator → ${impl}`, {
      role: 'load',
      host,
      port: Number(ev(ready).port),
      sources: SOURCES,
      sourceSubnet: SUBNET.sources[impl],
      window: envNumber('SHOAL_BENCH_DHT_WINDOW', 64),
      seconds,
      warmupSeconds: WARMUP_SECONDS,
      lostAfterMs: LOST_AFTER_MS,
    });
    await gen.waitFor((e) => e.event === 'measuring', deadline.left(), '"measuring"');
    const cpu0 = node.cpuSeconds() ?? Number.NaN;
    await gen.waitFor((e) => e.event === 'measured', deadline.left(), '"measured"');
    const cpu1 = node.cpuSeconds() ?? Number.NaN;
    const result = await gen.waitFor((e) => e.event === 'result', deadline.left(), '"result"');
    if (node.exit !== undefined) throw new Error(`${impl} node exited:\n${node.output()}`);
    return {
      ...(ev(result) as unknown as LoadResult),
      nodeCpu: cpu1 - cpu0,
      tableSize: Number(ev(ready).tableSize),
    };
  } finally {
    await node.stop();
  }
}

async function qps(children: Children): Promise<void> {
  const rounds = envNumber('SHOAL_BENCH_DHT_ROUNDS', 2);
  const deadline = new Deadline(120_000 + rounds * 60_000, 'qps');
  const runs = new Map<Impl, QpsRun[]>(IMPLS.map((i) => [i, []]));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? IMPLS : [...IMPLS].reverse();
    for (const impl of order) {
      const run = await qpsRound(children, impl, deadline);
      runs.get(impl)!.push(run);
      process.stdout.write(
        `   round ${r + 1} ${impl.padEnd(14)} ${int(run.perSecond).padStart(8)} replies/s  ` +
          `p99 ${f2(run.p99Ms)} ms  lost ${run.lost}\n`,
      );
    }
  }
  const best = (impl: Impl) =>
    runs.get(impl)!.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
  process.stdout.write(
    `   ${'node'.padEnd(14)} ${'replies/s'.padStart(10)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ` +
      `${'max ms'.padStart(7)} ${'lost'.padStart(6)} ${'errors'.padStart(6)} ${'bytes/reply'.padStart(11)} ` +
      `${'table'.padStart(5)} ${'node CPU s'.padStart(10)} ${'gen CPU s'.padStart(9)}\n`,
  );
  for (const impl of IMPLS) {
    const b = best(impl);
    process.stdout.write(
      `   ${impl.padEnd(14)} ${int(b.perSecond).padStart(10)} ${f2(b.p50Ms).padStart(7)} ${f2(b.p99Ms).padStart(7)} ` +
        `${f1(b.maxMs).padStart(7)} ${String(b.lost).padStart(6)} ${String(b.errors).padStart(6)} ` +
        `${f1(b.meanReplyBytes).padStart(11)} ${String(b.tableSize).padStart(5)} ` +
        `${f2(b.nodeCpu).padStart(10)} ${f2(b.cpuSeconds).padStart(9)}\n`,
    );
  }
  const ratio = best('shoal').perSecond / best('bittorrent-dht').perSecond;
  process.stdout.write(`   shoal / bittorrent-dht: ${f2(ratio)}× replies/s\n`);
}

// ---------------------------------------------------------------- part 2: lookups

async function lookupRun(children: Children, impl: Impl, deadline: Deadline): Promise<void> {
  const count = envNumber('SHOAL_BENCH_DHT_NODES', 200);
  if (count > 1000) throw new Error('SHOAL_BENCH_DHT_NODES is at most 1000');
  const lookups = envNumber('SHOAL_BENCH_DHT_LOOKUPS', 100);
  const network = spawnWorker(children, `${impl} network`, {
    role: 'net',
    impl,
    count,
    subnet: SUBNET.net[impl],
    hashes: HASHES,
  });
  try {
    const ready = ev(await network.waitFor((e) => e.event === 'ready', deadline.left(), '"ready"'));
    const client = spawnWorker(children, `${impl} lookups`, {
      role: 'lookup',
      impl,
      host: `127.0.${SUBNET.lookup[impl]}.1`,
      bootstrap: (ready.bootstrap as string[]).slice(0, 1),
      hashes: ready.hashes as string[],
      lookups,
    });
    const r = ev(
      await client.waitFor((e) => e.event === 'result', deadline.left(), '"result"'),
    ) as unknown as LookupResult;
    if (network.exit !== undefined) throw new Error(`${impl} network exited:\n${network.output()}`);
    process.stdout.write(
      `   ${impl.padEnd(14)} ${String(count).padStart(5)} ${f1(Number(ready.meanTable)).padStart(6)} ` +
        `${f1(Number(ready.setupMs) / 1000).padStart(7)} ${f1(r.joinMs).padStart(7)} ` +
        `${`${r.found}/${r.lookups}`.padStart(7)} ${f1(r.p50Ms).padStart(7)} ${f1(r.p99Ms).padStart(7)} ` +
        `${f1(r.firstPeerP50Ms).padStart(8)} ${f1(r.firstPeerP99Ms).padStart(8)} ` +
        `${(Number.isFinite(r.hopsP50) ? `${r.hopsP50}/${r.hopsMax}` : '–').padStart(6)} ` +
        `${f1(r.queriedP50).padStart(7)} ${f1(r.peersMean).padStart(5)}\n`,
    );
    if (r.found === 0) {
      process.stdout.write(`   FAILED: no ${impl} lookup found a peer\n`);
      process.exitCode = 1;
    }
  } finally {
    await network.stop();
  }
}

async function lookup(children: Children): Promise<void> {
  const deadline = new Deadline(600_000, 'lookup');
  process.stdout.write(
    `   ${'network'.padEnd(14)} ${'nodes'.padStart(5)} ${'table'.padStart(6)} ${'setup s'.padStart(7)} ` +
      `${'join ms'.padStart(7)} ${'found'.padStart(7)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ` +
      `${'1st p50'.padStart(8)} ${'1st p99'.padStart(8)} ${'hops'.padStart(6)} ${'queried'.padStart(7)} ` +
      `${'peers'.padStart(5)}\n`,
  );
  for (const impl of IMPLS) await lookupRun(children, impl, deadline);
  process.stdout.write(
    '   (hops: median/max depth of the closest node reached, shoal only; queried: nodes shoal\n' +
      '    asked, or nodes that answered bittorrent-dht, per lookup, median; peers: found per\n' +
      `    lookup, mean, of the 3 that announced each hash)\n`,
  );
}

export async function run(): Promise<void> {
  const children = new Children();
  try {
    const parts: [string, string, (c: Children) => Promise<void>][] = [
      ['qps', 'part 1: queries per second one node serves', qps],
      ['lookup', 'part 2: get_peers lookups in a loopback DHT', lookup],
    ];
    await runParts('SHOAL_BENCH_DHT_PARTS', parts, children, children);
  } finally {
    await children.close();
  }
}
