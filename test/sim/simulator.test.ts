import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { ByteStream } from '../../src/runtime/runtime.js';
import { ChurnModel } from '../../src/sim/churn.js';
import { EventQueue, SimEvent } from '../../src/sim/event-queue.js';
import { MemFs, PAGE_BYTES, PageStore } from '../../src/sim/memfs.js';
import { Nat } from '../../src/sim/nat.js';
import { Network } from '../../src/sim/network.js';
import { createSimRuntime } from '../../src/sim/sim-runtime.js';
import { Simulator, watchProgress } from '../../src/sim/simulator.js';
import { quantile, sortedCopy } from '../../src/sim/stats.js';
import { TrackerServer } from '../../src/tracker/server.js';

function world(seed = 7, options: ConstructorParameters<typeof Network>[1] = {}) {
  const sim = new Simulator(seed);
  const net = new Network(sim, { udpLoss: 0, ...options });
  const pages = new PageStore();
  return { sim, net, pages };
}

test('events run in (time, sequence) order', () => {
  const q = new EventQueue();
  const order: string[] = [];
  const mk = (t: number, seq: number, name: string) =>
    new SimEvent(t, seq, () => order.push(name), undefined, 1);
  for (const e of [mk(5, 0, 'c'), mk(1, 1, 'a'), mk(5, 2, 'd'), mk(1, 3, 'b'), mk(0, 4, 'z')])
    q.push(e);
  while (q.size > 0) q.pop()!.fn();
  assert.deepEqual(order, ['z', 'a', 'b', 'c', 'd']);
});

test('the queue pops in (time, sequence) order through any mix of pushes and pops', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.integer({ min: 0, max: 50 }), fc.constant(-1)), { maxLength: 3000 }),
      (ops) => {
        const q = new EventQueue();
        const model: SimEvent[] = [];
        let seq = 0;
        const before = (a: SimEvent, b: SimEvent) =>
          a.time < b.time || (a.time === b.time && a.seq < b.seq);
        for (const op of ops) {
          if (op >= 0) {
            const e = new SimEvent(op / 4, seq++, () => {}, undefined, 1);
            q.push(e);
            model.push(e);
          } else {
            model.sort((a, b) => (before(a, b) ? -1 : 1));
            assert.equal(q.pop(), model.shift());
          }
          assert.equal(q.size, model.length);
        }
        model.sort((a, b) => (before(a, b) ? -1 : 1));
        for (const e of model) assert.equal(q.pop(), e);
        assert.equal(q.pop(), undefined);
      },
    ),
    { numRuns: 50 },
  );
});

test('a cancelled event lets go of its callback', () => {
  const big = { bytes: new Uint8Array(10) };
  const e = new SimEvent(1, 0, () => big.bytes.length, undefined, 1);
  e.cancel();
  assert.equal(e.cancelled, true);
  assert.equal(e.fn(), undefined);
});

test('async work started by an event finishes before the clock moves on', async () => {
  const { sim } = world();
  const seen: string[] = [];
  const deep = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) await Promise.resolve();
  };
  sim.at(10, () => {
    void deep(50).then(() => {
      seen.push(`chain done at ${sim.now}`);
      queueMicrotask(() => seen.push(`microtask at ${sim.now}`));
    });
  });
  sim.at(11, () => seen.push(`next event at ${sim.now}`));
  await sim.run();
  assert.deepEqual(seen, ['chain done at 10', 'microtask at 10', 'next event at 11']);
});

test('real I/O started inside a simulation is refused', async () => {
  const { sim } = world();
  let timer: NodeJS.Timeout | undefined;
  sim.at(5, () => {
    timer = globalThis.setTimeout(() => undefined, 60_000); // what engine code must never do
  });
  await assert.rejects(sim.run(), /SIM_REAL_IO|started real I\/O \(Timeout\)/);
  clearTimeout(timer);
});

test('timers: timeouts, intervals and cancellation in virtual time; dead hosts stop', async () => {
  const { sim, net, pages } = world();
  const host = net.addHost();
  const rt = createSimRuntime(net, host, pages);
  const fired: number[] = [];
  rt.timers.setTimeout(() => fired.push(rt.clock.now()), 250);
  const cancelled = rt.timers.setTimeout(() => fired.push(-1), 100);
  cancelled.cancel();
  const tick = rt.timers.setInterval(() => fired.push(rt.clock.now()), 1000);
  await sim.run(3500);
  tick.cancel();
  assert.deepEqual(fired, [250, 1000, 2000, 3000]);
  assert.equal(rt.clock.wallTime() - rt.clock.now(), 1_704_067_200_000);
  rt.timers.setTimeout(() => fired.push(99), 10);
  net.kill(host);
  await sim.run(10_000);
  assert.deepEqual(fired, [250, 1000, 2000, 3000], 'a departed host runs nothing');
  assert.equal(sim.now, 10_000);
});

test('UDP: latency from the model, per-host addresses, loss, partitions', async () => {
  const { sim, net, pages } = world(3);
  const a = net.addHost();
  const b = net.addHost();
  const ra = createSimRuntime(net, a, pages);
  const rb = createSimRuntime(net, b, pages);
  const sa = await ra.udp.bind({ port: 1000 });
  const sb = await rb.udp.bind({ port: 2000 });
  const got: { at: number; from: string; port: number; text: string }[] = [];
  sb.onMessage((d, from) =>
    got.push({ at: sim.now, from: from.address, port: from.port, text: d.toString() }),
  );
  sa.send(Buffer.from('hello'), 2000, b.publicIp);
  await sim.run();
  assert.equal(got.length, 1);
  assert.equal(got[0]!.from, a.publicIp);
  assert.equal(got[0]!.port, 1000);
  assert.equal(got[0]!.text, 'hello');
  assert.ok(got[0]!.at >= net.oneWayMs(a, b), 'not before the path delay');
  assert.ok(got[0]!.at < net.oneWayMs(a, b) * 2 + 5, 'jitter is small');
  net.partition((h) => (h === a ? 0 : 1));
  sa.send(Buffer.from('lost'), 2000, b.publicIp);
  await sim.run();
  net.heal();
  sa.send(Buffer.from('again'), 2000, b.publicIp);
  await sim.run();
  assert.deepEqual(
    got.map((g) => g.text),
    ['hello', 'again'],
  );
  const lossy = world(4, { udpLoss: 0.3 });
  const x = lossy.net.addHost();
  const y = lossy.net.addHost();
  const sx = await createSimRuntime(lossy.net, x, lossy.pages).udp.bind({ port: 1 });
  const sy = await createSimRuntime(lossy.net, y, lossy.pages).udp.bind({ port: 2 });
  let n = 0;
  sy.onMessage(() => n++);
  for (let i = 0; i < 1000; i++) sx.send(Buffer.from([i & 255]), 2, y.publicIp);
  await lossy.sim.run();
  assert.ok(n > 620 && n < 780, `about 70 % arrive: ${n}`);
});

test('latency model: median RTT near 80 ms with a long tail', () => {
  const { net } = world(11);
  for (let i = 0; i < 2000; i++) net.addHost();
  const rtts: number[] = [];
  for (let i = 0; i < 4000; i++)
    rtts.push(2 * net.oneWayMs(net.hosts[i % 2000]!, net.hosts[(i * 7 + 3) % 2000]!));
  const s = sortedCopy(rtts);
  const p50 = quantile(s, 0.5);
  assert.ok(p50 > 65 && p50 < 95, `median RTT ${p50}`);
  assert.ok(quantile(s, 0.99) > 3 * p50, 'p99 well above the median');
  assert.ok(Math.abs(net.medianRttMs() - p50) < 10);
});

test('NAT: full cone, restricted, port-restricted and symmetric filter as they should', async () => {
  const { sim, net, pages } = world(5);
  const server = net.addHost();
  const other = net.addHost();
  const ss = await createSimRuntime(net, server, pages).udp.bind({ port: 53 });
  const so = await createSimRuntime(net, other, pages).udp.bind({ port: 53 });
  const results: Record<string, string[]> = {};
  for (const type of ['full-cone', 'restricted', 'port-restricted', 'symmetric'] as const) {
    const client = net.addHost({ nat: type });
    assert.notEqual(client.ip, client.publicIp);
    const sc = await createSimRuntime(net, client, pages).udp.bind({ port: 6881 });
    const heard: string[] = [];
    results[type] = heard;
    sc.onMessage((d) => heard.push(d.toString()));
    let mapped = { address: '', port: 0 };
    ss.onMessage((_d, from) => {
      mapped = { address: from.address, port: from.port };
    });
    sc.send(Buffer.from('out'), 53, server.publicIp);
    await sim.run();
    assert.equal(mapped.address, client.publicIp, `${type}: seen from the NAT's address`);
    ss.send(Buffer.from('reply'), mapped.port, mapped.address);
    so.send(Buffer.from('other-host'), mapped.port, mapped.address);
    await sim.run();
    // Same host, other port: only cone and address-restricted NATs let it in.
    const r = createSimRuntime(net, server, pages);
    const ss2 = await r.udp.bind({ port: 0 });
    ss2.send(Buffer.from('other-port'), mapped.port, mapped.address);
    await sim.run();
  }
  assert.deepEqual(results['full-cone'], ['reply', 'other-host', 'other-port']);
  assert.deepEqual(results.restricted, ['reply', 'other-port']);
  assert.deepEqual(results['port-restricted'], ['reply']);
  assert.deepEqual(results.symmetric, ['reply']);
});

test('NAT mappings expire when idle and their ports are reused', () => {
  const nat = new Nat('port-restricted', '198.51.100.7', 120_000);
  const ext = nat.outbound(6881, '203.0.113.1', 80, 0);
  assert.equal(nat.inbound(ext, '203.0.113.1', 80, 60_000), 6881);
  assert.equal(nat.inbound(ext, '203.0.113.1', 81, 60_000), undefined, 'other port filtered');
  assert.equal(nat.inbound(ext, '203.0.113.1', 80, 200_000), undefined, 'expired');
  const sym = new Nat('symmetric', '198.51.100.8', 1000);
  const ports = new Set<number>();
  for (let i = 0; i < 100_000; i++)
    ports.add(sym.outbound(1, `203.0.${i >> 8}.${i & 255}`, 80, i * 10));
  assert.ok(ports.size <= 45_536, 'ports are recycled, never exhausted');
});

async function connected(seed = 9, up = 1_000_000) {
  const { sim, net, pages } = world(seed, { upBytesPerSecond: up, downBytesPerSecond: 10 * up });
  const a = net.addHost();
  const b = net.addHost();
  const ra = createSimRuntime(net, a, pages);
  const rb = createSimRuntime(net, b, pages);
  let server: ByteStream | undefined;
  await rb.tcp.listen({ port: 80 }, (s) => {
    server = s;
  });
  const client = await sim.runUntilSettled(ra.tcp.connect(b.publicIp, 80));
  await sim.run(sim.now + 1000);
  assert.ok(server, 'accepted');
  return { sim, net, a, b, ra, rb, client, server: server! };
}

test('TCP: ordered bytes at the link rate, backpressure and drain, graceful close', async () => {
  const { sim, net, a, b, client, server } = await connected();
  assert.equal(server.remoteAddress, a.publicIp);
  assert.equal(client.remoteAddress, b.publicIp);
  const chunks: Buffer[] = [];
  server.onData((d) => chunks.push(d));
  let closed = false;
  server.onClose(() => {
    closed = true;
  });
  const total = 2_000_000;
  const data = Buffer.alloc(total);
  for (let i = 0; i < total; i++) data[i] = (i * 31) & 255;
  const start = sim.now;
  let drains = 0;
  client.onDrain(() => drains++);
  assert.equal(client.write(data.subarray(0, 100)), true, 'a small write fits');
  assert.equal(client.write(data.subarray(100)), false, 'a big one asks to wait');
  client.end();
  await sim.run();
  assert.ok(Buffer.concat(chunks).equals(data), 'every byte, in order');
  assert.equal(drains, 1);
  assert.ok(closed, 'the end reached the peer');
  const seconds = (sim.now - start) / 1000;
  assert.ok(seconds > 2 && seconds < 2.3, `2 MB at 1 MB/s took ${seconds} s`);
  assert.ok(net.counters.tcpSegments > 20);
});

test('TCP: a paused reader holds its sender back; resume lets it finish', async () => {
  const { sim, client, server } = await connected(10);
  let received = 0;
  server.onData((d) => {
    received += d.length;
  });
  server.pause();
  let ok = true;
  for (let i = 0; i < 100 && ok; i++) ok = client.write(Buffer.alloc(64 * 1024));
  await sim.run(sim.now + 5000);
  assert.equal(received, 0);
  server.resume();
  await sim.run();
  assert.ok(received > 0 && received % (64 * 1024) === 0);
});

test('TCP: a write is flushed once the reader has had its last byte, paused or not', async () => {
  const { sim, client, server } = await connected();
  let received = 0;
  server.onData((d) => {
    received += d.length;
  });
  server.pause();
  const flushedAt: number[] = [];
  const sizes = [3000, 100_000, 1];
  for (const size of sizes) client.writev([Buffer.alloc(size)], () => flushedAt.push(received));
  await sim.run(sim.now + 5000);
  assert.deepEqual(flushedAt, [], 'nothing is flushed while the reader holds it unread');
  server.resume();
  await sim.run();
  // Each callback came once, in order, after the reader had been handed the write's end.
  let end = 0;
  assert.equal(flushedAt.length, sizes.length);
  sizes.forEach((size, i) => {
    end += size;
    assert.ok(
      flushedAt[i]! >= end,
      `write ${i} flushed at ${flushedAt[i]} bytes read, ends at ${end}`,
    );
  });
});

test('TCP: refused, unreachable and behind-NAT connects fail; destroy reaches the peer', async () => {
  const { sim, net, pages } = world(12);
  const a = net.addHost();
  const b = net.addHost();
  const natted = net.addHost({ nat: 'full-cone' });
  const ra = createSimRuntime(net, a, pages);
  await createSimRuntime(net, natted, pages).tcp.listen({ port: 80 }, () =>
    assert.fail('unreachable'),
  );
  await assert.rejects(sim.runUntilSettled(ra.tcp.connect(b.publicIp, 80)), /ECONNREFUSED/);
  await assert.rejects(
    sim.runUntilSettled(ra.tcp.connect('203.0.113.9', 80, { timeoutMs: 3000 })),
    /ETIMEDOUT/,
  );
  await assert.rejects(
    sim.runUntilSettled(ra.tcp.connect(natted.publicIp, 80, { timeoutMs: 3000 })),
    /ETIMEDOUT/,
  );
  const c = await connected(13);
  let serverClosed = false;
  c.server.onClose(() => {
    serverClosed = true;
  });
  c.client.destroy();
  await c.sim.run();
  assert.ok(serverClosed);
});

test('TCP through NATs: a simultaneous open passes port-keeping NATs, a symmetric one rewrites the port', async () => {
  const { sim, net, pages } = world(14);
  const a = net.addHost({ nat: 'port-restricted' });
  const b = net.addHost({ nat: 'restricted' });
  const ra = createSimRuntime(net, a, pages);
  const rb = createSimRuntime(net, b, pages);
  // Each dials the other's public address from the port it told it; b starts first, so its
  // SYN is dropped at a's NAT, and a's SYN then meets b's connect: one connection.
  const fromB = rb.tcp.connect(a.publicIp, 41_000, { localPort: 42_000, timeoutMs: 5000 });
  await sim.run(sim.now + 400);
  const fromA = ra.tcp.connect(b.publicIp, 42_000, { localPort: 41_000, timeoutMs: 5000 });
  const [sa, sb] = await sim.runUntilSettled(Promise.all([fromA, fromB]));
  assert.equal(sa.remotePort, 42_000, 'the NAT kept the source port');
  assert.equal(sb.remotePort, 41_000);
  let got = '';
  sb.onData((d) => {
    got += d.toString();
  });
  sa.write(Buffer.from('through both NATs'));
  await sim.run(sim.now + 2000);
  assert.equal(got, 'through both NATs');
  // Nobody dialled out from 43000: a SYN there is dropped.
  await assert.rejects(
    sim.runUntilSettled(rb.tcp.connect(a.publicIp, 43_000, { timeoutMs: 2000 })),
    /ETIMEDOUT/,
  );
  const s = net.addHost({ nat: 'symmetric' });
  const server = net.addHost();
  let seenPort = 0;
  await createSimRuntime(net, server, pages).tcp.listen({ port: 80 }, (stream) => {
    seenPort = stream.remotePort;
  });
  await sim.runUntilSettled(
    createSimRuntime(net, s, pages).tcp.connect(server.publicIp, 80, { localPort: 44_000 }),
  );
  await sim.run(sim.now + 1000);
  assert.ok(seenPort > 0 && seenPort !== 44_000, 'a symmetric NAT picks its own port');
});

test('memory file system: files, folders, sparse pages, and shared identical pages', async () => {
  const store = new PageStore();
  let now = 1000;
  const fs = new MemFs(store, () => now);
  await fs.mkdir('/a/b');
  assert.deepEqual(await fs.readdir('/a'), ['b']);
  await assert.rejects(fs.open('/a/b/missing', 'r'), /ENOENT/);
  const h = await fs.open('/a/b/f', 'w+');
  await h.truncate(3 * PAGE_BYTES + 10);
  const page = Buffer.alloc(PAGE_BYTES, 7);
  now = 2000;
  await h.write(page, PAGE_BYTES);
  await h.write(Buffer.from('xyz'), 5);
  const s = await fs.stat('/a/b/f');
  assert.equal(s.size, 3 * PAGE_BYTES + 10);
  assert.equal(s.mtimeMs, 2000);
  const out = Buffer.alloc(s.size);
  assert.equal(await h.read(out, 0, s.size, 0), s.size);
  assert.equal(out.subarray(5, 8).toString(), 'xyz');
  assert.ok(out.subarray(PAGE_BYTES, 2 * PAGE_BYTES).equals(page));
  assert.ok(out.subarray(2 * PAGE_BYTES).every((x) => x === 0));
  const fs2 = new MemFs(store, () => now);
  await fs2.writeFileAtomic('/copy', Buffer.concat([page, page]));
  assert.equal(store.count, 1, 'one shared page of sevens; the partly written page is private');
  assert.equal(fs2.privateBytes(), 0);
  await fs.rm('/a');
  assert.equal(await fs.exists('/a/b/f'), false);
});

test('churn: Weibull sessions have the asked-for median', () => {
  const { sim } = world(21);
  const churn = new ChurnModel(sim.random, { medianSessionMs: 60_000, shape: 0.5 });
  const fresh = sortedCopy(Array.from({ length: 20_000 }, () => churn.freshSessionMs()));
  const median = quantile(fresh, 0.5);
  assert.ok(median > 55_000 && median < 65_000, `median ${median}`);
  assert.ok(quantile(fresh, 0.99) > 20 * median, 'long tail');
});

test('HTTP over simulated TCP: a GET to the real tracker server inside the simulation', async () => {
  const { sim, net, pages } = world(31);
  const server = net.addHost();
  const client = net.addHost();
  await sim.runUntilSettled(
    TrackerServer.start(createSimRuntime(net, server, pages), { httpPort: 8080 }),
  );
  const http = createSimRuntime(net, client, pages).http;
  const res = await sim.runUntilSettled(
    http.get(`http://${server.publicIp}:8080/stats`, { timeoutMs: 5000, maxBytes: 65536 }),
  );
  assert.equal(res.status, 200);
  assert.ok('swarms' in (JSON.parse(res.body.toString()) as object));
  await assert.rejects(
    sim.runUntilSettled(
      http.get(`http://${server.publicIp}:9/`, { timeoutMs: 5000, maxBytes: 10 }),
    ),
    /ECONNREFUSED/,
  );
});

test('a progress watcher is told about a run every 65,536 events and never changes it', async () => {
  const digestOf = async (watch: boolean) => {
    const sim = new Simulator(3);
    const seen: number[] = [];
    watchProgress(watch ? (s) => seen.push(s.eventsRun) : undefined);
    try {
      for (let i = 0; i < 200_000; i++) sim.at(i / 10, () => {});
      await sim.run();
    } finally {
      watchProgress(undefined);
    }
    return { digest: sim.trace.digest(), seen };
  };
  const watched = await digestOf(true);
  assert.deepEqual(watched.seen, [65_536, 131_072, 196_608]);
  const plain = await digestOf(false);
  assert.deepEqual(plain.seen, []);
  assert.equal(watched.digest, plain.digest);
});
