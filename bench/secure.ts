/**
 * Benchmark `secure`: shoal's secure channel next to Hyperswarm's `@hyperswarm/secret-stream`
 * (Noise XX, then libsodium's secretstream; its native bindings) measured in the same run.
 *
 * 1. `cipher`: ChaChaPoly per-message cost at 64 KiB frames: a transport CipherState encrypting
 *    and decrypting 65,519-byte messages (one node:crypto cipher object each, as Noise's
 *    per-message nonce requires) against one long keystream over the same bytes; the
 *    difference is the per-message overhead. Messages go in batches of 64, each batch
 *    released before the next as the transport releases frames once written.
 * 2. `throughput`: SHOAL_BENCH_SECURE_BYTES (1 GiB) over one loopback TCP connection, sender
 *    and receiver in processes of their own (bench/secure-worker.ts), written in 256 KiB
 *    writes with back-pressure. Reported: GB/s from the end of the handshake to the last byte
 *    received, and CPU seconds per GiB (both processes, then each). SHOAL_BENCH_SECURE_ROUNDS
 *    (2) rounds, alternating order; the best counts. The same transfer over shoal's plain TCP
 *    streams, plus node:crypto's ChaCha20-Poly1305 alone, give the floor of any such channel
 *    here: no channel's sender costs less than plain sending plus encrypting, nor its receiver
 *    less than plain receiving plus decrypting.
 * 3. `handshakes`: SHOAL_BENCH_SECURE_HANDSHAKES (2000) complete XX handshakes, and as many
 *    IK, both sides in this process, without I/O: handshakes per CPU-second (both sides'
 *    work, so one core serving one side each does about twice as many). The reference is
 *    `noise-handshake`, the Noise library under secret-stream, running XX. Beside it, what
 *    node:crypto's X25519 alone allows: per side, IK makes four DHs and one key pair, XX three
 *    and one.
 *
 * SHOAL_BENCH_SECURE_PARTS picks the parts (`cipher`, `throughput`, `handshakes`).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import NoiseHandshake from 'noise-handshake';
import { generateKeyPair } from 'noise-handshake/dh.js';
import { Identity } from '../src/crypto/identity.js';
import { CHACHA_POLY, CipherState } from '../src/crypto/noise/cipher-state.js';
import { x25519, x25519KeyPair, x25519PublicKey } from '../src/crypto/noise/dh.js';
import { SeededRandom } from '../src/runtime/seeded-random.js';
import { SecureHandshake } from '../src/secure/secure-handshake.js';
import { MAX_FRAME_PLAINTEXT } from '../src/secure/transport.js';
import type { Impl, WorkerConfig } from './secure-worker.js';
import { Children, envBytes, envCount, type JsonChild, runParts } from './support.js';

const WORKER = fileURLToPath(new URL('./secure-worker.js', import.meta.url));
const IMPLS: readonly Impl[] = ['shoal', 'secret-stream'];
const GiB = 1024 ** 3;

const cpuSeconds = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

// ---------------------------------------------------------------- part 1: cipher

async function cipherPart(): Promise<void> {
  const key = new SeededRandom(1).bytes(32);
  const plaintext = new SeededRandom(2).bytes(MAX_FRAME_PLAINTEXT);
  const EMPTY = Buffer.alloc(0);
  /**
   * Encrypts then decrypts `n` messages in batches of 64 (so at most 4 MiB of ciphertext is
   * alive, as in a transport); returns µs per message for each.
   */
  const round = (n: number): [number, number] => {
    const sealing = new CipherState(CHACHA_POLY, key);
    const opening = new CipherState(CHACHA_POLY, key);
    let encrypting = 0;
    let decrypting = 0;
    for (let done = 0; done < n; done += 64) {
      const sealed: Uint8Array[][] = [];
      let start = performance.now();
      for (let i = 0; i < 64; i++) {
        const out: Uint8Array[] = [];
        sealing.encryptParts(EMPTY, [plaintext], out);
        sealed.push(out);
      }
      encrypting += performance.now() - start;
      start = performance.now();
      for (const [ciphertext, tag] of sealed) opening.decryptParts(EMPTY, ciphertext!, tag!);
      decrypting += performance.now() - start;
    }
    const messages = Math.ceil(n / 64) * 64;
    return [(encrypting * 1000) / messages, (decrypting * 1000) / messages];
  };
  /** µs per 64 KiB of one long keystream: the cost without any per-message setup. */
  const longStream = (n: number): number => {
    const cipher = createCipheriv('chacha20-poly1305', key, Buffer.alloc(12), {
      authTagLength: 16,
    });
    const start = performance.now();
    for (let i = 0; i < n; i++) cipher.update(plaintext);
    cipher.final();
    return ((performance.now() - start) * 1000) / n;
  };
  round(200);
  longStream(200);
  const messages = 4096;
  const [encrypt, decrypt] = round(messages);
  const stream = longStream(messages);
  const rate = (us: number) => `${(plaintext.length / us / 1000).toFixed(2)} GB/s`;
  process.stdout.write(
    `64 KiB messages: encrypt ${encrypt.toFixed(1)} µs (${rate(encrypt)}), decrypt ` +
      `${decrypt.toFixed(1)} µs (${rate(decrypt)}); one long keystream ${stream.toFixed(1)} µs ` +
      `per 64 KiB (${rate(stream)}). Per-message overhead: ${(encrypt - stream).toFixed(1)} µs ` +
      `encrypting, ${(decrypt - stream).toFixed(1)} µs decrypting\n`,
  );
}

// ---------------------------------------------------------------- part 2: throughput

interface Transfer {
  readonly seconds: number;
  /** CPU seconds of the sender and the receiver, from the end of the handshake. */
  readonly sender: number;
  readonly receiver: number;
}

function spawnWorker(children: Children, label: string, config: WorkerConfig): JsonChild {
  return children
    .spawn(label, process.execPath, [WORKER, JSON.stringify(config)], {
      ...process.env,
      SHOAL_EGRESS: 'loopback',
    })
    .track();
}

async function transfer(children: Children, impl: Impl, bytes: number): Promise<Transfer> {
  const timeoutMs = 60_000 + (bytes / 1e6) * 100; // 10 MB/s at the very least
  const sender = spawnWorker(children, `${impl} sender`, { role: 'sender', impl, bytes });
  const listening = await sender.waitFor((e) => e.event === 'listening', 10_000, 'listening');
  const receiver = spawnWorker(children, `${impl} receiver`, {
    role: 'receiver',
    impl,
    bytes,
    port: Number(listening.port),
  });
  const [sent, got] = await Promise.all([
    sender.waitFor((e) => e.event === 'ready', 10_000, 'handshake'),
    receiver.waitFor((e) => e.event === 'ready', 10_000, 'handshake'),
  ]);
  const done = await receiver.waitFor((e) => e.event === 'done', timeoutMs, 'all bytes');
  const senderCpu = sender.cpuSeconds() ?? Number.NaN;
  const seconds = (done.at - Math.min(sent.at, got.at)) / 1000;
  await Promise.all([sender.waitExit(10_000), receiver.waitExit(10_000)]);
  return {
    seconds,
    sender: senderCpu - (sent.cpu ?? 0),
    receiver: (done.cpu ?? 0) - (got.cpu ?? 0),
  };
}

/**
 * CPU seconds per GiB node:crypto's ChaCha20-Poly1305 takes to encrypt, then to decrypt, 64 KiB
 * messages with a cipher object each (what a Noise transport must do): 256 MiB each way.
 */
function cipherCpuPerGiB(): { encrypt: number; decrypt: number } {
  const key = new SeededRandom(4).bytes(32);
  const plaintext = new SeededRandom(5).bytes(MAX_FRAME_PLAINTEXT);
  const nonce = Buffer.alloc(12);
  const messages = 4096;
  const perGiB = GiB / (messages * plaintext.length);
  const options = { authTagLength: 16 } as const;
  let ciphertext = Buffer.alloc(0);
  let tag = Buffer.alloc(0);
  let start = cpuSeconds();
  for (let i = 0; i < messages; i++) {
    const cipher = createCipheriv('chacha20-poly1305', key, nonce, options);
    ciphertext = cipher.update(plaintext);
    cipher.final();
    tag = cipher.getAuthTag();
  }
  const encrypt = (cpuSeconds() - start) * perGiB;
  start = cpuSeconds();
  for (let i = 0; i < messages; i++) {
    const decipher = createDecipheriv('chacha20-poly1305', key, nonce, options);
    decipher.setAuthTag(tag);
    decipher.update(ciphertext);
    decipher.final();
  }
  return { encrypt, decrypt: (cpuSeconds() - start) * perGiB };
}

async function throughputPart(children: Children): Promise<void> {
  const bytes = envBytes('SHOAL_BENCH_SECURE_BYTES', GiB);
  const rounds = envCount('SHOAL_BENCH_SECURE_ROUNDS', 2);
  const impls: readonly Impl[] = [...IMPLS, 'tcp'];
  const best = new Map<Impl, Transfer>();
  const gib = bytes / GiB;
  const perGiB = (cpu: number) => (cpu / gib).toFixed(2);
  for (let r = 0; r < rounds; r++) {
    for (const impl of r % 2 === 0 ? impls : [...impls].reverse()) {
      const t = await transfer(children, impl, bytes);
      process.stdout.write(
        `${impl.padEnd(13)} round ${r + 1}: ${(bytes / t.seconds / 1e9).toFixed(2)} GB/s, ` +
          `${perGiB(t.sender + t.receiver)} CPU-s/GiB (sender ${perGiB(t.sender)}, ` +
          `receiver ${perGiB(t.receiver)})\n`,
      );
      const before = best.get(impl);
      if (before === undefined || t.seconds < before.seconds) best.set(impl, t);
    }
  }
  const shoal = best.get('shoal')!;
  const reference = best.get('secret-stream')!;
  const tcp = best.get('tcp')!;
  const cipher = cipherCpuPerGiB();
  const floorSender = tcp.sender / gib + cipher.encrypt;
  const floorReceiver = tcp.receiver / gib + cipher.decrypt;
  const rate = (t: Transfer) => bytes / t.seconds / 1e9;
  const busier = (t: Transfer) => Math.max(t.sender, t.receiver) / gib;
  process.stdout.write(
    `best: shoal ${rate(shoal).toFixed(2)} GB/s, secret-stream ${rate(reference).toFixed(2)} GB/s: ` +
      `${(rate(shoal) / rate(reference)).toFixed(2)}x (target ≥ 1 GB/s and ≥ 3x); ` +
      `CPU-s per GiB ${perGiB(shoal.sender + shoal.receiver)} vs ` +
      `${perGiB(reference.sender + reference.receiver)}\n` +
      `floor: plain TCP ${perGiB(tcp.sender)} sending + ${perGiB(tcp.receiver)} receiving, ` +
      `node:crypto ChaCha20-Poly1305 ${cipher.encrypt.toFixed(2)} encrypting + ` +
      `${cipher.decrypt.toFixed(2)} decrypting CPU-s/GiB: a channel's sender ≥ ` +
      `${floorSender.toFixed(2)}, receiver ≥ ${floorReceiver.toFixed(2)}; shoal is ` +
      `${perGiB(shoal.sender)} / ${perGiB(shoal.receiver)}. With each side on a core of its ` +
      `own, no such channel gets more than ` +
      `${(busier(reference) / Math.max(floorSender, floorReceiver)).toFixed(2)}x ` +
      `secret-stream's rate (its busier side ${busier(reference).toFixed(2)} CPU-s/GiB)\n`,
  );
}

// ---------------------------------------------------------------- part 3: handshakes

async function handshakesPart(): Promise<void> {
  const count = envCount('SHOAL_BENCH_SECURE_HANDSHAKES', 2000);
  const random = new SeededRandom(3);
  const alice = Identity.generate(random);
  const bob = Identity.generate(random);
  const shoal = (ik: boolean) => () => {
    const initiator = new SecureHandshake({
      initiator: true,
      identity: alice,
      ...(ik && { remote: bob.publicKey }),
      random,
    });
    const responder = new SecureHandshake({ initiator: false, identity: bob, random });
    let toResponder = initiator.opening();
    while (initiator.session === undefined || responder.session === undefined) {
      const toInitiator = responder.receive(toResponder);
      if (toInitiator.length > 0) toResponder = initiator.receive(toInitiator);
    }
  };
  const aliceKeys = generateKeyPair(random.bytes(32));
  const bobKeys = generateKeyPair(random.bytes(32));
  const reference = () => {
    const initiator = new NoiseHandshake('XX', true, aliceKeys);
    const responder = new NoiseHandshake('XX', false, bobKeys);
    initiator.initialise(Buffer.alloc(0));
    responder.initialise(Buffer.alloc(0));
    responder.recv(initiator.send());
    initiator.recv(responder.send());
    responder.recv(initiator.send());
  };
  const rate = (run: () => void): number => {
    for (let i = 0; i < 100; i++) run(); // warm-up
    const start = cpuSeconds();
    for (let i = 0; i < count; i++) run();
    return count / (cpuSeconds() - start);
  };
  const xx = rate(shoal(false));
  const ik = rate(shoal(true));
  const ref = rate(reference);
  // node:crypto's X25519 alone: a key pair from 32 bytes, and one DH.
  const ours = x25519KeyPair(random.bytes(32));
  const theirs = x25519PublicKey(x25519KeyPair(random.bytes(32)).publicKey);
  const keyPair = 1 / rate(() => x25519KeyPair(random.bytes(32)));
  const dh = 1 / rate(() => x25519(ours.privateKey, theirs));
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  process.stdout.write(
    `handshakes per CPU-second, both sides' work: shoal XX ${fmt(xx)}, shoal IK ${fmt(ik)}, ` +
      `noise-handshake XX ${fmt(ref)} (shoal XX ${(xx / ref).toFixed(2)}x); one side per core: ` +
      `XX ${fmt(2 * xx)}, IK ${fmt(2 * ik)} (target ≥ 3,000)\n` +
      `node:crypto X25519: key pair ${(keyPair * 1e6).toFixed(1)} µs, DH ` +
      `${(dh * 1e6).toFixed(1)} µs; X25519 alone caps one side per core at XX ` +
      `${fmt(1 / (keyPair + 3 * dh))}, IK ${fmt(1 / (keyPair + 4 * dh))}\n`,
  );
}

/** Runs the parts named in SHOAL_BENCH_SECURE_PARTS (all by default). */
export async function run(): Promise<void> {
  process.stdout.write(`CPU: ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores)\n`);
  const children = new Children();
  try {
    await runParts(
      'SHOAL_BENCH_SECURE_PARTS',
      [
        ['cipher', 'ChaChaPoly per-message cost at 64 KiB frames', cipherPart],
        [
          'throughput',
          'secure channel throughput on loopback: shoal vs secret-stream',
          throughputPart,
        ],
        ['handshakes', 'handshakes per second per core: shoal vs noise-handshake', handshakesPart],
      ],
      children,
      children,
    );
  } finally {
    await children.close();
  }
}
