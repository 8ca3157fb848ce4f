import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { ByteStream, Runtime } from '../../src/runtime/runtime.js';
import { PageStore } from '../../src/sim/memfs.js';
import { Network, type NetworkOptions } from '../../src/sim/network.js';
import { createSimRuntime } from '../../src/sim/sim-runtime.js';
import { Simulator } from '../../src/sim/simulator.js';
import { type UdpFaultOptions, UdpFaults } from '../../src/sim/udp-faults.js';
import { UtpSocket } from '../../src/transport/utp/socket.js';

/** Two hosts, each with a UDP socket feeding a UtpSocket. */
async function pair(seed: number, net: Partial<NetworkOptions>, faults?: Partial<UdpFaultOptions>) {
  const sim = new Simulator(seed);
  const network = new Network(sim, {
    udpLoss: 0,
    upBytesPerSecond: 4_000_000,
    downBytesPerSecond: 4_000_000,
    ...net,
  });
  if (faults !== undefined) network.udpFaults = new UdpFaults(faults);
  const pages = new PageStore();
  const make = async (rt: Runtime) => {
    const udp = await rt.udp.bind({ port: 0 });
    const utp = new UtpSocket(udp, { clock: rt.clock, timers: rt.timers, random: rt.random });
    udp.onMessage((data, from) => utp.receive(data, from));
    return { udp, utp };
  };
  const a = net === undefined ? undefined : network.addHost({ region: 1 });
  const b = network.addHost({ region: 1 });
  const ra = createSimRuntime(network, a!, pages);
  const rb = createSimRuntime(network, b, pages);
  return { sim, network, a: await make(ra), b: await make(rb), bIp: b.publicIp };
}

function pattern(bytes: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < bytes; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeUInt32LE(x >>> 0, i);
  }
  return out;
}

/**
 * Sends `data` on `s` (64 KiB writes, honouring back-pressure) while collecting `expect` bytes
 * from it (copied, since chunks are lent); ends the stream once both are done, as a peer
 * ending first closes the stream (no half-open streams, as with the runtime's TCP).
 */
function exchange(s: ByteStream, data: Buffer, expect: number) {
  const chunks: Buffer[] = [];
  let total = 0;
  let at = 0;
  const maybeEnd = () => {
    if (at === data.length && total >= expect) s.end();
  };
  s.onData((d) => {
    chunks.push(Buffer.from(d));
    total += d.length;
    maybeEnd();
  });
  const closed = new Promise<Error | undefined>((resolve) => s.onClose((e) => resolve(e)));
  const pump = () => {
    while (at < data.length) {
      const end = Math.min(at + 65_536, data.length);
      const ok = s.write(data.subarray(at, end));
      at = end;
      if (!ok) return;
    }
    maybeEnd();
  };
  s.onDrain(pump);
  pump();
  return { chunks, bytes: () => total, closed };
}

async function transfer(
  seed: number,
  size: number,
  net: Partial<NetworkOptions>,
  faults?: Partial<UdpFaultOptions>,
) {
  const w = await pair(seed, net, faults);
  const upload = pattern(size, seed);
  const download = pattern(size / 4, seed + 1);
  let server: ReturnType<typeof exchange> | undefined;
  w.b.utp.onConnection((s) => {
    server = exchange(s, download, upload.length);
  });
  const connecting = w.a.utp.connect(w.bIp, w.b.udp.address().port);
  const client = await w.sim.runUntilSettled(connecting, 30_000);
  const got = exchange(client, upload, download.length);
  await w.sim.runUntilSettled(got.closed, 3_600_000);
  assert.ok(server, 'the server accepted');
  await w.sim.runUntilSettled(server.closed, 60_000);
  assert.equal(await got.closed, undefined, 'the client closed cleanly');
  assert.equal(await server.closed, undefined, 'the server closed cleanly');
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  assert.equal(server.bytes(), upload.length);
  assert.equal(sha(Buffer.concat(server.chunks)), sha(upload), 'upload byte-identical');
  assert.equal(got.bytes(), download.length);
  assert.equal(sha(Buffer.concat(got.chunks)), sha(download), 'download byte-identical');
  assert.equal(w.a.utp.connectionCount + w.b.utp.connectionCount <= 2, true);
  return { digest: w.sim.trace.digest(), seconds: w.sim.now / 1000, counters: w.network.counters };
}

const MiB = 1 << 20;

test('uTP carries 2 MiB each way intact over a clean simulated link', async () => {
  const r = await transfer(11, 2 * MiB, {});
  assert.ok(r.seconds < 60, `took ${r.seconds} s`);
});

test('uTP survives 5% loss with identical bytes', async () => {
  const r = await transfer(12, 3 * MiB, { udpLoss: 0.05 });
  assert.ok(r.counters.udpLost > 50, `lost ${r.counters.udpLost} datagrams`);
});

test('uTP survives reordering and duplication with identical bytes', async () => {
  await transfer(
    13,
    3 * MiB,
    { udpLoss: 0.01 },
    {
      reorderShare: 0.1,
      reorderDelayMs: 30,
      duplicateShare: 0.05,
    },
  );
});

test('the same seed gives the same trace', async () => {
  const opts = { udpLoss: 0.05 };
  const faults = { reorderShare: 0.05, duplicateShare: 0.02 };
  const one = await transfer(21, MiB, opts, faults);
  const two = await transfer(21, MiB, opts, faults);
  const other = await transfer(22, MiB, opts, faults);
  assert.equal(one.digest, two.digest);
  assert.notEqual(one.digest, other.digest);
});

test('LEDBAT fills a 1 MB/s uplink while keeping its queue near the 100 ms target', async () => {
  const sim = new Simulator(5);
  const network = new Network(sim, { udpLoss: 0 });
  const pages = new PageStore();
  const a = network.addHost({ region: 1, upBytesPerSecond: 1_000_000 });
  const b = network.addHost({ region: 1, downBytesPerSecond: 50_000_000 });
  const endpoint = async (rt: Runtime) => {
    const udp = await rt.udp.bind({ port: 0 });
    const utp = new UtpSocket(udp, { clock: rt.clock, timers: rt.timers, random: rt.random });
    udp.onMessage((data, from) => utp.receive(data, from));
    return { udp, utp };
  };
  const from = await endpoint(createSimRuntime(network, a, pages));
  const to = await endpoint(createSimRuntime(network, b, pages));
  let received = 0;
  to.utp.onConnection((s) => s.onData((d) => (received += d.length)));
  const client = await sim.runUntilSettled(from.utp.connect(b.publicIp, to.udp.address().port));
  const chunk = Buffer.alloc(65_536);
  const pump = () => {
    while (client.write(chunk)) {}
  };
  client.onDrain(pump);
  pump();
  await sim.run(sim.now + 3000); // slow start and the first overshoot
  const queueMs: number[] = [];
  const before = received;
  const t0 = sim.now;
  for (let i = 0; i < 10; i++) {
    await sim.run(sim.now + 1000);
    queueMs.push(Math.max(0, a.up.busyUntil - sim.now));
  }
  const rate = (received - before) / ((sim.now - t0) / 1000);
  assert.ok(rate > 900_000, `used ${(rate / 1e6).toFixed(2)} MB/s of the 1 MB/s link`);
  for (const q of queueMs)
    assert.ok(q > 50 && q < 160, `queue ${q.toFixed(0)} ms (${queueMs.map(Math.round)})`);
  client.destroy();
});
