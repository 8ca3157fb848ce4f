import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { createRealRuntime } from '../../src/runtime/real.js';
import type { ByteStream, UdpSocket } from '../../src/runtime/runtime.js';
import { UtpSocket } from '../../src/transport/utp/socket.js';

const MiB = 1 << 20;

/** A UtpSocket on a real UDP socket bound to 127.0.0.1, remembering its largest datagram. */
async function endpoint() {
  const rt = createRealRuntime();
  const udp: UdpSocket = await rt.udp.bind({
    port: 0,
    host: '127.0.0.1',
    recvBufferBytes: 4 * MiB,
    sendBufferBytes: 4 * MiB,
  });
  let largest = 0;
  const utp = new UtpSocket(
    {
      send(data, port, host) {
        if (data.length > largest) largest = data.length;
        udp.send(data, port, host);
      },
    },
    { clock: rt.clock, timers: rt.timers, random: rt.random, local: udp.address() },
  );
  udp.onMessage((data, from) => utp.receive(data, from));
  return { udp, utp, largest: () => largest };
}

test('64 MiB over real UDP on loopback arrive intact, in large datagrams', async (t) => {
  const a = await endpoint();
  const b = await endpoint();
  t.after(async () => {
    a.utp.close();
    b.utp.close();
    await Promise.all([a.udp.close(), b.udp.close()]);
  });
  const size = 64 * MiB;
  const data = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += 32) createHash('sha256').update(`${i}`).digest().copy(data, i);
  const want = createHash('sha256').update(data).digest('hex');

  const received = new Promise<{ hash: string; bytes: number; stream: ByteStream }>((resolve) => {
    b.utp.onConnection((s) => {
      const hash = createHash('sha256');
      let bytes = 0;
      s.onData((chunk) => {
        hash.update(chunk);
        bytes += chunk.length;
        if (bytes === size) resolve({ hash: hash.digest('hex'), bytes, stream: s });
      });
    });
  });
  const started = performance.now();
  const s = await a.utp.connect('127.0.0.1', b.udp.address().port);
  let at = 0;
  const pump = () => {
    while (at < size) {
      const end = Math.min(at + MiB, size);
      const more = s.write(data.subarray(at, end));
      at = end;
      if (!more) return;
    }
  };
  s.onDrain(pump);
  pump();
  const got = await received;
  const seconds = (performance.now() - started) / 1000;
  t.diagnostic(`${(size / 1e6 / seconds).toFixed(0)} MB/s, largest datagram ${a.largest()} bytes`);
  assert.equal(got.bytes, size);
  assert.equal(got.hash, want);
  assert.ok(a.largest() > 60_000, 'both ends agreed on large datagrams over loopback');

  // A clean close both ways.
  const closedA = new Promise<Error | undefined>((r) => s.onClose(r));
  const closedB = new Promise<Error | undefined>((r) => got.stream.onClose(r));
  s.end();
  assert.equal(await closedA, undefined);
  assert.equal(await closedB, undefined);
  assert.equal(a.utp.connectionCount + b.utp.connectionCount <= 2, true);
});
