import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRandom } from '../../src/runtime/seeded-random.js';
import { ChannelStream, type ChannelStreamEnds } from '../../src/secure/channel-stream.js';
import { Mux } from '../../src/secure/mux.js';
import { secureAccept, secureConnect } from '../../src/secure/secure-stream.js';
import { streamPair } from '../support/stream-pair.js';
import { alice, bob, closed, realTimers, receiveBytes } from './helpers.js';

const ENDS: ChannelStreamEnds = {
  remoteAddress: '192.0.2.1',
  remotePort: 1,
  localAddress: '192.0.2.2',
  localPort: 2,
};

/** A channel of `protocol` between two multiplexers over an in-memory pair, as streams. */
async function channelStreams(window?: number): Promise<[ChannelStream, ChannelStream]> {
  const [a, b] = streamPair();
  const [ma, mb] = [new Mux(a), new Mux(b)];
  const accepted = new Promise<ChannelStream>((resolve) =>
    mb.handle('test/stream', (request) =>
      resolve(new ChannelStream(request.accept(window === undefined ? {} : { window }), ENDS)),
    ),
  );
  const opened = new ChannelStream(ma.open('test/stream'), ENDS);
  return [opened, await accepted];
}

test('a channel carries a byte stream: big writes split into messages, order kept', async () => {
  const [a, b] = await channelStreams();
  assert.equal(a.remoteAddress, '192.0.2.1');
  const data = new SeededRandom(1).bytes(300_000);
  const got = receiveBytes(b, data.length);
  a.writev([data.subarray(0, 1000), data.subarray(1000)]);
  assert.deepEqual(await got, data);
});

test('back-pressure: a reader that pauses stops the writer; end waits for the backlog', async () => {
  const [a, b] = await channelStreams(64 * 1024);
  b.pause();
  const parts: Buffer[] = [];
  b.onData((d) => parts.push(Buffer.from(d)));
  let ok = true;
  let written = 0;
  for (let i = 0; i < 20 && ok; i++) {
    ok = a.write(Buffer.alloc(16 * 1024, i));
    written += 16 * 1024;
  }
  assert.equal(ok, false, 'the writer is told to wait');
  const drained = new Promise<void>((resolve) => a.onDrain(resolve));
  const bClosed = closed(b);
  b.resume();
  await drained;
  a.end();
  await bClosed;
  assert.equal(Buffer.concat(parts).length, written, 'nothing lost, even what waited');
});

test('a secure channel runs inside a channel stream (what a relay carries)', async () => {
  const [a, b] = await channelStreams();
  const random = new SeededRandom(2);
  const [sa, sb] = await Promise.all([
    secureConnect(a, { identity: alice, random, timers: realTimers, remote: bob.publicKey }),
    secureAccept(b, { identity: bob, random, timers: realTimers }),
  ]);
  assert.ok(sb.remoteIdentity.equals(alice.publicKey));
  const got = receiveBytes(sb, 5);
  sa.write(Buffer.from('hello'));
  assert.equal((await got).toString(), 'hello');
  const ended = closed(sa);
  sb.destroy();
  await ended;
});
