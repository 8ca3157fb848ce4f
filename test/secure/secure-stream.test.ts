import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { ManualClock } from '../../src/runtime/manual-clock.js';
import { createRealRuntime } from '../../src/runtime/real.js';
import type { ByteStream } from '../../src/runtime/runtime.js';
import { SeededRandom } from '../../src/runtime/seeded-random.js';
import { SecureChannelError } from '../../src/secure/errors.js';
import {
  isSecureChannelPrologue,
  SECURE_CHANNEL_MAGIC,
} from '../../src/secure/secure-handshake.js';
import {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  secureAccept,
  secureConnect,
} from '../../src/secure/secure-stream.js';
import { REKEY_INTERVAL } from '../../src/secure/transport.js';
import { streamPair } from '../support/stream-pair.js';
import { alice, bob, carol, closed, realTimers, receiveBytes, secureBoth } from './helpers.js';

const pattern = (length: number, seed = 1): Buffer => new SeededRandom(seed).bytes(length);

for (const ik of [false, true]) {
  const name = ik ? 'IK' : 'XX';

  test(`${name}: both sides learn each other's identity and data flows both ways`, async () => {
    const [a, b] = streamPair({ maxChunk: 7_000 });
    const [sa, sb] = await secureBoth(a, b, { ik });
    assert.ok(sa.remoteIdentity.equals(bob.publicKey));
    assert.ok(sb.remoteIdentity.equals(alice.publicKey));
    assert.deepEqual(sa.handshakeHash, sb.handshakeHash);
    assert.ok(sa.initiator && !sb.initiator);
    const big = pattern(300_000);
    const small = [Buffer.from('hello'), Buffer.from(' '), Buffer.from('world')];
    const atB = receiveBytes(sb, big.length + 11);
    const atA = receiveBytes(sa, big.length);
    sa.write(big);
    sa.writev(small);
    sb.write(big);
    assert.deepEqual(await atB, Buffer.concat([big, ...small]));
    assert.deepEqual(await atA, big);
    // Nothing went over the wire in clear.
    assert.ok(a.bytesWritten > big.length && b.bytesWritten > big.length);
  });
}

test('IK to a key the responder does not hold fails on both sides', async () => {
  const [a, b] = streamPair();
  const random = new SeededRandom(3);
  const dialling = secureConnect(a, {
    identity: alice,
    remote: bob.publicKey,
    random,
    timers: realTimers,
  });
  const answering = secureAccept(b, { identity: carol, random, timers: realTimers });
  await assert.rejects(answering, { code: 'SECURE_HANDSHAKE' });
  await assert.rejects(dialling, { code: 'SECURE_CLOSED' });
});

test('XX reports whom it reached', async () => {
  const [a, b] = streamPair();
  const random = new SeededRandom(4);
  const [sa] = await Promise.all([
    secureConnect(a, { identity: alice, random, timers: realTimers }),
    secureAccept(b, { identity: carol, random, timers: realTimers }),
  ]);
  assert.ok(sa.remoteIdentity.equals(carol.publicKey));
  assert.ok(!sa.remoteIdentity.equals(bob.publicKey));
});

test('flipping any byte of a transport frame kills the connection and delivers nothing', async () => {
  // A longer length field makes the receiver wait for more: the filler that follows completes
  // the (then failing) frame.
  const filler = pattern(70_000);
  const message = Buffer.from('a message that must arrive intact or not at all');
  const frameLength = 2 + message.length + 16;
  for (let position = 0; position < frameLength; position++) {
    const [a, b] = streamPair();
    const [sa, sb] = await secureBoth(a, b);
    const start = a.bytesWritten;
    a.tamper = (chunk, offset) => {
      const at = start + position - offset;
      if (at >= 0 && at < chunk.length) chunk[at]! ^= 0x20;
      return chunk;
    };
    let delivered = 0;
    sb.onData((data) => {
      delivered += data.length;
    });
    const whyClosed = closed(sb);
    sa.write(message);
    sa.write(filler);
    const error = await whyClosed;
    assert.ok(
      error instanceof SecureChannelError && error.code === 'SECURE_FRAME',
      `byte ${position}: ${error}`,
    );
    assert.equal(delivered, 0, `byte ${position}`);
  }
});

test('flipping any byte of the handshake, either way, makes it fail', async () => {
  const turns = () => new Promise((resolve) => setImmediate(resolve));
  for (const ik of [false, true]) {
    const [probeA, probeB] = streamPair();
    await secureBoth(probeA, probeB, { ik });
    for (const side of [0, 1]) {
      const written = side === 0 ? probeA.bytesWritten : probeB.bytesWritten;
      for (let position = 0; position < written; position++) {
        const pair = streamPair();
        pair[side]!.tamper = (chunk, offset) => {
          const at = position - offset;
          if (at >= 0 && at < chunk.length) chunk[at]! ^= 0x01;
          return chunk;
        };
        // A longer length field leaves a side waiting: the handshake timeout ends that.
        const clock = new ManualClock();
        const outcome = secureBoth(pair[0], pair[1], { ik, timers: clock }).then(
          () => 'completed',
          () => 'failed',
        );
        for (let i = 0; i < 10; i++) await turns();
        clock.advance(DEFAULT_HANDSHAKE_TIMEOUT_MS);
        assert.equal(await outcome, 'failed', `${ik ? 'IK' : 'XX'} side ${side} byte ${position}`);
      }
    }
  }
});

test('a BitTorrent handshake is not a secure channel', async () => {
  const bt = Buffer.concat([Buffer.from([19]), Buffer.from('BitTorrent protocol')]);
  assert.ok(!isSecureChannelPrologue(bt));
  assert.ok(isSecureChannelPrologue(Buffer.concat([SECURE_CHANNEL_MAGIC, Buffer.from('X')])));
  assert.ok(!isSecureChannelPrologue(SECURE_CHANNEL_MAGIC.subarray(0, 7)));
  assert.equal(SECURE_CHANNEL_MAGIC.length, 8);
  assert.notEqual(SECURE_CHANNEL_MAGIC[0], 19);
  const [a, b] = streamPair();
  const answering = secureAccept(b, {
    identity: bob,
    random: new SeededRandom(1),
    timers: realTimers,
    initialBytes: bt,
  });
  await assert.rejects(answering, { code: 'SECURE_HANDSHAKE' });
  assert.ok(a);
});

test('the demultiplexer’s first bytes are handed over as initialBytes', async () => {
  const [a, b] = streamPair();
  const random = new SeededRandom(6);
  const dialling = secureConnect(a, { identity: alice, random, timers: realTimers });
  // The demultiplexer reads the first chunk itself, then hands the stream over.
  const first = await new Promise<Buffer>((resolve) => b.onData((d) => resolve(Buffer.from(d))));
  assert.ok(isSecureChannelPrologue(first));
  const [sa, sb] = await Promise.all([
    dialling,
    secureAccept(b, { identity: bob, random, timers: realTimers, initialBytes: first }),
  ]);
  const got = receiveBytes(sa, 3);
  sb.write(Buffer.from('yes'));
  assert.equal((await got).toString(), 'yes');
});

test('a handshake that does not finish times out on the runtime timers', async () => {
  const [a] = streamPair();
  const clock = new ManualClock();
  const dialling = secureConnect(a, {
    identity: alice,
    random: new SeededRandom(1),
    timers: clock,
    timeoutMs: 5000,
  });
  clock.advance(4999);
  await new Promise((r) => setImmediate(r));
  clock.advance(1);
  await assert.rejects(dialling, { code: 'SECURE_TIMEOUT' });
});

test('keys are rekeyed in step: many messages each way arrive intact', async () => {
  const [a, b] = streamPair();
  const [sa, sb] = await secureBoth(a, b);
  const count = REKEY_INTERVAL * 3 + 7;
  const messages = Array.from({ length: count }, (_, i) => pattern(1 + (i % 50), i));
  const expected = Buffer.concat(messages);
  const atB = receiveBytes(sb, expected.length);
  const atA = receiveBytes(sa, expected.length);
  for (const m of messages) {
    sa.write(m);
    sb.write(m);
  }
  assert.deepEqual(await atB, expected);
  assert.deepEqual(await atA, expected);
});

test('back-pressure passes through, and a paused stream holds its data', async () => {
  const [a, b] = streamPair({ highWaterMark: 100_000 });
  const [sa, sb] = await secureBoth(a, b);
  const block = pattern(65_000);
  assert.equal(sa.write(block), true);
  assert.equal(sa.write(block), false, 'over the high-water mark');
  const drained = new Promise<void>((resolve) => sa.onDrain(resolve));
  let received = 0;
  sb.onData((d) => {
    received += d.length;
  });
  sb.pause();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(received, 0);
  sb.resume();
  await drained;
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(received, 2 * block.length);
});

test('writev reports its chunks free once encrypted', async () => {
  const [a, b] = streamPair();
  const [sa] = await secureBoth(a, b);
  let flushed = false;
  sa.writev([Buffer.from('x')], () => {
    flushed = true;
  });
  await Promise.resolve();
  assert.ok(flushed);
});

test('over real TCP on loopback: XX then IK, 4 MiB each way, checked', async () => {
  const runtime = createRealRuntime();
  const accepted: Promise<ByteStream>[] = [];
  let onAccept: (s: ByteStream) => void = () => {};
  const server = await runtime.tcp.listen({ port: 0, host: '127.0.0.1' }, (s) => onAccept(s));
  try {
    for (const ik of [false, true]) {
      accepted.length = 0;
      const inbound = new Promise<ByteStream>((resolve) => {
        onAccept = resolve;
      });
      const outbound = await runtime.tcp.connect('127.0.0.1', server.address().port);
      const [sa, sb] = await Promise.all([
        secureConnect(outbound, {
          identity: alice,
          random: runtime.random,
          timers: runtime.timers,
          ...(ik && { remote: bob.publicKey }),
        }),
        inbound.then((s) =>
          secureAccept(s, { identity: bob, random: runtime.random, timers: runtime.timers }),
        ),
      ]);
      assert.ok(sa.remoteIdentity.equals(bob.publicKey));
      assert.ok(sb.remoteIdentity.equals(alice.publicKey));
      const data = pattern(4 * 1024 * 1024, 9);
      const atB = receiveBytes(sb, data.length);
      const atA = receiveBytes(sa, data.length);
      for (let at = 0; at < data.length; at += 100_000) {
        sa.write(data.subarray(at, at + 100_000));
        sb.write(data.subarray(at, at + 100_000));
      }
      const sha = (x: Buffer) => createHash('sha256').update(x).digest('hex');
      assert.equal(sha(await atB), sha(data));
      assert.equal(sha(await atA), sha(data));
      const bClosed = closed(sb);
      sa.end();
      assert.equal(await bClosed, undefined);
    }
  } finally {
    await server.close();
  }
});
