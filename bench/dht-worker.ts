/**
 * Child processes of the `dht` benchmark: `node dist/bench/dht-worker.js '<WorkerConfig JSON>'`.
 * Every role talks to 127.0.0.0/8 only (shoal nodes under SHOAL_EGRESS=loopback; every
 * `bittorrent-dht` node is given its bootstrap nodes explicitly, never its public default), prints
 * JSON lines, and exits when its stdin closes or on SIGTERM, so it cannot outlive the benchmark.
 *
 * - `serve`: one DHT node of `impl` on `host` with no rate limit, whose routing table is first
 *   filled by `fillers` shoal nodes (kept running, idle) that join through it. Prints `ready`.
 * - `load`: the load generator. `sources` UDP sockets on their own addresses, each a client with
 *   a fixed node id, keep `window` queries outstanding in all — ping, find_node and get_peers in
 *   turn, random targets — sending the next as each reply arrives; a query unanswered after
 *   `lostAfterMs` counts as lost and is replaced. Replies in the first `warmupSeconds` do not
 *   count. Prints `result` with replies/s, latency percentiles and its own CPU.
 * - `net`: `count` nodes of `impl` on 127.0.`subnet`.1… (on into the next /24s), each joining
 *   through the first nodes; then `hashes` info-hashes, each announced by 3 nodes. Prints
 *   `ready` with the bootstrap addresses and the hashes.
 * - `lookup`: a fresh node of `impl` on `host` joins through `bootstrap`, then runs `lookups`
 *   get_peers lookups one after the other over `hashes`, timing each to its end and to its
 *   first peer. Prints `result` with the percentiles, hops (shoal) or nodes visited.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import DHT from 'bittorrent-dht';
import { Dht } from '../src/dht/dht.js';
import { encodeQuery } from '../src/dht/krpc.js';
import { EgressPolicy } from '../src/runtime/egress.js';
import { createRealRuntime } from '../src/runtime/real.js';
import { ed25519Verify, hostIn } from '../test/interop/dht-helpers.js';

/** Which implementation a node is. */
export type Impl = 'shoal' | 'bittorrent-dht';

export type WorkerConfig =
  | { role: 'serve'; impl: Impl; host: string; fillers: number; fillerSubnet: number }
  | {
      role: 'load';
      host: string;
      port: number;
      sources: number;
      sourceSubnet: number;
      window: number;
      seconds: number;
      warmupSeconds: number;
      lostAfterMs: number;
    }
  | { role: 'net'; impl: Impl; count: number; subnet: number; hashes: number }
  | {
      role: 'lookup';
      impl: Impl;
      host: string;
      bootstrap: string[];
      hashes: string[];
      lookups: number;
    };

/** What `load` prints at the end. */
export interface LoadResult {
  readonly replies: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly errors: number;
  readonly lost: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanReplyBytes: number;
  readonly cpuSeconds: number;
}

/** What `lookup` prints at the end. */
export interface LookupResult {
  readonly lookups: number;
  /** Lookups that found at least one of the announced peers. */
  readonly found: number;
  /** Peers found per lookup, on average (each hash was announced by 3 nodes). */
  readonly peersMean: number;
  readonly joinMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly firstPeerP50Ms: number;
  readonly firstPeerP99Ms: number;
  /** shoal: depth of the closest node reached; NaN for bittorrent-dht. */
  readonly hopsP50: number;
  readonly hopsMax: number;
  /** Nodes queried (shoal) or that replied (bittorrent-dht) per lookup, median. */
  readonly queriedP50: number;
}

const runtime = createRealRuntime(new EgressPolicy('loopback'));

function emit(fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(fields)}\n`);
}

function cpuNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** The value at quantile `q` of ascending `sorted`. */
function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const sortedNumbers = (xs: number[]) => Float64Array.from(xs).sort();

function bindSocket(host: string, port = 0): Promise<Socket> {
  const socket = createSocket('udp4');
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

/** A `bittorrent-dht` node bound to `host`, joining through `bootstrap` (none: the first node). */
async function bittorrentDht(host: string, bootstrap: string[]): Promise<DHT> {
  for (const b of bootstrap) {
    if (!b.startsWith('127.')) throw new Error(`bootstrap node ${b} is not on loopback`);
  }
  const socket = await bindSocket(host);
  const dht = new DHT({
    // false: no bootstrap at all (an empty list would mean the public routers).
    bootstrap: bootstrap.length > 0 ? bootstrap : false,
    socket,
    verify: ed25519Verify,
  });
  dht.on('error', () => undefined);
  dht.on('warning', () => undefined);
  await new Promise<void>((resolve) => {
    if (dht.ready) resolve();
    else dht.once('ready', () => resolve());
  });
  return dht;
}

const btAddress = (d: DHT) => `${d.address().address}:${d.address().port}`;
const shoalAddress = (d: Dht) => `${d.options.host}:${d.port}`;

function parseHostPort(text: string): { host: string; port: number } {
  const i = text.lastIndexOf(':');
  return { host: text.slice(0, i), port: Number(text.slice(i + 1)) };
}

/** Resolves on SIGTERM or when stdin closes. */
function untilTold(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.stdin.once('end', () => resolve());
    process.stdin.once('close', () => resolve());
    process.stdin.resume();
  });
}

// ---------------------------------------------------------------- serve

async function serve(c: Extract<WorkerConfig, { role: 'serve' }>): Promise<void> {
  let port: number;
  let tableSize: () => number;
  let stop: () => Promise<void>;
  if (c.impl === 'shoal') {
    const d = await Dht.start(runtime, { host: c.host, port: 0, ratePerSecond: 0 });
    port = d.port;
    tableSize = () => d.table.size;
    stop = () => d.stop();
  } else {
    const d = await bittorrentDht(c.host, []);
    port = d.address().port;
    tableSize = () => d.nodes.count();
    stop = () => new Promise((resolve) => d.destroy(() => resolve()));
  }
  const fillers: Dht[] = [];
  for (let i = 0; i < c.fillers; i++) {
    const f = await Dht.start(runtime, {
      host: hostIn(c.fillerSubnet, i + 1),
      port: 0,
      bootstrap: [{ host: c.host, port }],
      queryTimeoutMs: 1000,
    });
    fillers.push(f);
    await f.bootstrap();
  }
  emit({ event: 'ready', port, tableSize: tableSize() });
  await untilTold();
  await Promise.all(fillers.map((f) => f.stop()));
  await stop();
}

// ---------------------------------------------------------------- load

const QUERY_TYPES = ['ping', 'find_node', 'get_peers'] as const;
const VARIANTS = 256;

async function load(c: Extract<WorkerConfig, { role: 'load' }>): Promise<void> {
  // Queries are encoded in advance (VARIANTS random targets of each type) with a placeholder
  // transaction id that is patched per send, so the generator spends its CPU on sending.
  const templates = QUERY_TYPES.map((q, qi) =>
    Array.from({ length: VARIANTS }, () => {
      const a =
        q === 'ping'
          ? {}
          : q === 'find_node'
            ? { target: randomBytes(20) }
            : { info_hash: randomBytes(20) };
      const packet = encodeQuery(Buffer.from([0xfe, qi]), q, { ...a, id: randomBytes(20) }, false);
      const at = packet.lastIndexOf('1:t2:') + 5;
      return { packet, at };
    }),
  );
  let latencies = new Float64Array(1 << 20);
  let count = 0;
  let replyBytes = 0;
  let errors = 0;
  let lost = 0;
  let measuring = false;
  let running = true;
  const perSource = Math.max(1, Math.ceil(c.window / c.sources));
  const sockets: Socket[] = [];
  const sweeps: (() => void)[] = [];
  let sent = 0;

  for (let s = 0; s < c.sources; s++) {
    const socket = await bindSocket(hostIn(c.sourceSubnet, s + 1));
    sockets.push(socket);
    // Outstanding queries of this source by transaction id (2 bytes): the time each was sent.
    const pending = new Map<number, number>();
    let nextT = 0;
    const id = randomBytes(20);
    const send = () => {
      if (!running) return;
      let t: number;
      do t = nextT++ & 0xffff;
      while (pending.has(t));
      const variant = templates[sent % 3]![(sent / 3) & (VARIANTS - 1)]!;
      sent++;
      const packet = Buffer.from(variant.packet);
      packet.writeUInt16BE(t, variant.at);
      id.copy(packet, packet.indexOf('2:id20:') + 7);
      pending.set(t, performance.now());
      socket.send(packet, c.port, c.host);
    };
    socket.on('message', (msg) => {
      const at = msg.lastIndexOf('1:t2:');
      if (at < 0) return;
      const t = msg.readUInt16BE(at + 5);
      const sentAt = pending.get(t);
      if (sentAt === undefined) return;
      pending.delete(t);
      if (measuring) {
        const y = msg.lastIndexOf('1:y1:');
        if (y >= 0 && msg[y + 5] === 0x72 /* r */) {
          if (count === latencies.length) {
            const grown = new Float64Array(latencies.length * 2);
            grown.set(latencies);
            latencies = grown;
          }
          latencies[count++] = performance.now() - sentAt;
          replyBytes += msg.length;
        } else {
          errors++;
        }
      }
      send();
    });
    sweeps.push(() => {
      const now = performance.now();
      for (const [t, at] of pending) {
        if (now - at < c.lostAfterMs) continue;
        pending.delete(t);
        if (measuring) lost++;
        send();
      }
    });
    for (let i = 0; i < perSource; i++) send();
  }
  const sweeper = setInterval(() => {
    for (const s of sweeps) s();
  }, 100);

  await new Promise((r) => setTimeout(r, c.warmupSeconds * 1000));
  measuring = true;
  const start = performance.now();
  const cpuStart = cpuNow();
  emit({ event: 'measuring' });
  await new Promise((r) => setTimeout(r, c.seconds * 1000));
  measuring = false;
  running = false;
  const seconds = (performance.now() - start) / 1000;
  const cpuSeconds = cpuNow() - cpuStart;
  emit({ event: 'measured' });
  clearInterval(sweeper);
  for (const s of sockets) s.close();
  const sorted = latencies.subarray(0, count).sort();
  const result: LoadResult = {
    replies: count,
    seconds,
    perSecond: count / seconds,
    errors,
    lost,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    maxMs: count > 0 ? sorted[count - 1]! : Number.NaN,
    meanReplyBytes: count > 0 ? replyBytes / count : Number.NaN,
    cpuSeconds,
  };
  emit({ event: 'result', ...result });
}

// ---------------------------------------------------------------- net

/** The benchmark's info-hashes: SHA-1 of their index. */
export function benchHashes(n: number): Buffer[] {
  return Array.from({ length: n }, (_, i) =>
    createHash('sha1').update(`shoal-bench-dht/${i}`).digest(),
  );
}

async function net(c: Extract<WorkerConfig, { role: 'net' }>): Promise<void> {
  const started = performance.now();
  const hashes = benchHashes(c.hashes);
  let bootstrap: string[];
  let tables: number[];
  let stop: () => Promise<void>;
  // Each hash is announced by three nodes spread over the network.
  const announcers = (h: number) => [0, 1, 2].map((k) => (h * 7 + k * 61 + 3) % c.count);
  if (c.impl === 'shoal') {
    const nodes: Dht[] = [];
    stop = async () => {
      await Promise.all(nodes.map((d) => d.stop()));
    };
    for (let i = 0; i < c.count; i++) {
      const seeds = nodes.slice(0, 3).map((d) => ({ host: d.options.host, port: d.port }));
      nodes.push(
        await Dht.start(runtime, {
          host: hostIn(c.subnet, i + 1),
          port: 0,
          bootstrap: seeds,
          queryTimeoutMs: 1000,
        }),
      );
    }
    // Join in batches, then once more all together so that the early nodes learn the later.
    for (let i = 1; i < nodes.length; i += 20) {
      await Promise.all(nodes.slice(i, i + 20).map((d) => d.bootstrap()));
    }
    await Promise.all(nodes.map((d) => d.bootstrap()));
    for (const [h, hash] of hashes.entries()) {
      await Promise.all(announcers(h).map((i) => nodes[i]!.announce(hash, 20_000 + i)));
    }
    bootstrap = nodes.slice(0, 3).map(shoalAddress);
    tables = nodes.map((d) => d.table.size);
  } else {
    const nodes: DHT[] = [];
    stop = async () => {
      await Promise.all(nodes.map((d) => new Promise<void>((r) => d.destroy(() => r()))));
    };
    nodes.push(await bittorrentDht(hostIn(c.subnet, 1), []));
    for (let i = 1; i < c.count; i += 20) {
      const seeds = nodes.slice(0, 3).map(btAddress);
      const batch = await Promise.all(
        Array.from({ length: Math.min(20, c.count - i) }, (_, j) =>
          bittorrentDht(hostIn(c.subnet, i + j + 1), seeds),
        ),
      );
      nodes.push(...batch);
    }
    for (const [h, hash] of hashes.entries()) {
      await Promise.all(
        announcers(h).map(
          (i) =>
            new Promise<void>((resolve) => nodes[i]!.announce(hash, 20_000 + i, () => resolve())),
        ),
      );
    }
    bootstrap = nodes.slice(0, 3).map(btAddress);
    tables = nodes.map((d) => d.nodes.count());
  }
  emit({
    event: 'ready',
    bootstrap,
    hashes: hashes.map((h) => h.toString('hex')),
    setupMs: performance.now() - started,
    meanTable: tables.reduce((a, b) => a + b, 0) / tables.length,
    minTable: Math.min(...tables),
  });
  await untilTold();
  await stop();
}

// ---------------------------------------------------------------- lookup

async function lookup(c: Extract<WorkerConfig, { role: 'lookup' }>): Promise<void> {
  const hashes = c.hashes.map((h) => Buffer.from(h, 'hex'));
  const ms: number[] = [];
  const first: number[] = [];
  const hops: number[] = [];
  const queried: number[] = [];
  let found = 0;
  let peersFound = 0;
  const joinStart = performance.now();
  if (c.impl === 'shoal') {
    const d = await Dht.start(runtime, {
      host: c.host,
      port: 0,
      bootstrap: c.bootstrap.map(parseHostPort),
    });
    await d.bootstrap();
    const joinMs = performance.now() - joinStart;
    for (let i = 0; i < c.lookups; i++) {
      const hash = hashes[i % hashes.length]!;
      const start = performance.now();
      let firstAt: number | undefined;
      const r = await d.getPeers(hash, () => {
        firstAt ??= performance.now();
      });
      ms.push(performance.now() - start);
      peersFound += r.peers.length;
      if (firstAt !== undefined) {
        first.push(firstAt - start);
        found++;
      }
      hops.push(r.hops);
      queried.push(r.queried);
    }
    await d.stop();
    report(joinMs);
  } else {
    const d = await bittorrentDht(c.host, c.bootstrap);
    const joinMs = performance.now() - joinStart;
    for (let i = 0; i < c.lookups; i++) {
      const hash = hashes[i % hashes.length]!;
      const start = performance.now();
      let firstAt: number | undefined;
      const peers = new Set<string>();
      const onPeer = (peer: { host: string; port: number }, h: Buffer) => {
        if (!h.equals(hash)) return;
        firstAt ??= performance.now();
        peers.add(`${peer.host}:${peer.port}`);
      };
      d.on('peer', onPeer);
      const visited = await new Promise<number>((resolve) =>
        d.lookup(hash, (_err, n) => resolve(n ?? 0)),
      );
      d.off('peer', onPeer);
      ms.push(performance.now() - start);
      peersFound += peers.size;
      if (firstAt !== undefined) {
        first.push(firstAt - start);
        found++;
      }
      queried.push(visited);
    }
    await new Promise<void>((r) => d.destroy(() => r()));
    report(joinMs);
  }

  function report(joinMs: number): void {
    const sMs = sortedNumbers(ms);
    const sFirst = sortedNumbers(first);
    const sHops = sortedNumbers(hops);
    const result: LookupResult = {
      lookups: ms.length,
      found,
      peersMean: ms.length > 0 ? peersFound / ms.length : Number.NaN,
      joinMs,
      p50Ms: quantile(sMs, 0.5),
      p99Ms: quantile(sMs, 0.99),
      firstPeerP50Ms: quantile(sFirst, 0.5),
      firstPeerP99Ms: quantile(sFirst, 0.99),
      hopsP50: quantile(sHops, 0.5),
      hopsMax: sHops.length > 0 ? sHops[sHops.length - 1]! : Number.NaN,
      queriedP50: quantile(sortedNumbers(queried), 0.5),
    };
    emit({ event: 'result', ...result });
  }
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;
  switch (config.role) {
    case 'serve':
      return serve(config);
    case 'load':
      return load(config);
    case 'net':
      return net(config);
    case 'lookup':
      return lookup(config);
    default:
      throw new Error(`unknown role in ${process.argv[2]}`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(
        `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
