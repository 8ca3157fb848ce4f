/**
 * One end of a `secure` benchmark transfer, in a process of its own: `sender` listens, answers
 * the handshake and writes the bytes; `receiver` dials, handshakes and counts them. Prints JSON
 * lines: `listening` (sender, with its port), `ready` (handshake done), `done` (receiver: all
 * bytes in; sender: all bytes written). Impl `tcp` is shoal's own TCP streams with no secure
 * layer: what moving the bytes costs before any encryption.
 */
import { createServer, type Socket } from 'node:net';
import SecretStream from '@hyperswarm/secret-stream';
import { Identity } from '../src/crypto/identity.js';
import { createRealRuntime } from '../src/runtime/real.js';
import type { ByteStream } from '../src/runtime/runtime.js';
import { secureAccept, secureConnect } from '../src/secure/secure-stream.js';

/** Which implementation runs the channel (`tcp`: none, the plain-stream reference). */
export type Impl = 'shoal' | 'secret-stream' | 'tcp';

/** What a worker is told (as JSON in argv). */
export interface WorkerConfig {
  readonly role: 'sender' | 'receiver';
  readonly impl: Impl;
  readonly bytes: number;
  /** The sender's port, for the receiver. */
  readonly port?: number;
}

const WRITE_BYTES = 256 * 1024;
const emit = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);

const sender = Identity.fromSeed(Buffer.alloc(32, 1));
const receiver = Identity.fromSeed(Buffer.alloc(32, 2));

/** Writes `total` bytes, waiting for drain whenever the stream asks. */
async function pump(write: (b: Buffer) => boolean, waitDrain: () => Promise<void>, total: number) {
  const block = Buffer.alloc(WRITE_BYTES, 0x5a);
  for (let sent = 0; sent < total; ) {
    const n = Math.min(block.length, total - sent);
    sent += n;
    if (!write(n === block.length ? block : block.subarray(0, n))) await waitDrain();
  }
}

async function shoalSender(config: WorkerConfig): Promise<void> {
  const runtime = createRealRuntime();
  let onAccept: (s: ByteStream) => void = () => {};
  const accepted = new Promise<ByteStream>((resolve) => {
    onAccept = resolve;
  });
  const server = await runtime.tcp.listen({ port: 0, host: '127.0.0.1' }, (s) => onAccept(s));
  emit({ event: 'listening', port: server.address().port });
  const stream =
    config.impl === 'tcp'
      ? await accepted
      : await secureAccept(await accepted, {
          identity: sender,
          random: runtime.random,
          timers: runtime.timers,
        });
  emit({ event: 'ready' });
  let drained: () => void = () => {};
  stream.onDrain(() => drained());
  await pump(
    (b) => stream.write(b),
    () =>
      new Promise((resolve) => {
        drained = resolve;
      }),
    config.bytes,
  );
  emit({ event: 'done' });
  await new Promise<void>((resolve) => stream.onClose(() => resolve()));
  await server.close();
}

async function shoalReceiver(config: WorkerConfig): Promise<void> {
  const runtime = createRealRuntime();
  const raw = await runtime.tcp.connect('127.0.0.1', config.port!);
  const stream =
    config.impl === 'tcp'
      ? raw
      : await secureConnect(raw, {
          identity: receiver,
          remote: sender.publicKey,
          random: runtime.random,
          timers: runtime.timers,
        });
  emit({ event: 'ready' });
  let got = 0;
  await new Promise<void>((resolve) => {
    stream.onData((data) => {
      got += data.length;
      if (got >= config.bytes) resolve();
    });
  });
  emit({ event: 'done', bytes: got });
  stream.destroy();
}

async function secretStreamSender(config: WorkerConfig): Promise<void> {
  let onSocket: (s: Socket) => void = () => {};
  const accepted = new Promise<Socket>((resolve) => {
    onSocket = resolve;
  });
  const server = createServer({ noDelay: true }, (s) => onSocket(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  emit({ event: 'listening', port: typeof address === 'object' && address ? address.port : 0 });
  const stream = new SecretStream(false, await accepted);
  await stream.opened;
  emit({ event: 'ready' });
  await pump(
    (b) => stream.write(b),
    () => new Promise((resolve) => stream.once('drain', () => resolve())),
    config.bytes,
  );
  emit({ event: 'done' });
  stream.on('error', () => {});
  await new Promise<void>((resolve) => stream.once('close', () => resolve()));
  server.close();
}

async function secretStreamReceiver(config: WorkerConfig): Promise<void> {
  const { connect } = await import('node:net');
  const socket = connect({ host: '127.0.0.1', port: config.port!, noDelay: true });
  const stream = new SecretStream(true, socket);
  await stream.opened;
  emit({ event: 'ready' });
  let got = 0;
  await new Promise<void>((resolve) => {
    stream.on('data', (data: Buffer) => {
      got += data.length;
      if (got >= config.bytes) resolve();
    });
  });
  emit({ event: 'done', bytes: got });
  stream.on('error', () => {});
  stream.destroy();
}

const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;
const run = {
  shoal: { sender: shoalSender, receiver: shoalReceiver },
  'secret-stream': { sender: secretStreamSender, receiver: secretStreamReceiver },
  tcp: { sender: shoalSender, receiver: shoalReceiver },
}[config.impl][config.role];
run(config).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : error}\n`);
    process.exit(1);
  },
);
