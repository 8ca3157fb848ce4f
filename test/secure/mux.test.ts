import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/runtime/manual-clock.js';
import { createRealRuntime } from '../../src/runtime/real.js';
import type { ByteStream } from '../../src/runtime/runtime.js';
import { type Channel, DEFAULT_WINDOW, INITIAL_WINDOW } from '../../src/secure/channel.js';
import { type ChannelRequest, MAX_PENDING_OPENS, Mux } from '../../src/secure/mux.js';
import { MuxError } from '../../src/secure/mux-errors.js';
import { encodeMessageHeader, encodeOpen, MAX_MESSAGE_SIZE } from '../../src/secure/mux-frames.js';
import { answerPings, Pinger } from '../../src/secure/ping.js';
import { secureAccept, secureConnect } from '../../src/secure/secure-stream.js';
import { streamPair } from '../support/stream-pair.js';
import { alice, bob, realTimers, secureBoth } from './helpers.js';

const clock = { now: () => performance.now(), wallTime: () => Date.now() };
const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

/** Two multiplexers over a secure in-memory pair. */
async function muxPair(): Promise<[Mux, Mux]> {
  const [a, b] = streamPair();
  const [sa, sb] = await secureBoth(a, b);
  return [new Mux(sa), new Mux(sb)];
}

function collect(channel: Channel): { type: number; text: string }[] {
  const got: { type: number; text: string }[] = [];
  channel.onMessage((type, payload) => got.push({ type, text: payload.toString() }));
  return got;
}

test('open, accept, typed messages both ways, close from the other side', async () => {
  const [a, b] = await muxPair();
  let request: ChannelRequest | undefined;
  let bChannel: Channel | undefined;
  let bGot: { type: number; text: string }[] = [];
  b.handle('chat', (r) => {
    request = r;
    bChannel = r.accept();
    bGot = collect(bChannel);
  });
  const channel = a.open('chat', { id: Buffer.from('room-1') });
  assert.equal(channel.state, 'opening');
  const opened = new Promise<void>((resolve) => channel.onOpen(resolve));
  const aGot = collect(channel);
  channel.send(1, Buffer.from('hello'));
  channel.send(2, Buffer.from(''));
  await opened;
  assert.equal(channel.state, 'open');
  assert.equal(request?.protocol, 'chat');
  assert.equal(request?.id.toString(), 'room-1');
  bChannel!.send(7, Buffer.from('hi back'));
  await turns();
  assert.deepEqual(bGot, [
    { type: 1, text: 'hello' },
    { type: 2, text: '' },
  ]);
  assert.deepEqual(aGot, [{ type: 7, text: 'hi back' }]);
  const aClosed = new Promise<Error | undefined>((resolve) => channel.onClose(resolve));
  bChannel!.close();
  assert.equal(await aClosed, undefined);
  assert.equal(a.channelCount, 0);
  assert.equal(b.channelCount, 0);
  assert.throws(() => channel.send(1, Buffer.alloc(1)), { code: 'MUX_CLOSED' });
});

test('a rejected open ends the channel with the reason', async () => {
  const [a, b] = await muxPair();
  b.handle('files', (r) => r.reject('not sharing today'));
  const channel = a.open('files');
  const error = await new Promise<Error | undefined>((resolve) => channel.onClose(resolve));
  assert.ok(error instanceof MuxError && error.code === 'MUX_REJECTED');
  assert.match(error.message, /not sharing today/);
});

test('a request waits for its handler, with the messages sent along, in order', async () => {
  const [a, b] = await muxPair();
  const channel = a.open('late');
  for (let i = 0; i < 10; i++) channel.send(0, Buffer.from(`m${i}`));
  await turns();
  let got: { type: number; text: string }[] = [];
  b.handle('late', (r) => {
    got = collect(r.accept());
  });
  await turns();
  assert.deepEqual(
    got.map((m) => m.text),
    Array.from({ length: 10 }, (_, i) => `m${i}`),
  );
});

test('requests beyond the pending limit are rejected', async () => {
  const [a] = await muxPair();
  const outcomes = Array.from({ length: MAX_PENDING_OPENS + 3 }, () => {
    const channel = a.open('nobody-handles-this');
    let outcome = 'waiting';
    channel.onClose((e) => {
      outcome = e instanceof MuxError ? e.code : 'closed';
    });
    return () => outcome;
  });
  await turns(10);
  const results = outcomes.map((o) => o());
  assert.equal(results.filter((r) => r === 'waiting').length, MAX_PENDING_OPENS);
  assert.equal(results.filter((r) => r === 'MUX_REJECTED').length, 3);
});

/**
 * One flooded, unread channel next to a ping channel: the flood stops at the credit given and
 * the pings still get through.
 */
async function floodAndPing(a: Mux, b: Mux): Promise<void> {
  let flooded: Channel | undefined;
  b.handle('flood', (r) => {
    flooded = r.accept();
    flooded.pause();
    flooded.onMessage(() => {});
  });
  answerPings(b);
  const sender = a.open('flood');
  await new Promise<void>((resolve) => sender.onOpen(resolve));
  const block = Buffer.alloc(16 * 1024, 1);
  let sent = 0;
  while (sender.send(3, block)) sent++;
  // The sender keeps going as a careless application would: the extra is kept locally.
  for (let i = 0; i < 100; i++) sender.send(3, block);
  const pinger = new Pinger(a, clock, realTimers);
  const rtts: number[] = [];
  for (let i = 0; i < 5; i++) rtts.push(await pinger.ping(2000));
  assert.equal(rtts.length, 5);
  for (const rtt of rtts) assert.ok(rtt >= 0 && rtt < 2000);
  assert.ok(flooded !== undefined);
  // The receiver holds at most its window plus one message.
  assert.ok(flooded.bufferedBytes > 0);
  assert.ok(flooded.bufferedBytes <= DEFAULT_WINDOW + MAX_MESSAGE_SIZE, `${flooded.bufferedBytes}`);
  assert.ok(sent * block.length <= DEFAULT_WINDOW + block.length);
  // Reading resumes: everything arrives and the sender is told it may go on.
  let received = 0;
  flooded.onMessage((_type, payload) => {
    received += payload.length;
  });
  const drained = new Promise<void>((resolve) => sender.onDrain(resolve));
  flooded.resume();
  await drained;
  await turns(20);
  assert.equal(received, (sent + 1 + 100) * block.length);
  pinger.close();
}

test('a flooded, unread channel does not hold up pings (in memory)', async () => {
  const [a, b] = await muxPair();
  await floodAndPing(a, b);
});

test('a flooded, unread channel does not hold up pings (TCP loopback, secure)', async () => {
  const runtime = createRealRuntime();
  let onAccept: (s: ByteStream) => void = () => {};
  const inbound = new Promise<ByteStream>((resolve) => {
    onAccept = resolve;
  });
  const server = await runtime.tcp.listen({ port: 0, host: '127.0.0.1' }, (s) => onAccept(s));
  try {
    const outbound = await runtime.tcp.connect('127.0.0.1', server.address().port);
    const options = { random: runtime.random, timers: runtime.timers };
    const [sa, sb] = await Promise.all([
      secureConnect(outbound, { ...options, identity: alice, remote: bob.publicKey }),
      inbound.then((s) => secureAccept(s, { ...options, identity: bob })),
    ]);
    const a = new Mux(sa);
    const b = new Mux(sb);
    await floodAndPing(a, b);
    const closed = new Promise<Error | undefined>((resolve) => b.onClose(resolve));
    a.close();
    assert.ok((await closed) instanceof MuxError);
  } finally {
    await server.close();
  }
});

test('a ping to a peer that does not answer pings times out', async () => {
  const [a] = await muxPair();
  const manual = new ManualClock();
  const pinger = new Pinger(a, manual, manual);
  const pong = pinger.ping(1000);
  await turns();
  manual.advance(1000);
  await assert.rejects(pong, { code: 'PING_FAILED' });
});

test('losing the connection ends every channel', async () => {
  const [a, b] = await muxPair();
  b.handle('x', (r) => r.accept());
  const one = a.open('x');
  const two = a.open('y');
  const ends = [one, two].map((c) => new Promise<Error | undefined>((r) => c.onClose(r)));
  b.close();
  for (const error of await Promise.all(ends)) {
    assert.ok(error instanceof MuxError && error.code === 'MUX_CLOSED');
  }
  assert.throws(() => a.open('z'), { code: 'MUX_CLOSED' });
});

test('cork gathers frames into one write', async () => {
  const writes: number[] = [];
  const [x, y] = streamPair();
  const writev = x.writev.bind(x);
  x.writev = (chunks, flushed) => {
    writes.push(chunks.length);
    return writev(chunks, flushed);
  };
  const a = new Mux(x);
  new Mux(y).handle('many', (r) => r.accept());
  const channel = a.open('many');
  writes.length = 0;
  a.cork();
  for (let i = 0; i < 50; i++) channel.send(0, Buffer.from([i]));
  assert.equal(writes.length, 0);
  a.uncork();
  assert.deepEqual(writes, [100]);
});

test('a peer that sends past its credit is cut off', async () => {
  const [x, y] = streamPair();
  const b = new Mux(y);
  b.handle('greedy', (r) => {
    r.accept().pause();
  });
  const closed = new Promise<Error | undefined>((resolve) => b.onClose(resolve));
  x.write(encodeOpen(0, 'greedy', Buffer.alloc(0)));
  const payload = Buffer.alloc(MAX_MESSAGE_SIZE);
  const ref = { number: 0, openedByReceiver: false };
  // Twice the initial credit, without waiting for any CREDIT frame: over what was granted.
  for (let sent = 0; sent < 2 * INITIAL_WINDOW + DEFAULT_WINDOW; sent += payload.length) {
    x.writev([encodeMessageHeader(ref, 0, payload.length), payload]);
  }
  const error = await closed;
  assert.ok(error instanceof MuxError && error.code === 'MUX_PROTOCOL', String(error));
});
