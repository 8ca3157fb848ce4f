/**
 * One end of the `utp` benchmark's shoal ↔ shoal transfer, run as its own process so sender
 * and receiver each have a core and their CPU time is measured apart:
 *
 *   node dist/bench/utp-peer.js recv BYTES   listens on 127.0.0.1, prints {"event":"listening",
 *                                            "port"}, receives BYTES, checks every byte, prints
 *                                            {"event":"done", …} and exits
 *   node dist/bench/utp-peer.js send PORT BYTES   connects, prints {"event":"connected"}, sends
 *                                            BYTES and exits once the receiver closes
 *
 * The bytes are a 64 MiB AES-CTR keystream (the same in both processes) sent over and over;
 * the receiver compares each chunk with it (memcmp is cheap next to the transfer).
 */
import { createCipheriv } from 'node:crypto';
import { createRealRuntime } from '../src/runtime/real.js';
import type { ByteStream } from '../src/runtime/runtime.js';
import { UtpSocket } from '../src/transport/utp/socket.js';

const PATTERN_BYTES = 64 * 1024 * 1024;
/** Kernel socket buffers: a window of 64 KB datagrams must fit between two reads. */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;
const WRITE_BYTES = 1024 * 1024;

function pattern(): Buffer {
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 0x75), Buffer.alloc(16));
  return cipher.update(Buffer.alloc(PATTERN_BYTES));
}

const emit = (event: string, fields: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);

async function endpoint() {
  const rt = createRealRuntime();
  const udp = await rt.udp.bind({
    port: 0,
    host: '127.0.0.1',
    recvBufferBytes: SOCKET_BUFFER_BYTES,
    sendBufferBytes: SOCKET_BUFFER_BYTES,
  });
  const utp = new UtpSocket(udp, {
    clock: rt.clock,
    timers: rt.timers,
    random: rt.random,
    local: udp.address(),
  });
  udp.onMessage((data, from) => utp.receive(data, from));
  return { udp, utp };
}

async function receive(total: number): Promise<void> {
  const data = pattern();
  const { udp, utp } = await endpoint();
  const done = new Promise<void>((resolve, reject) => {
    utp.onConnection((s: ByteStream) => {
      let got = 0;
      const started = performance.now();
      s.onData((chunk) => {
        let at = 0;
        while (at < chunk.length) {
          const offset = got % PATTERN_BYTES;
          const n = Math.min(chunk.length - at, PATTERN_BYTES - offset);
          if (chunk.compare(data, offset, offset + n, at, at + n) !== 0) {
            reject(new Error(`byte mismatch in the 64 MiB block at ${got}`));
            s.destroy();
            return;
          }
          at += n;
          got += n;
        }
        if (got >= total) {
          emit('done', { bytes: got, seconds: (performance.now() - started) / 1000 });
          s.end();
          resolve();
        }
      });
      s.onClose((error) => {
        if (got < total) reject(error ?? new Error(`closed after ${got} of ${total} bytes`));
      });
    });
  });
  emit('listening', { port: udp.address().port });
  await done;
  await new Promise((r) => setTimeout(r, 200)); // let the FIN exchange finish
  utp.close();
  await udp.close();
}

async function send(port: number, total: number): Promise<void> {
  const data = pattern();
  const { udp, utp } = await endpoint();
  const s = await utp.connect('127.0.0.1', port);
  emit('connected');
  const closed = new Promise<Error | undefined>((resolve) => s.onClose(resolve));
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      const offset = sent % PATTERN_BYTES;
      const n = Math.min(WRITE_BYTES, total - sent, PATTERN_BYTES - offset);
      sent += n;
      if (!s.write(data.subarray(offset, offset + n))) return;
    }
  };
  s.onDrain(pump);
  pump();
  const error = await closed;
  if (error !== undefined) throw error;
  utp.close();
  await udp.close();
}

async function main(args: string[]): Promise<void> {
  const [mode, a, b] = args;
  if (mode === 'recv') await receive(Number(a));
  else if (mode === 'send') await send(Number(a), Number(b));
  else throw new Error('usage: utp-peer recv BYTES | send PORT BYTES');
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    emit('error', { message: error instanceof Error ? error.message : String(error) });
    process.exit(1);
  },
);
