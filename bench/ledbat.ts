/**
 * Benchmark `ledbat`: does uTP's LEDBAT yield to TCP on a slow link, as BEP 29 intends?
 *
 * Three network namespaces in a row, sender → router → receiver, joined by veth pairs; the
 * router's link towards the receiver is limited with `tc … tbf` (2 MB/s by default, a buffer
 * of 250 ms at that rate, as a home router's uplink). A receiver (bench/ledbat-peer.ts) at one
 * end and a sender at the other then run:
 *
 * 1. probes only (1.5 s): the base round-trip time of a small UDP echo through the link;
 * 2. one uTP connection pushing as fast as it may (10 s): its throughput, and the queueing
 *    delay it adds (probe RTT minus the base), measured after 3 s of ramp-up;
 * 3. one TCP connection joins (15 s): each one's share of the link, measured after 5 s.
 *
 * Targets (issue 16): with TCP running, uTP takes ≤ 10 % of the link; alone, uTP adds
 * ≤ 100 ms of queueing delay. SHOAL_BENCH_LEDBAT_RATE (bytes/s) and
 * SHOAL_BENCH_LEDBAT_SECONDS (the uTP-alone and shared phases, e.g. "10,15") and
 * SHOAL_BENCH_LEDBAT_TCP_CC (the TCP flow's congestion control, `cubic` by default) change
 * the run.
 */
import { fileURLToPath } from 'node:url';
import { run as runCommand } from '../test/interop/helpers.js';
import { Children, envBytes } from './support.js';

const PEER = fileURLToPath(new URL('./ledbat-peer.js', import.meta.url));

/** How {@link measureLedbat} shapes the link and how long each phase lasts. */
export interface LedbatOptions {
  readonly rateBytesPerSecond: number;
  /** The bottleneck's buffer, in milliseconds at the link rate. */
  readonly queueMs: number;
  readonly aloneSeconds: number;
  readonly togetherSeconds: number;
  /**
   * The TCP flow's congestion control. Cubic (Linux's and Windows' default) fills the
   * bottleneck's buffer until it loses a packet, the competitor LEDBAT is designed to yield
   * to; BBR keeps the queue short, so a delay-based sender sees little to yield to.
   */
  readonly tcpCongestionControl: string;
}

/** Defaults: the 2 MB/s link. */
export const DEFAULT_LEDBAT_OPTIONS: LedbatOptions = {
  rateBytesPerSecond: 2_000_000,
  queueMs: 250,
  aloneSeconds: 10,
  togetherSeconds: 15,
  tcpCongestionControl: 'cubic',
};

/** One second of a run, counted from the start of the uTP flow (TCP joins at aloneSeconds). */
export interface LedbatSecond {
  readonly second: number;
  readonly utpBytesPerSecond: number;
  readonly tcpBytesPerSecond: number;
  readonly delayMedianMs: number;
}

/** What {@link measureLedbat} measured. */
export interface LedbatFigures {
  readonly options: LedbatOptions;
  readonly baseRttMs: number;
  readonly perSecond: readonly LedbatSecond[];
  readonly alone: {
    readonly utpBytesPerSecond: number;
    readonly delayMedianMs: number;
    readonly delayP90Ms: number;
  };
  readonly together: {
    readonly utpBytesPerSecond: number;
    readonly tcpBytesPerSecond: number;
    /** uTP's throughput over the link rate. */
    readonly utpShareOfLink: number;
    readonly delayMedianMs: number;
  };
}

const ALONE_WARMUP_MS = 3000;
const TOGETHER_WARMUP_MS = 5000;
const BASE_PROBES_MS = 1500;

interface Sample {
  readonly wall: number;
  readonly [key: string]: unknown;
}

function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Bytes per second of `key` in the receiver's ticks between walls `from` and `to`. */
function rate(ticks: readonly Sample[], key: 'utp' | 'tcp', from: number, to: number): number {
  const inside = ticks.filter((t) => t.wall >= from && t.wall <= to);
  const first = inside[0];
  const last = inside.at(-1);
  if (!first || !last || last.wall === first.wall) return Number.NaN;
  return (((last[key] as number) - (first[key] as number)) * 1000) / (last.wall - first.wall);
}

async function ip(...args: string[]): Promise<void> {
  const r = await runCommand('ip', args);
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')} exited with ${r.code}: ${r.stderr}`);
}

/**
 * Builds the shaped link, runs the three phases and takes everything down again (namespaces
 * and processes), whatever happens.
 */
export async function measureLedbat(
  options: LedbatOptions = DEFAULT_LEDBAT_OPTIONS,
): Promise<LedbatFigures> {
  const id = `${process.pid % 100000}`;
  const ns = { a: `shoal-lb-a-${id}`, r: `shoal-lb-r-${id}`, b: `shoal-lb-b-${id}` };
  const dev = { a: `lb${id}a`, ra: `lb${id}ra`, rb: `lb${id}rb`, b: `lb${id}b` };
  const hosts = { a: '10.203.1.2', ra: '10.203.1.1', rb: '10.203.2.1', b: '10.203.2.2' };
  const children = new Children();
  const made: string[] = [];
  try {
    for (const name of [ns.a, ns.r, ns.b]) {
      await ip('netns', 'add', name);
      made.push(name);
      await ip('-n', name, 'link', 'set', 'lo', 'up');
    }
    const wire = async (n1: string, d1: string, a1: string, n2: string, d2: string, a2: string) => {
      await ip('-n', n1, 'link', 'add', d1, 'type', 'veth', 'peer', 'name', d2, 'netns', n2);
      await ip('-n', n1, 'addr', 'add', `${a1}/24`, 'dev', d1);
      await ip('-n', n2, 'addr', 'add', `${a2}/24`, 'dev', d2);
      await ip('-n', n1, 'link', 'set', d1, 'up');
      await ip('-n', n2, 'link', 'set', d2, 'up');
    };
    await wire(ns.a, dev.a, hosts.a, ns.r, dev.ra, hosts.ra);
    await wire(ns.r, dev.rb, hosts.rb, ns.b, dev.b, hosts.b);
    // The TCP flow's congestion control, set on the route (the namespace default may not be
    // changed here: cubic is not in tcp_allowed_congestion_control on every host).
    await ip(
      '-n',
      ns.a,
      'route',
      'add',
      'default',
      'via',
      hosts.ra,
      'congctl',
      options.tcpCongestionControl,
    );
    await ip('-n', ns.b, 'route', 'add', 'default', 'via', hosts.rb);
    const fwd = await runCommand('ip', [
      'netns',
      'exec',
      ns.r,
      'sysctl',
      '-qw',
      'net.ipv4.ip_forward=1',
    ]);
    if (fwd.code !== 0) throw new Error(`sysctl exited with ${fwd.code}: ${fwd.stderr}`);
    // The bottleneck is the router's link towards the receiver, as a home router's uplink: on
    // the sender's own host TCP would keep its queue short (TCP small queues) and never fill it.
    const limit = Math.round((options.rateBytesPerSecond * options.queueMs) / 1000);
    const tc = await runCommand('ip', [
      'netns',
      'exec',
      ns.r,
      'tc',
      'qdisc',
      'replace',
      'dev',
      dev.rb,
      'root',
      'tbf',
      'rate',
      `${options.rateBytesPerSecond * 8}bit`,
      'burst',
      '16kb',
      'limit',
      `${limit}`,
    ]);
    if (tc.code !== 0) throw new Error(`tc qdisc replace exited with ${tc.code}: ${tc.stderr}`);

    const env = { ...process.env, SHOAL_EGRESS: 'loopback', SHOAL_EGRESS_ALLOW: '10.203.0.0/16' };
    const exec = (name: string, args: string[]) => [
      'netns',
      'exec',
      name,
      process.execPath,
      PEER,
      ...args,
    ];
    const receiver = children.spawn('receiver', 'ip', exec(ns.b, ['recv', hosts.b]), env);
    const ports = await receiver.waitFor((e) => e.event === 'listening', 10_000, 'listening');
    const utpAt = Date.now() + 500 + BASE_PROBES_MS;
    const tcpAt = utpAt + options.aloneSeconds * 1000;
    const endAt = tcpAt + options.togetherSeconds * 1000;
    const sender = children.spawn(
      'sender',
      'ip',
      exec(ns.a, [
        'send',
        hosts.b,
        ...[ports.utp, ports.tcp, ports.echo, utpAt, tcpAt, endAt].map(String),
      ]),
      env,
    );
    await sender.waitFor((e) => e.event === 'end', endAt - Date.now() + 10_000, 'the end');
    const ticks = receiver.events.filter((e) => e.event === 'tick') as unknown as Sample[];
    const probes = sender.events.filter((e) => e.event === 'probe') as unknown as Sample[];
    const rtts = (from: number, to: number) =>
      probes.filter((p) => p.wall >= from && p.wall < to).map((p) => p.rttMs as number);
    const base = quantile(rtts(0, utpAt), 0.5);
    if (!Number.isFinite(base)) throw new Error(`no delay probe came back\n${sender.output()}`);
    const perSecond: LedbatSecond[] = [];
    for (let t = utpAt; t + 1000 <= endAt; t += 1000) {
      perSecond.push({
        second: (t - utpAt) / 1000,
        utpBytesPerSecond: rate(ticks, 'utp', t, t + 1000),
        tcpBytesPerSecond: rate(ticks, 'tcp', t, t + 1000),
        delayMedianMs: quantile(rtts(t, t + 1000), 0.5) - base,
      });
    }
    const alone = rtts(utpAt + ALONE_WARMUP_MS, tcpAt).map((r) => r - base);
    const together = rtts(tcpAt + TOGETHER_WARMUP_MS, endAt).map((r) => r - base);
    const sharedFrom = tcpAt + TOGETHER_WARMUP_MS;
    const utpTogether = rate(ticks, 'utp', sharedFrom, endAt);
    return {
      options,
      baseRttMs: base,
      perSecond,
      alone: {
        utpBytesPerSecond: rate(ticks, 'utp', utpAt + ALONE_WARMUP_MS, tcpAt),
        delayMedianMs: quantile(alone, 0.5),
        delayP90Ms: quantile(alone, 0.9),
      },
      together: {
        utpBytesPerSecond: utpTogether,
        tcpBytesPerSecond: rate(ticks, 'tcp', sharedFrom, endAt),
        utpShareOfLink: utpTogether / options.rateBytesPerSecond,
        delayMedianMs: quantile(together, 0.5),
      },
    };
  } finally {
    await children.close();
    for (const name of made) await runCommand('ip', ['netns', 'del', name]);
  }
}

const MB = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB/s`;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** The targets of issue 16, as booleans. */
export function ledbatVerdicts(f: LedbatFigures): { yields: boolean; delayOk: boolean } {
  return { yields: f.together.utpShareOfLink <= 0.1, delayOk: f.alone.delayMedianMs <= 100 };
}

/** Runs the benchmark and prints its figures. */
export async function run(): Promise<void> {
  const seconds = (process.env.SHOAL_BENCH_LEDBAT_SECONDS ?? '').split(',').map(Number);
  const options: LedbatOptions = {
    ...DEFAULT_LEDBAT_OPTIONS,
    rateBytesPerSecond: envBytes(
      'SHOAL_BENCH_LEDBAT_RATE',
      DEFAULT_LEDBAT_OPTIONS.rateBytesPerSecond,
    ),
    ...(seconds.length === 2 &&
      seconds.every((s) => s > 0) && { aloneSeconds: seconds[0]!, togetherSeconds: seconds[1]! }),
    ...(process.env.SHOAL_BENCH_LEDBAT_TCP_CC && {
      tcpCongestionControl: process.env.SHOAL_BENCH_LEDBAT_TCP_CC,
    }),
  };
  const f = await measureLedbat(options);
  const v = ledbatVerdicts(f);
  process.stdout.write('second   uTP MB/s  TCP MB/s  queueing delay ms\n');
  for (const s of f.perSecond)
    process.stdout.write(
      `${String(s.second).padStart(6)}  ${(s.utpBytesPerSecond / 1e6).toFixed(2).padStart(8)}  ${(s.tcpBytesPerSecond / 1e6).toFixed(2).padStart(8)}  ${s.delayMedianMs.toFixed(0).padStart(17)}${s.second === options.aloneSeconds ? '   ← TCP starts' : ''}\n`,
    );
  process.stdout.write(
    `link: ${MB(options.rateBytesPerSecond)} (tc tbf, ${options.queueMs} ms of buffer); TCP ${options.tcpCongestionControl}; base RTT ${f.baseRttMs.toFixed(2)} ms\n` +
      `uTP alone:      ${MB(f.alone.utpBytesPerSecond)} = ${pct(f.alone.utpBytesPerSecond / options.rateBytesPerSecond)} of the link; ` +
      `queueing delay median ${f.alone.delayMedianMs.toFixed(0)} ms, p90 ${f.alone.delayP90Ms.toFixed(0)} ms ` +
      `(target ≤ 100 ms: ${v.delayOk ? 'met' : 'MISSED'})\n` +
      `uTP beside TCP: uTP ${MB(f.together.utpBytesPerSecond)} = ${pct(f.together.utpShareOfLink)} of the link, ` +
      `TCP ${MB(f.together.tcpBytesPerSecond)} = ${pct(f.together.tcpBytesPerSecond / options.rateBytesPerSecond)}; ` +
      `queueing delay median ${f.together.delayMedianMs.toFixed(0)} ms ` +
      `(target uTP ≤ 10%: ${v.yields ? 'met' : 'MISSED'})\n`,
  );
}
