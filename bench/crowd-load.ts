/**
 * The `crowd` benchmark's load generator, one process: `node dist/bench/crowd-load.js JSON`
 * with {@link LoadPlan} as JSON. It opens `connections` TCP connections to one seeder, each
 * from its own loopback address (127.0.0.2, 127.0.0.3, …: seeders cap connections and pending
 * handshakes per IP address, as they should), each a {@link CrowdLeecher}. Once every
 * connection has its handshake answered (or `setupS` passes) it prints `ready`, leaves them
 * idle for `idleS` seconds, makes every leecher interested at once and prints `start`; `windowS` seconds later it prints `done` with
 * each connection's payload bytes, unchokes and time to first byte, and exits. A `progress`
 * line comes every 5 s in between. Everything is bounded: connection count, time, and the
 * data kept (counters only).
 */
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { CrowdLeecher } from './crowd-leecher.js';

/** What the generator is told to do. */
export interface LoadPlan {
  readonly host: string;
  readonly port: number;
  readonly infoHash: string;
  readonly pieceLength: number;
  readonly totalLength: number;
  readonly connections: number;
  /** Seconds to get every connection up, at most. */
  readonly setupS: number;
  /** Seconds the connections stay up, not interested, between `ready` and `start`. */
  readonly idleS: number;
  /** Seconds of measured downloading. */
  readonly windowS: number;
  /** Requests each leecher keeps in flight while unchoked. */
  readonly pipeline: number;
}

/** Connections being opened at once (a burst of SYNs would overflow a small listen backlog). */
const CONNECTING_AT_ONCE = 16;
const PROGRESS_MS = 5000;
const KEEPALIVE_MS = 30_000;
/** The last usable connection: loopback source addresses 127.0.0.2 … 127.0.255.254. */
const MAX_CONNECTIONS = 65_000;

const emit = (event: string, fields: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Loopback source address number `i` (0-based): 127.0.0.2 upwards. */
const sourceAddress = (i: number): string => {
  const n = i + 2;
  return `127.0.${n >> 8}.${n & 255}`;
};

/** A small deterministic PRNG (mulberry32), so runs pick the same pieces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function parsePlan(raw: string | undefined): LoadPlan {
  const plan = JSON.parse(raw ?? '') as LoadPlan;
  const counts = [plan.port, plan.pieceLength, plan.totalLength, plan.connections, plan.pipeline];
  if (!counts.every((n) => Number.isSafeInteger(n) && n > 0) || plan.connections > MAX_CONNECTIONS)
    throw new Error(`bad plan ${raw}`);
  if (!(plan.setupS > 0 && plan.windowS > 0 && plan.idleS >= 0))
    throw new Error(`bad durations in ${raw}`);
  if (!/^[0-9a-f]{40}$/.test(plan.infoHash)) throw new Error(`bad info-hash ${plan.infoHash}`);
  return plan;
}

/** Opens one connection and wraps it in a leecher (which records a failure to connect). */
function open(
  plan: LoadPlan,
  i: number,
  random: () => number,
  until: number,
): Promise<CrowdLeecher> {
  return new Promise((resolve) => {
    const socket = connect({ host: plan.host, port: plan.port, localAddress: sourceAddress(i) });
    // A connection not up by the end of the set-up time is given up.
    const timer = setTimeout(() => socket.destroy(), Math.max(0, until - performance.now()));
    const peerId = Buffer.alloc(20);
    peerId.write('-CR0001-', 'latin1');
    peerId.writeUInt32BE(i, 16);
    const leecher = new CrowdLeecher(
      socket,
      {
        infoHash: Buffer.from(plan.infoHash, 'hex'),
        pieceLength: plan.pieceLength,
        totalLength: plan.totalLength,
      },
      peerId,
      plan.pipeline,
      random,
    );
    socket.once('connect', () => {
      clearTimeout(timer);
      leecher.start();
      resolve(leecher);
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(leecher);
    });
  });
}

/** Tallies of why connections ended, e.g. {"closed by the seeder": 3}. */
function reasons(leechers: readonly CrowdLeecher[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of leechers)
    if (l.closedWhy !== undefined) out[l.closedWhy] = (out[l.closedWhy] ?? 0) + 1;
  return out;
}

async function main(): Promise<void> {
  const plan = parsePlan(process.argv[2]);
  const random = prng(0x5eed);
  const t0 = performance.now();
  const setupEnd = t0 + plan.setupS * 1000;
  const leechers: CrowdLeecher[] = [];
  // Connect with a bounded number in flight.
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(CONNECTING_AT_ONCE, plan.connections) }, async () => {
      while (next < plan.connections && performance.now() < setupEnd) {
        const i = next++;
        leechers[i] = await open(plan, i, random, setupEnd);
      }
    }),
  );
  const settled = (l: CrowdLeecher) =>
    (l.handshaken && l.seederHasAll) || l.closedWhy !== undefined;
  while (performance.now() < setupEnd && !leechers.every(settled)) await sleep(50);
  const live = leechers.filter((l) => l.closedWhy === undefined && l.handshaken);
  emit('ready', {
    asked: plan.connections,
    opened: leechers.length,
    handshaken: leechers.filter((l) => l.handshaken).length,
    live: live.length,
    seederHasAll: live.filter((l) => l.seederHasAll).length,
    setupSeconds: (performance.now() - t0) / 1000,
    closed: reasons(leechers),
  });

  await sleep(plan.idleS * 1000);
  const start = performance.now();
  for (const l of live) l.interested();
  emit('start');
  const keepAlive = setInterval(() => {
    for (const l of live) l.keepAlive();
  }, KEEPALIVE_MS);
  const progress = setInterval(() => {
    emit('progress', {
      seconds: (performance.now() - start) / 1000,
      bytes: live.reduce((s, l) => s + l.bytes, 0),
      unchokedNow: live.filter((l) => !l.choked && !l.complete).length,
      servedSoFar: live.filter((l) => l.bytes > 0).length,
    });
  }, PROGRESS_MS);
  await sleep(plan.windowS * 1000);
  clearInterval(keepAlive);
  clearInterval(progress);
  const seconds = (performance.now() - start) / 1000;
  emit('done', {
    seconds,
    bytes: live.map((l) => l.bytes),
    unchokes: live.map((l) => l.unchokes),
    firstByteMs: live.map((l) => (l.firstByteAt === undefined ? null : l.firstByteAt - start)),
    complete: live.filter((l) => l.complete).length,
    rejects: live.reduce((n, l) => n + l.rejects, 0),
    suggests: live.reduce((n, l) => n + l.suggests, 0),
    stillOpen: live.filter((l) => l.closedWhy === undefined).length,
    closed: reasons(live),
  });
  for (const l of leechers) l.destroy();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    emit('error', { message: error instanceof Error ? error.message : String(error) });
    process.exit(1);
  },
);
