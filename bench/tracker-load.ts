/**
 * Load generator of the `tracker` benchmark, run as a child process of its own so that it is
 * not the tracker's process: `node dist/bench/tracker-load.js '<LoadConfig as JSON>'`.
 *
 * UDP (BEP 15): `clients` sockets, each one simulated client that connects once and then keeps
 * `window / clients` announces outstanding, sending the next as each reply arrives; a request
 * unanswered after 2 s counts as lost and is replaced. HTTP: `window` concurrent connections,
 * each sending its next announce when the reply to the last is in, either on the same
 * connection (keep-alive) or on a new one per announce (`Connection: close`, the latency then
 * includes the TCP handshake). Every announce names a random info-hash of a fixed pool, a
 * random peer id and port, and left = 0 or not at random; only replies that carry a peer list
 * count. Replies that arrive in the first `warmupSeconds` are not counted.
 *
 * Prints JSON lines: {"event":"measuring"} when the measured window opens, {"event":"measured"}
 * when it closes, then {"event":"result", ...} with the counts and latency percentiles.
 */
import { createHash } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

/** What one run of the generator does. */
export interface LoadConfig {
  readonly protocol: 'udp' | 'http';
  readonly host: string;
  readonly port: number;
  /** Length of the measured window. */
  readonly seconds: number;
  /** Load sent before the window opens, not counted. */
  readonly warmupSeconds: number;
  /** The window closes early once this many announces are counted. */
  readonly maxRequests: number;
  /** Outstanding requests (UDP) or concurrent connections (HTTP). */
  readonly window: number;
  /** UDP sockets, each one connect + announces (UDP only). */
  readonly clients: number;
  /** HTTP: reuse each connection (true) or open a new one per announce. */
  readonly keepAlive: boolean;
  readonly poolSize: number;
  readonly numWant: number;
}

/** What the generator prints at the end. */
export interface LoadResult {
  readonly announces: number;
  readonly seconds: number;
  readonly perSecond: number;
  /** Replies that were errors or failures (tracker refused), and a sample message. */
  readonly errors: number;
  readonly errorSample?: string;
  /** UDP requests never answered; HTTP connections that failed or timed out. */
  readonly lost: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** CPU seconds this generator used in the measured window. */
  readonly cpuSeconds: number;
}

/** The benchmark's torrents: `n` fixed info-hashes (SHA-1 of their index). */
export function infoHashPool(n: number): Buffer[] {
  return Array.from({ length: n }, (_, i) =>
    createHash('sha1').update(`shoal-bench-tracker/${i}`).digest(),
  );
}

const LOST_AFTER_MS = 2000;
const UDP_PROTOCOL_ID = 0x41727101980n;

/** xorshift32: cheap randomness, so that the generator spends its CPU on sending. */
let rngState = (process.pid * 2654435761) >>> 0 || 1;
function rand32(): number {
  let x = rngState;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  rngState = x >>> 0;
  return rngState;
}

/** Measured-window bookkeeping shared by both protocols. */
class Meter {
  readonly latencies: Float64Array;
  count = 0;
  errors = 0;
  lost = 0;
  errorSample: string | undefined;
  private phase: 'warmup' | 'measuring' | 'done' = 'warmup';
  private windowStart = 0;
  private windowEnd = 0;
  private cpuStart = 0;
  private cpuEnd = 0;
  private onDone: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly config: LoadConfig) {
    this.latencies = new Float64Array(config.maxRequests);
  }

  /** Opens the window after the warm-up and closes it after `seconds`; resolves then. */
  run(): Promise<void> {
    return new Promise((resolve) => {
      this.onDone = resolve;
      setTimeout(() => {
        this.phase = 'measuring';
        this.windowStart = performance.now();
        this.cpuStart = cpuNow();
        emit({ event: 'measuring' });
        this.timer = setTimeout(() => this.close(), this.config.seconds * 1000);
      }, this.config.warmupSeconds * 1000);
    });
  }

  get running(): boolean {
    return this.phase !== 'done';
  }

  ok(latencyMs: number): void {
    if (this.phase !== 'measuring') return;
    this.latencies[this.count++] = latencyMs;
    if (this.count >= this.config.maxRequests) this.close();
  }

  error(message: string): void {
    if (this.phase !== 'measuring') return;
    this.errors++;
    this.errorSample ??= message;
  }

  lose(): void {
    if (this.phase === 'measuring') this.lost++;
  }

  private close(): void {
    if (this.phase !== 'measuring') return;
    clearTimeout(this.timer);
    this.phase = 'done';
    this.windowEnd = performance.now();
    this.cpuEnd = cpuNow();
    emit({ event: 'measured' });
    this.onDone?.();
  }

  result(): LoadResult {
    const seconds = (this.windowEnd - this.windowStart) / 1000;
    const sorted = this.latencies.subarray(0, this.count).sort();
    const at = (q: number) =>
      sorted.length === 0
        ? Number.NaN
        : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    return {
      announces: this.count,
      seconds,
      perSecond: this.count / seconds,
      errors: this.errors,
      ...(this.errorSample !== undefined && { errorSample: this.errorSample }),
      lost: this.lost,
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      maxMs: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!,
      cpuSeconds: this.cpuEnd - this.cpuStart,
    };
  }
}

function cpuNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function emit(fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(fields)}\n`);
}

/** 20 random bytes of peer id, with a client prefix. */
function peerId(): Buffer {
  const id = Buffer.allocUnsafe(20);
  id.write('-BN0001-', 0, 'latin1');
  for (let i = 8; i < 20; i += 4) id.writeUInt32BE(rand32(), i);
  return id;
}

const randomPort = () => 1024 + (rand32() % 64_000);

// ---------------------------------------------------------------- UDP

async function runUdp(config: LoadConfig, pool: Buffer[], meter: Meter): Promise<void> {
  const perClient = Math.max(1, Math.ceil(config.window / config.clients));
  const sockets: UdpSocket[] = [];
  const sweeps: (() => void)[] = [];
  for (let c = 0; c < config.clients; c++) {
    const socket = createSocket('udp4');
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, config.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', (e) => meter.error(`socket: ${e.message}`));
    const pending = new Map<number, number>(); // transaction id → sent at
    let connectionId: bigint | undefined;
    let connectTid = 0;
    let connectSentAt = 0;
    const sendConnect = () => {
      connectTid = rand32();
      connectSentAt = performance.now();
      const p = Buffer.alloc(16);
      p.writeBigUInt64BE(UDP_PROTOCOL_ID, 0);
      p.writeUInt32BE(0, 8);
      p.writeUInt32BE(connectTid, 12);
      socket.send(p, config.port, config.host);
    };
    const sendAnnounce = () => {
      if (!meter.running || connectionId === undefined) return;
      const tid = rand32();
      const p = Buffer.allocUnsafe(98);
      p.writeBigUInt64BE(connectionId, 0);
      p.writeUInt32BE(1, 8);
      p.writeUInt32BE(tid, 12);
      pool[rand32() % pool.length]!.copy(p, 16);
      peerId().copy(p, 36);
      p.writeBigUInt64BE(0n, 56); // downloaded
      p.writeBigUInt64BE(rand32() & 1 ? 0n : 1_000_000n, 64); // left
      p.writeBigUInt64BE(0n, 72); // uploaded
      p.writeUInt32BE(0, 80); // event: none
      p.writeUInt32BE(0, 84); // ip: the sender's
      p.writeUInt32BE(rand32(), 88); // key
      p.writeInt32BE(config.numWant, 92);
      p.writeUInt16BE(randomPort(), 96);
      pending.set(tid, performance.now());
      socket.send(p, config.port, config.host);
    };
    socket.on('message', (msg) => {
      if (msg.length < 8) return;
      const action = msg.readUInt32BE(0);
      const tid = msg.readUInt32BE(4);
      if (connectionId === undefined) {
        if (action === 0 && tid === connectTid && msg.length >= 16) {
          connectionId = msg.readBigUInt64BE(8);
          for (let i = 0; i < perClient; i++) sendAnnounce();
        } else if (action === 3 && tid === connectTid) {
          meter.error(`connect refused: ${msg.subarray(8).toString('utf8')}`);
        }
        return;
      }
      const sentAt = pending.get(tid);
      if (sentAt === undefined) return; // a late reply to a request already counted lost
      pending.delete(tid);
      if (action === 1 && msg.length >= 20) meter.ok(performance.now() - sentAt);
      else if (action === 3) meter.error(msg.subarray(8).toString('utf8'));
      else meter.error(`unexpected action ${action}`);
      sendAnnounce();
    });
    sweeps.push(() => {
      const now = performance.now();
      if (connectionId === undefined) {
        if (now - connectSentAt > LOST_AFTER_MS) {
          meter.lose();
          sendConnect();
        }
        return;
      }
      for (const [tid, sentAt] of pending) {
        if (now - sentAt <= LOST_AFTER_MS) continue;
        pending.delete(tid);
        meter.lose();
        sendAnnounce();
      }
    });
    sendConnect();
  }
  const sweep = setInterval(() => {
    for (const s of sweeps) s();
  }, 200);
  await meter.run();
  clearInterval(sweep);
  await new Promise((resolve) => setTimeout(resolve, 100)); // let the last replies drain
  await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
}

// ---------------------------------------------------------------- HTTP

function announcePath(pool: Buffer[], numWant: number): string {
  const hash = pool[rand32() % pool.length]!;
  const enc = (b: Buffer) => {
    let s = '';
    for (const x of b) s += `%${x < 16 ? '0' : ''}${x.toString(16)}`;
    return s;
  };
  return (
    `/announce?info_hash=${enc(hash)}&peer_id=${enc(peerId())}&port=${randomPort()}` +
    `&uploaded=0&downloaded=0&left=${rand32() & 1 ? 0 : 1_000_000}&compact=1&numwant=${numWant}`
  );
}

/** Reads one HTTP response off `socket`; calls `done` with it (or an error) exactly once. */
function readResponse(
  socket: Socket,
  done: (error: string | undefined, status: number, body: Buffer) => void,
): () => void {
  let buffered: Buffer = Buffer.alloc(0);
  let finished = false;
  const finish = (error: string | undefined, status = 0, body: Buffer = Buffer.alloc(0)) => {
    if (finished) return;
    finished = true;
    socket.off('data', onData);
    socket.off('end', onEnd);
    done(error, status, body);
  };
  const parse = (ended: boolean) => {
    const headerEnd = buffered.indexOf('\r\n\r\n');
    if (headerEnd < 0) {
      if (ended) finish('connection closed before the response header');
      return;
    }
    const head = buffered.subarray(0, headerEnd).toString('latin1');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];
    const bodyStart = headerEnd + 4;
    if (length !== undefined) {
      if (buffered.length - bodyStart >= Number(length)) {
        finish(undefined, status, buffered.subarray(bodyStart, bodyStart + Number(length)));
      } else if (ended) finish('connection closed inside the body');
    } else if (ended) finish(undefined, status, buffered.subarray(bodyStart));
  };
  const onData = (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    parse(false);
  };
  const onEnd = () => parse(true);
  socket.on('data', onData);
  socket.on('end', onEnd);
  return () => finish('connection failed');
}

async function runHttp(config: LoadConfig, pool: Buffer[], meter: Meter): Promise<void> {
  const hostHeader = `${config.host}:${config.port}`;
  const connection = config.keepAlive ? 'keep-alive' : 'close';
  const open = new Set<Socket>();
  const check = (status: number, body: Buffer, latency: number) => {
    const text = body.toString('latin1');
    if (status === 200 && text.includes('5:peers') && !text.includes('failure reason'))
      meter.ok(latency);
    else meter.error(`HTTP ${status}: ${text.slice(0, 120)}`);
  };
  // One slot = one client that sends its next announce once the last one is answered.
  const slot = () => {
    if (!meter.running) return;
    let startedAt = performance.now();
    const socket = connect({ host: config.host, port: config.port, noDelay: true });
    open.add(socket);
    socket.setTimeout(10_000, () => socket.destroy(new Error('timed out')));
    socket.on('close', () => open.delete(socket));
    let fail = () => {};
    let failed = false;
    socket.on('error', (e) => {
      if (failed) return;
      failed = true;
      meter.lose();
      meter.errorSample ??= `socket: ${e.message}`;
      fail();
      setTimeout(slot, 10); // a fresh connection for this slot, not a hot loop
    });
    const request = () => {
      startedAt = config.keepAlive ? performance.now() : startedAt;
      fail = readResponse(socket, (error, status, body) => {
        if (error !== undefined) {
          if (failed) return;
          failed = true;
          meter.lose();
          socket.destroy();
          setTimeout(slot, 10);
          return;
        }
        check(status, body, performance.now() - startedAt);
        if (!meter.running) {
          socket.destroy();
          return;
        }
        if (config.keepAlive) request();
        else {
          // The tracker closes the connection (it got `Connection: close`), so the TIME_WAIT
          // is its own and this side's ports are not used up; start the next one meanwhile.
          failed = true;
          slot();
        }
      });
      socket.write(
        `GET ${announcePath(pool, config.numWant)} HTTP/1.1\r\nHost: ${hostHeader}\r\n` +
          `Connection: ${connection}\r\nUser-Agent: shoal-bench\r\n\r\n`,
      );
    };
    socket.once('connect', request);
  };
  for (let i = 0; i < config.window; i++) slot();
  await meter.run();
  await new Promise((resolve) => setTimeout(resolve, 100));
  for (const s of open) s.destroy();
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '') as LoadConfig;
  const pool = infoHashPool(config.poolSize);
  const meter = new Meter(config);
  if (config.protocol === 'udp') await runUdp(config, pool, meter);
  else await runHttp(config, pool, meter);
  emit({ event: 'result', ...meter.result() });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : error}\n`);
      process.exit(1);
    },
  );
}
