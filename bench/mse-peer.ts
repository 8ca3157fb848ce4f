/**
 * Child processes of the `mse` benchmark: `node dist/bench/mse-peer.js '<PeerConfig JSON>'`.
 * One process per end of a loopback TCP connection, as between two real peers, so each end's
 * RC4 runs on its own core. Both ends use the real runtime's TCP streams. They exit when their
 * stdin closes or on SIGTERM, so they cannot outlive the benchmark.
 *
 * - `receive`: listens on 127.0.0.1; on its connection (after `mseAccept` when `mse`) checks
 *   every byte against the expected stream and counts it. Prints `listening` with its port,
 *   then `done` with the bytes, the seconds from accepting to the last byte and its CPU seconds.
 * - `send`: connects (then `mseConnect` when `mse`) and sends `bytes` as BitTorrent would send
 *   blocks: one writev of a 13-byte header and a 16 KiB block, both views of a fixed buffer
 *   (never copied by the sender), waiting for drain whenever a write says so. Prints `done`
 *   with its CPU seconds.
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createRealRuntime } from '../src/runtime/real.js';
import type { ByteStream } from '../src/runtime/runtime.js';
import { mseAccept, mseConnect } from '../src/transport/mse/handshake.js';
import { SkeyTable } from '../src/transport/mse/protocol.js';

/** What a child does. */
export interface PeerConfig {
  readonly role: 'send' | 'receive';
  readonly mode: 'plain' | 'mse';
  readonly bytes: number;
  /** The receiver's port (send only). */
  readonly port?: number;
}

/** One header + block, as a peer wire message carries a 16 KiB block. */
const UNIT = 13 + 16 * 1024;
/** The repeating content: 256 units of pseudo-random bytes. */
const CONTENT = (() => {
  const out = Buffer.alloc(256 * UNIT);
  let x = 0x12345678;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
})();
const INFO_HASH = Buffer.alloc(20, 0x42);

const print = (event: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify(event)}\n`);

const cpuSeconds = (since: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
};

async function receive(config: PeerConfig): Promise<void> {
  const runtime = createRealRuntime();
  const skeys = new SkeyTable();
  skeys.add(INFO_HASH);
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const server = await runtime.tcp.listen({ host: '127.0.0.1', port: 0 }, (socket) => {
    const started = performance.now();
    const cpu = process.cpuUsage();
    let received = 0;
    const count = (stream: ByteStream) => {
      stream.onData((chunk) => {
        for (let at = 0; at < chunk.length; ) {
          const offset = (received + at) % CONTENT.length;
          const n = Math.min(chunk.length - at, CONTENT.length - offset);
          if (!chunk.subarray(at, at + n).equals(CONTENT.subarray(offset, offset + n))) {
            throw new Error(`corrupt bytes at ${received + at}`);
          }
          at += n;
        }
        received += chunk.length;
        if (received < config.bytes) return;
        print({
          event: 'done',
          bytes: received,
          seconds: (performance.now() - started) / 1000,
          cpu: cpuSeconds(cpu),
        });
        stream.destroy();
        finish();
      });
    };
    if (config.mode === 'plain') {
      count(socket);
      return;
    }
    socket.onData((first) => {
      mseAccept(socket, first, {
        lookupSkey: skeys.lookup,
        allow: 'rc4',
        random: runtime.random,
        timers: runtime.timers,
      }).then(
        (accepted) => count(accepted.stream),
        (error: unknown) => {
          throw error;
        },
      );
    });
  });
  print({ event: 'listening', port: server.address().port });
  await finished;
  await server.close();
}

async function send(config: PeerConfig): Promise<void> {
  const runtime = createRealRuntime();
  const cpu = process.cpuUsage();
  const socket = await runtime.tcp.connect('127.0.0.1', config.port!, { timeoutMs: 5000 });
  const stream =
    config.mode === 'plain'
      ? socket
      : (
          await mseConnect(socket, {
            infoHash: INFO_HASH,
            allow: 'rc4',
            random: runtime.random,
            timers: runtime.timers,
          })
        ).stream;
  let drained: (() => void) | undefined;
  stream.onDrain(() => drained?.());
  const closed = new Promise<void>((resolve) => stream.onClose(() => resolve()));
  stream.onData(() => {});
  for (let sent = 0; sent < config.bytes; ) {
    const at = sent % CONTENT.length;
    const ok = stream.writev([CONTENT.subarray(at, at + 13), CONTENT.subarray(at + 13, at + UNIT)]);
    sent += UNIT;
    if (!ok) await new Promise<void>((resolve) => (drained = resolve));
  }
  await closed; // the receiver hangs up once it has everything
  print({ event: 'done', cpu: cpuSeconds(cpu) });
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as PeerConfig;
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
  if (config.role === 'receive') await receive(config);
  else await send(config);
  process.exit(0);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : error}\n`);
    process.exit(1);
  });
}

/** Bytes a sender of `bytes` really sends: whole header + block units. */
export const unitsOf = (bytes: number): number => Math.ceil(bytes / UNIT) * UNIT;
