import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/runtime/manual-clock.js';
import type { ByteStream, RandomSource } from '../../src/runtime/runtime.js';
import { SeededRandom } from '../../src/runtime/seeded-random.js';
import {
  decodeUtpPacket,
  encodeUtpPacket,
  ST_DATA,
  ST_FIN,
  ST_RESET,
  ST_STATE,
  ST_SYN,
  type UtpPacket,
} from '../../src/transport/utp/packet.js';
import { UtpSocket, type UtpSocketOptions } from '../../src/transport/utp/socket.js';

interface Datagram {
  readonly data: Buffer;
  readonly from: { address: string; port: number };
  readonly to: { address: string; port: number };
}

/**
 * Two UtpSockets on a manual clock joined by a hand-cranked wire: datagrams wait in `queue`
 * until `deliver` passes them on (through `filter`, which may drop them), so a test sees and
 * steers every packet.
 */
function world(
  options: Partial<UtpSocketOptions> = {},
  random: RandomSource = new SeededRandom(5),
) {
  const clock = new ManualClock();
  const queue: Datagram[] = [];
  const log: Datagram[] = [];
  const sockets = new Map<string, UtpSocket>();
  const make = (address: string, port: number) => {
    const s = new UtpSocket(
      {
        send(data, toPort, toHost) {
          const d = {
            data: Buffer.from(data),
            from: { address, port },
            to: { address: toHost, port: toPort },
          };
          queue.push(d);
          log.push(d);
        },
      },
      { clock, timers: clock, random, ...options },
    );
    sockets.set(`${address}:${port}`, s);
    return s;
  };
  const a = make('10.0.0.1', 1000);
  const b = make('10.0.0.2', 2000);
  let filter: (d: Datagram, p: UtpPacket) => boolean = () => true;
  /** Passes queued datagrams on until none are left (microtasks run in between). */
  const deliver = async (rounds = 10_000) => {
    for (let i = 0; i < rounds; i++) {
      await new Promise((r) => setImmediate(r));
      if (queue.length === 0) return;
      for (const d of queue.splice(0)) {
        if (!filter(d, decodeUtpPacket(d.data))) continue;
        sockets.get(`${d.to.address}:${d.to.port}`)?.receive(d.data, d.from);
      }
    }
    throw new Error('the wire never went quiet');
  };
  /** Moves time on in steps, delivering as it goes. */
  const run = async (ms: number, step = 10) => {
    for (let t = 0; t < ms; t += step) {
      clock.advance(step);
      await deliver();
    }
  };
  return {
    clock,
    a,
    b,
    queue,
    log,
    deliver,
    run,
    setFilter(f: typeof filter) {
      filter = f;
    },
  };
}

const packets = (log: readonly Datagram[], from: string) =>
  log
    .filter((d) => d.from.address === from)
    .map((d) => ({ ...decodeUtpPacket(d.data), size: d.data.length }));

async function connected(w: ReturnType<typeof world>) {
  let server: ByteStream | undefined;
  w.b.onConnection((s) => {
    server = s;
  });
  const client = w.a.connect('10.0.0.2', 2000);
  await w.deliver();
  const c = await client;
  c.write(Buffer.from('hello'));
  await w.deliver();
  assert.ok(server, 'accepted once the initiator spoke');
  return { client: c, server };
}

function reader(s: ByteStream) {
  const chunks: Buffer[] = [];
  const closed = new Promise<Error | undefined>((r) => s.onClose(r));
  s.onData((d) => chunks.push(Buffer.from(d)));
  return {
    text: () => Buffer.concat(chunks).toString(),
    bytes: () => Buffer.concat(chunks),
    closed,
  };
}

test('handshake: ids and sequence numbers as libtorrent and BEP 29 use them', async () => {
  const w = world();
  const { server } = await connected(w);
  const got = reader(server);
  await w.deliver();
  assert.equal(got.text(), 'hello');
  const [syn, data] = packets(w.log, '10.0.0.1');
  const [synAck] = packets(w.log, '10.0.0.2');
  assert.equal(syn!.type, ST_SYN);
  assert.equal(synAck!.type, ST_STATE);
  assert.equal(synAck!.connectionId, syn!.connectionId, 'the answer uses the SYN id');
  assert.equal(synAck!.ackNr, syn!.seqNr);
  assert.equal(data!.type, ST_DATA);
  assert.equal(
    data!.connectionId,
    (syn!.connectionId + 1) & 0xffff,
    'then the initiator sends with id + 1',
  );
  assert.equal(data!.seqNr, (syn!.seqNr + 1) & 0xffff);
  assert.equal(data!.ackNr, (synAck!.seqNr - 1) & 0xffff, 'a STATE takes no sequence number');
  server.write(Buffer.from('back'));
  await w.deliver();
  const answer = packets(w.log, '10.0.0.2').find((p) => p.type === ST_DATA)!;
  assert.equal(answer.seqNr, synAck!.seqNr, "the acceptor's first DATA has the STATE's seq_nr");
  assert.equal(answer.connectionId, syn!.connectionId);
});

test('sequence numbers wrap at 16 bits without a hitch', async () => {
  // Every "random" draw is 0xfff0: SYN seq, acceptor seq and connection id start near the top.
  const nearTop: RandomSource = {
    int: () => 0xfff0,
    float: () => 0.5,
    bytes: (n) => Buffer.alloc(n),
  };
  const w = world({}, nearTop);
  const { client, server } = await connected(w);
  const got = reader(server);
  const data = Buffer.alloc(200 * 1000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 255;
  client.write(data);
  await w.run(2000);
  assert.deepEqual(got.bytes(), Buffer.concat([Buffer.from('hello'), data]));
  const seqs = packets(w.log, '10.0.0.1')
    .filter((p) => p.type === ST_DATA)
    .map((p) => p.seqNr);
  assert.ok(seqs.includes(0xffff) && seqs.includes(0), 'crossed the wrap');
});

test('a hole is resent from selective acks before any timeout', async () => {
  const w = world();
  const { client, server } = await connected(w);
  const got = reader(server);
  let dropped = -1;
  w.setFilter((d, p) => {
    if (
      p.type === ST_DATA &&
      d.from.address === '10.0.0.1' &&
      dropped < 0 &&
      p.data.length > 1000
    ) {
      dropped = p.seqNr;
      return false;
    }
    return true;
  });
  // Grow the window first so a burst of several packets is in flight.
  client.write(Buffer.alloc(30_000, 1));
  await w.run(100);
  const before = w.log.length;
  dropped = -1;
  client.write(Buffer.alloc(20_000, 2));
  await w.deliver(); // no time passes: only selective acks can repair the hole
  const acks = packets(w.log.slice(before), '10.0.0.2').filter((p) => p.type === ST_STATE);
  assert.ok(
    acks.some((p) => p.sackLength > 0),
    'the receiver sent a selective ACK',
  );
  assert.equal(got.bytes().length, 5 + 30_000 + 20_000, 'all bytes arrived without a timeout');
  const resent = packets(w.log.slice(before), '10.0.0.1').filter((p) => p.seqNr === dropped);
  assert.equal(resent.length, 2, 'the lost packet went out twice');
});

test('timeouts back off from 500 ms and then end the connection with UTP_TIMEOUT', async () => {
  const w = world();
  const { client } = await connected(w);
  const closed = new Promise<Error | undefined>((r) => client.onClose(r));
  w.setFilter(() => false); // the path dies
  const before = w.log.length;
  client.write(Buffer.alloc(100, 1));
  await w.run(70_000, 50);
  const sends = w.log
    .slice(before)
    .map((d, i) => ({ p: decodeUtpPacket(d.data), i }))
    .filter(({ p }) => p.type === ST_DATA);
  assert.ok(sends.length >= 4);
  const error = await closed;
  assert.equal((error as { code?: string } | undefined)?.code, 'UTP_TIMEOUT');
});

test('the retransmission timer never fires before 500 ms and doubles each time', async () => {
  const w = world();
  const { client } = await connected(w);
  w.setFilter(() => false);
  const times: number[] = [];
  const seen = w.log.length;
  client.write(Buffer.alloc(100, 1));
  for (let t = 0; t < 8000; t += 5) {
    w.clock.advance(5);
    await w.deliver();
    for (const d of w.log.slice(seen + times.length))
      if (decodeUtpPacket(d.data).type === ST_DATA) times.push(w.clock.now());
  }
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  assert.ok(gaps.length >= 3, `resent ${gaps.length} times`);
  assert.ok(gaps[0]! >= 500, `first resend after ${gaps[0]} ms`);
  for (let i = 1; i < gaps.length; i++)
    assert.ok(gaps[i]! >= 2 * gaps[i - 1]! - 10, `backoff ${gaps}`);
});

test('connect gives up with UTP_CONNECT_TIMEOUT when nobody answers', async () => {
  const w = world();
  w.setFilter(() => false);
  const p = w.a.connect('10.0.0.2', 2000);
  const settled = p.then(
    () => 'connected',
    (e: { code?: string }) => e.code,
  );
  await w.run(10_000, 100);
  assert.equal(await settled, 'UTP_CONNECT_TIMEOUT');
  const syns = packets(w.log, '10.0.0.1').filter((x) => x.type === ST_SYN);
  assert.equal(syns.length, 3, 'the SYN and two resends');
  assert.equal(w.a.connectionCount, 0);
});

test('packets of unknown connections get one small RESET each, rate-limited; RESETs get none', async () => {
  const w = world({ resetsPerSecond: 5 });
  const stray = (type: 0 | 1 | 2 | 3, seq: number) =>
    encodeUtpPacket({
      type,
      connectionId: 77,
      timestamp: 1,
      timestampDifference: 0,
      windowSize: 0,
      seqNr: seq,
      ackNr: 9,
      payload: Buffer.alloc(type === ST_DATA ? 100 : 0),
    });
  for (let i = 0; i < 20; i++) w.b.receive(stray(ST_DATA, i), { address: '10.9.9.9', port: 9 });
  w.b.receive(stray(ST_RESET, 99), { address: '10.9.9.9', port: 9 });
  const resets = w.queue.filter((d) => d.to.address === '10.9.9.9');
  assert.equal(resets.length, 5, 'at most resetsPerSecond');
  for (const r of resets) {
    const p = decodeUtpPacket(r.data);
    assert.equal(p.type, ST_RESET);
    assert.equal(r.data.length, 20, 'no larger than what came in');
    assert.equal(p.connectionId, 77);
    assert.ok(p.ackNr < 20);
  }
  w.clock.advance(1000);
  w.b.receive(stray(ST_FIN, 50), { address: '10.9.9.9', port: 9 });
  assert.equal(w.queue.filter((d) => d.to.address === '10.9.9.9').length, 6, 'tokens refill');
});

test('a flood of spoofed SYNs costs a bounded number of half-open connections', async () => {
  const w = world({ maxHalfOpen: 16 });
  let accepted = 0;
  w.b.onConnection(() => accepted++);
  for (let i = 0; i < 5000; i++) {
    const syn = encodeUtpPacket({
      type: ST_SYN,
      connectionId: i & 0xffff,
      timestamp: 1,
      timestampDifference: 0,
      windowSize: 1 << 20,
      seqNr: 1,
      ackNr: 0,
    });
    w.b.receive(syn, { address: `10.${(i >> 8) & 255}.${i & 255}.7`, port: 4000 + (i % 1000) });
  }
  assert.ok(w.b.connectionCount <= 16, `${w.b.connectionCount} connections`);
  assert.equal(accepted, 0, 'nothing reaches the application');
  const replies = w.queue.filter((d) => d.from.address === '10.0.0.2');
  assert.equal(replies.length, 5000);
  assert.ok(
    replies.every((d) => d.data.length <= 20),
    'each answer no larger than its SYN',
  );
  await w.run(12_000, 1000);
  assert.equal(w.b.connectionCount, 0, 'half-open connections expire');
});

test('a paused reader shrinks the advertised window; resuming reopens it', async () => {
  const w = world({ connection: { recvWindowBytes: 64 * 1024 } });
  const { client, server } = await connected(w);
  const got = reader(server);
  await w.deliver();
  server.pause();
  client.write(Buffer.alloc(300_000, 3));
  const closed = reader(client).closed;
  let clientClosed = false;
  void closed.then(() => {
    clientClosed = true;
  });
  await w.run(60_000, 100); // a minute paused: the sender probes the closed window, and waits
  assert.equal(clientClosed, false, 'a paused reader does not time the sender out');
  const held = got.bytes().length;
  assert.ok(held <= 5 + 64 * 1024, `the sender kept to the window (${held} bytes through)`);
  const lastAck = packets(w.log, '10.0.0.2')
    .filter((p) => p.type === ST_STATE)
    .at(-1)!;
  assert.ok(lastAck.windowSize < 2000, `advertised ${lastAck.windowSize}`);
  server.resume();
  await w.run(3000);
  assert.equal(got.bytes().length, 5 + 300_000);
});

test('small writes in one turn share a packet', async () => {
  const w = world();
  const { client } = await connected(w);
  const before = w.log.length;
  for (let i = 0; i < 50; i++) client.write(Buffer.from('0123456789'));
  await w.deliver();
  const data = packets(w.log.slice(before), '10.0.0.1').filter((p) => p.type === ST_DATA);
  assert.equal(data.length, 1);
  assert.equal(data[0]!.size, 20 + 500);
});

test('an idle connection sends keep-alives and stays up', async () => {
  const w = world();
  const { client, server } = await connected(w);
  const closed = reader(client).closed;
  const before = w.log.length;
  await w.run(65_000, 1000);
  const states = packets(w.log.slice(before), '10.0.0.1').filter((p) => p.type === ST_STATE);
  assert.ok(states.length >= 2, `${states.length} keep-alives in 65 s`);
  let done = false;
  void closed.then(() => {
    done = true;
  });
  await w.deliver();
  assert.equal(done, false);
  server.destroy();
});

test('end() closes both ends cleanly; destroy() resets the peer', async () => {
  const w = world();
  const one = await connected(w);
  const a = reader(one.client);
  const b = reader(one.server);
  one.client.write(Buffer.from(' world'));
  one.client.end();
  await w.run(100);
  assert.equal(b.text(), 'hello world');
  assert.equal(await a.closed, undefined);
  assert.equal(await b.closed, undefined);
  assert.ok(packets(w.log, '10.0.0.1').some((p) => p.type === ST_FIN));
  assert.ok(packets(w.log, '10.0.0.2').some((p) => p.type === ST_FIN));

  const two = await connected(w);
  const c = reader(two.server);
  two.client.destroy();
  await w.deliver();
  assert.equal(((await c.closed) as { code?: string } | undefined)?.code, 'UTP_RESET');
  await w.run(6000, 1000);
  assert.equal(w.a.connectionCount + w.b.connectionCount, 0, 'nothing lingers');
});

test('a writer that ignores back-pressure is stopped with UTP_OVERFLOW', async () => {
  const w = world({ connection: { sendHighWaterBytes: 1024 } });
  const { client } = await connected(w);
  const closed = new Promise<Error | undefined>((r) => client.onClose(r));
  let refused = 0;
  for (let i = 0; i < 100; i++) if (!client.write(Buffer.alloc(1024))) refused++;
  assert.ok(refused > 60);
  assert.equal(((await closed) as { code?: string } | undefined)?.code, 'UTP_OVERFLOW');
});
