/**
 * Benchmark `mse`: what Message Stream Encryption (src/transport/mse) costs.
 *
 * 1. `crypto`, in this process: RC4 throughput (SHOAL_BENCH_MSE_RC4_BYTES, 256 MiB by default,
 *    through one 1 MiB buffer, best of 3), the Diffie-Hellman work of one side (a key pair and a
 *    shared secret) and whole handshakes (initiator and responder machines, both sides' work).
 * 2. `transfer`: SHOAL_BENCH_MSE_BYTES (1 GiB by default) from one process to another over
 *    loopback TCP, sent as BitTorrent sends blocks (13-byte header + 16 KiB block per writev),
 *    plain and through MSE with RC4, alternating, SHOAL_BENCH_MSE_ROUNDS (2) rounds each; the
 *    best run of each counts. Reported: MB/s of each, what MSE costs (1 − MSE/plain; target
 *    ≤ 25%), and CPU seconds per GiB (sender + receiver) with the CPU model. Every byte is
 *    checked by the receiver; a corrupt byte or a crash fails the benchmark.
 *
 * SHOAL_BENCH_MSE_PARTS picks the parts (`crypto`, `transfer`; both by default).
 */
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { SeededRandom } from '../src/runtime/seeded-random.js';
import { MseKeyPair } from '../src/transport/mse/dh.js';
import { MseInitiator } from '../src/transport/mse/initiator.js';
import { SkeyTable } from '../src/transport/mse/protocol.js';
import { Rc4 } from '../src/transport/mse/rc4.js';
import { MseResponder } from '../src/transport/mse/responder.js';
import { type PeerConfig, unitsOf } from './mse-peer.js';
import { Children, Deadline, envBytes, mbps, mib, runParts } from './support.js';

const PEER = fileURLToPath(new URL('./mse-peer.js', import.meta.url));
const GiB = 1024 ** 3;
const TARGET_COST = 0.25;

const cpuModel = (): string => cpus()[0]?.model.trim() ?? 'unknown CPU';

async function crypto(): Promise<void> {
  const total = envBytes('SHOAL_BENCH_MSE_RC4_BYTES', 256 * 1024 ** 2);
  const buffer = new SeededRandom(1).bytes(1024 * 1024);
  const rc4 = new Rc4(Buffer.alloc(20, 7));
  rc4.process(buffer); // warm up
  let best = 0;
  for (let round = 0; round < 3; round++) {
    const started = performance.now();
    for (let done = 0; done < total; done += buffer.length) rc4.process(buffer);
    best = Math.max(best, total / ((performance.now() - started) / 1000));
  }
  process.stdout.write(`RC4: ${mbps(best, 1)} (${mib(total)} through a 1 MiB buffer, best of 3)\n`);

  const random = new SeededRandom(2);
  const peer = new MseKeyPair(random); // the first use creates the group (~20 ms, once)
  const pairs = 500;
  let started = performance.now();
  for (let i = 0; i < pairs; i++) new MseKeyPair(random).sharedSecret(peer.publicKey);
  const dhMs = (performance.now() - started) / pairs;
  process.stdout.write(`DH: ${dhMs.toFixed(3)} ms for one side's key pair and shared secret\n`);

  const skeys = new SkeyTable();
  const infoHash = Buffer.alloc(20, 3);
  skeys.add(infoHash);
  const handshakes = 300;
  started = performance.now();
  for (let i = 0; i < handshakes; i++) {
    const a = new MseInitiator({ infoHash, allow: 'rc4', random });
    const b = new MseResponder({ lookupSkey: skeys.lookup, allow: 'rc4', random });
    let toB = [a.start()];
    for (let round = 0; round < 3 && toB.length > 0; round++) {
      const toA = toB.flatMap((m) => b.receive(m).send);
      toB = toA.flatMap((m) => a.receive(m).send);
    }
  }
  const hsMs = (performance.now() - started) / handshakes;
  process.stdout.write(
    `handshake: ${hsMs.toFixed(3)} ms for both sides (${Math.round(1000 / hsMs)}/s), on ${cpuModel()}\n`,
  );
}

interface Run {
  readonly mode: 'plain' | 'mse';
  readonly seconds: number;
  readonly bytes: number;
  readonly cpu: number;
}

async function transferOnce(
  children: Children,
  mode: 'plain' | 'mse',
  bytes: number,
): Promise<Run> {
  const env = { ...process.env, SHOAL_EGRESS: 'loopback' };
  const spawn = (config: PeerConfig) =>
    children.spawn(`${mode} ${config.role}`, process.execPath, [PEER, JSON.stringify(config)], env);
  const deadline = new Deadline(Math.max(60_000, (bytes / 1e6) * 1000), `${mode} transfer`);
  const receiver = spawn({ role: 'receive', mode, bytes });
  const listening = await receiver.waitFor((e) => e.event === 'listening', 10_000, 'listening');
  const sender = spawn({ role: 'send', mode, bytes, port: listening.port as number });
  const [received, sent] = await Promise.all([
    receiver.waitFor((e) => e.event === 'done', deadline.left(), 'the last byte'),
    sender.waitFor((e) => e.event === 'done', deadline.left(), 'the end of sending'),
  ]);
  return {
    mode,
    seconds: received.seconds as number,
    bytes: received.bytes as number,
    cpu: (received.cpu as number) + (sent.cpu as number),
  };
}

async function transfer(children: Children): Promise<void> {
  const bytes = unitsOf(envBytes('SHOAL_BENCH_MSE_BYTES', GiB));
  const rounds = Number(process.env.SHOAL_BENCH_MSE_ROUNDS ?? 2);
  const best: Partial<Record<'plain' | 'mse', Run>> = {};
  for (let round = 0; round < rounds; round++) {
    const order: ('plain' | 'mse')[] = round % 2 === 0 ? ['plain', 'mse'] : ['mse', 'plain'];
    for (const mode of order) {
      const run = await transferOnce(children, mode, bytes);
      const cpuPerGiB = (run.cpu / run.bytes) * GiB;
      process.stdout.write(
        `  ${mode.padEnd(5)} round ${round + 1}: ${mbps(run.bytes, run.seconds)}, ` +
          `${cpuPerGiB.toFixed(2)} CPU s/GiB\n`,
      );
      const previous = best[mode];
      if (previous === undefined || run.seconds < previous.seconds) best[mode] = run;
    }
  }
  const plain = best.plain!;
  const mse = best.mse!;
  const ratio = plain.seconds / mse.seconds;
  const cost = 1 - ratio;
  const perGiB = (r: Run) => ((r.cpu / r.bytes) * GiB).toFixed(2);
  process.stdout.write(
    `${mib(bytes)} over loopback, best of ${rounds}: plain ${mbps(plain.bytes, plain.seconds)}, ` +
      `MSE/RC4 ${mbps(mse.bytes, mse.seconds)} (${(ratio * 100).toFixed(0)}% of plain)\n` +
      `MSE costs ${(cost * 100).toFixed(0)}% of plain TCP throughput ` +
      `(target ≤ ${TARGET_COST * 100}%: ${cost <= TARGET_COST ? 'met' : 'missed'})\n` +
      `CPU s/GiB (sender + receiver): plain ${perGiB(plain)}, MSE ${perGiB(mse)}, on ${cpuModel()}\n`,
  );
}

/** Runs the benchmark (see the file comment). */
export async function run(): Promise<void> {
  const children = new Children();
  try {
    await runParts(
      'SHOAL_BENCH_MSE_PARTS',
      [
        ['crypto', 'RC4, Diffie-Hellman and handshakes, in one process', () => crypto()],
        ['transfer', 'plain TCP vs MSE/RC4 between two processes on loopback', transfer],
      ],
      children,
      children,
    );
  } finally {
    await children.close();
  }
}
