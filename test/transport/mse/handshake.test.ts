import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../../src/runtime/manual-clock.js';
import type { ByteStream } from '../../../src/runtime/runtime.js';
import { SeededRandom } from '../../../src/runtime/seeded-random.js';
import { type MseFailure, MseHandshakeError } from '../../../src/transport/mse/errors.js';
import {
  type MseAccepted,
  type MseConnection,
  mseAccept,
  mseConnect,
} from '../../../src/transport/mse/handshake.js';
import type { MseAllow } from '../../../src/transport/mse/protocol.js';
import { type Chunker, type PairEnd, streamPair } from '../../support/fake-stream.js';
import { COMBINATIONS, INFO_HASH, served } from './support.js';

const settle = async (rounds = 20) => {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
};

const randomChunker = (seed: number, max: number): Chunker => {
  const random = new SeededRandom(seed);
  return (_offset, available) => 1 + random.int(Math.min(available, max));
};

/** Collects what a stream delivers (copies: chunks are lent). */
function collect(stream: ByteStream): { bytes: () => Buffer; chunks: Buffer[] } {
  const chunks: Buffer[] = [];
  stream.onData((d) => chunks.push(Buffer.from(d)));
  return { bytes: () => Buffer.concat(chunks), chunks };
}

/**
 * Dials from `a` and accepts on `b` the way a node would: `b`'s first chunk is read by the
 * demultiplexer and handed to mseAccept.
 */
function handshake(
  a: PairEnd,
  b: PairEnd,
  o: {
    aAllow: MseAllow;
    bAllow: MseAllow;
    prefer?: 'rc4' | 'plaintext';
    initialPayload?: Buffer;
    seed?: number;
  },
  clock = new ManualClock(),
): { connected: Promise<MseConnection>; accepted: Promise<MseAccepted> } {
  const seed = o.seed ?? 1;
  const connected = mseConnect(a, {
    infoHash: INFO_HASH,
    allow: o.aAllow,
    random: new SeededRandom(seed),
    timers: clock,
    ...(o.initialPayload && { initialPayload: o.initialPayload }),
  });
  const accepted = new Promise<MseAccepted>((resolve, reject) => {
    b.onData((first) => {
      mseAccept(b, first, {
        lookupSkey: served.lookup,
        allow: o.bAllow,
        random: new SeededRandom(seed + 1000),
        timers: clock,
        ...(o.prefer && { prefer: o.prefer }),
      }).then(resolve, reject);
    });
  });
  return { connected, accepted };
}

/** Sends `total` pseudo-random bytes from `from` in chunks, reusing one buffer after each write. */
function pump(from: ByteStream, total: number, seed: number): Buffer {
  const random = new SeededRandom(seed);
  const all = random.bytes(total);
  const scratch = Buffer.alloc(40_000);
  for (let at = 0; at < total; ) {
    const n = Math.min(total - at, 1 + random.int(scratch.length));
    all.copy(scratch, 0, at, at + n);
    // two chunks per write, as a peer wire sends header + block
    const cut = random.int(n + 1);
    from.writev([scratch.subarray(0, cut), scratch.subarray(cut, n)]);
    scratch.fill(0x33); // the caller reuses its memory at once: the stream must have copied
    at += n;
  }
  return all;
}

test('mseConnect and mseAccept agree on every combination, over randomly cut streams', async () => {
  let seed = 0;
  for (const c of COMBINATIONS) {
    seed++;
    const label = `${c.a} → ${c.b}${c.prefer ? ` preferring ${c.prefer}` : ''}`;
    const [a, b] = streamPair({
      a: randomChunker(seed, 200),
      b: randomChunker(seed + 50, 700),
      record: true,
    });
    const ia = Buffer.from(`\x13BitTorrent protocol handshake #${seed}`, 'latin1');
    const { connected, accepted } = handshake(a, b, {
      aAllow: c.a,
      bAllow: c.b,
      ...(c.prefer && { prefer: c.prefer }),
      initialPayload: ia,
      seed,
    });
    if (c.expect === 'no-common-crypto') {
      await assert.rejects(accepted, failsWith('no-common-crypto'), label);
      await assert.rejects(connected, failsWith('closed'), label);
      assert.ok(a.closed && b.closed, label);
      continue;
    }
    const [out, inn] = await Promise.all([connected, accepted]);
    assert.equal(out.encrypted, c.expect === 'rc4', label);
    assert.equal(inn.encrypted, c.expect === 'rc4', label);
    assert.ok(inn.infoHash.equals(INFO_HASH), label);
    assert.ok(inn.initialPayload.equals(ia), label);

    const atB = collect(inn.stream);
    const atA = collect(out.stream);
    const sentAB = pump(out.stream, 300_000, seed);
    const sentBA = pump(inn.stream, 100_000, seed + 7);
    await settle(3000);
    assert.ok(atB.bytes().equals(Buffer.concat([ia, sentAB])), `${label}: A → B payload`);
    assert.ok(atA.bytes().equals(sentBA), `${label}: B → A payload`);
    // on the wire: the payload in the clear exactly when plaintext was selected
    const wire = Buffer.concat(b.wire);
    const probe = sentAB.subarray(100_000, 100_064);
    assert.equal(wire.indexOf(probe) >= 0, c.expect === 'plaintext', `${label}: wire`);
    assert.equal(wire.indexOf(ia), -1, `${label}: IA is always encrypted`);
  }
});

const failsWith = (reason: MseFailure) => (e: unknown) =>
  e instanceof MseHandshakeError && e.code === 'MSE_HANDSHAKE' && e.reason === reason;

test('a handshake that stalls fails at the deadline and closes the connection', async () => {
  const clock = new ManualClock();
  const [a, b] = streamPair();
  b.onData(() => {}); // a peer that reads and never answers
  const connected = mseConnect(a, {
    infoHash: INFO_HASH,
    allow: 'both',
    random: new SeededRandom(1),
    timers: clock,
    timeoutMs: 5000,
  });
  let settled = false;
  connected
    .catch(() => undefined)
    .finally(() => {
      settled = true;
    });
  await settle();
  clock.advance(4999);
  await settle();
  assert.equal(settled, false);
  clock.advance(1);
  await assert.rejects(connected, failsWith('timeout'));
  assert.ok(a.closed);
  assert.equal(clock.pending(), 0);

  // the responder: a peer that sends half a public key and stops
  const [c, d] = streamPair();
  const accepted = mseAccept(d, Buffer.alloc(50, 9), {
    lookupSkey: served.lookup,
    allow: 'both',
    random: new SeededRandom(2),
    timers: clock,
  });
  c.onData(() => {});
  clock.advance(10_000);
  await assert.rejects(accepted, failsWith('timeout'));
  assert.ok(d.closed);
});

test('a peer that closes during the handshake fails it as closed, without waiting', async () => {
  const clock = new ManualClock();
  const [a, b] = streamPair();
  b.onData(() => b.destroy()); // a plaintext-only peer hanging up on our public key
  await assert.rejects(
    mseConnect(a, {
      infoHash: INFO_HASH,
      allow: 'both',
      random: new SeededRandom(1),
      timers: clock,
    }),
    failsWith('closed'),
  );
  assert.equal(clock.pending(), 0, 'the deadline timer is cancelled');
});

test('garbage from the peer is a typed error on both sides, never a hang', async () => {
  const clock = new ManualClock();
  const garbage = new SeededRandom(42).bytes(2000);
  // at the initiator: the peer answers our key with noise
  const [a, b] = streamPair({ a: randomChunker(3, 100) });
  b.onData(() => b.write(garbage));
  const connected = mseConnect(a, {
    infoHash: INFO_HASH,
    allow: 'both',
    random: new SeededRandom(1),
    timers: clock,
  });
  await assert.rejects(
    connected,
    (e) => e instanceof MseHandshakeError && ['protocol', 'bad-key'].includes(e.reason),
  );
  // at the responder: noise in the first chunk and after it
  const [c, d] = streamPair({ b: randomChunker(4, 100) });
  c.onData(() => {});
  const accepted = mseAccept(d, garbage.subarray(0, 30), {
    lookupSkey: served.lookup,
    allow: 'both',
    random: new SeededRandom(2),
    timers: clock,
  });
  c.write(garbage.subarray(30));
  await assert.rejects(
    accepted,
    (e) => e instanceof MseHandshakeError && ['protocol', 'bad-key'].includes(e.reason),
  );
  assert.ok(d.closed);
});

test('an unknown torrent is refused with its own reason', async () => {
  const [a, b] = streamPair();
  const clock = new ManualClock();
  const connected = mseConnect(a, {
    infoHash: Buffer.alloc(20, 1),
    allow: 'rc4',
    random: new SeededRandom(1),
    timers: clock,
  });
  const accepted = mseAccept(b, Buffer.alloc(0), {
    lookupSkey: served.lookup,
    allow: 'rc4',
    random: new SeededRandom(2),
    timers: clock,
  });
  await assert.rejects(accepted, failsWith('unknown-torrent'));
  await assert.rejects(connected, failsWith('closed'));
});

test('the payload stream holds data until the owner reads, in order, and honours pause', async () => {
  const [a, b] = streamPair({ a: randomChunker(9, 64) });
  const { connected, accepted } = handshake(a, b, { aAllow: 'rc4', bAllow: 'rc4' });
  const [out, inn] = await Promise.all([connected, accepted]);
  out.stream.write(Buffer.from('first '));
  out.stream.write(Buffer.from('second '));
  await settle(); // arrives before anyone reads on B
  inn.stream.pause();
  const got = collect(inn.stream);
  out.stream.write(Buffer.from('third'));
  await settle();
  assert.equal(got.bytes().length, 0, 'nothing while paused');
  inn.stream.resume();
  await settle();
  assert.equal(got.bytes().toString(), 'first second third');
  // writes report flushed once the transport is done with them
  let flushed = 0;
  out.stream.writev([Buffer.from('x'), Buffer.from('y')], () => flushed++);
  out.stream.writev([], () => flushed++);
  await settle();
  assert.equal(flushed, 2);
  assert.equal(got.bytes().toString(), 'first second thirdxy');
  // close passes through both ways
  let closed = false;
  inn.stream.onClose(() => {
    closed = true;
  });
  out.stream.destroy();
  await settle();
  assert.ok(closed);
});

test('bytes that arrive with the end of the handshake reach the owner first', async () => {
  for (const allow of ['rc4', 'plaintext'] as const) {
    // A stops reading when B sends its fourth message, so that B's first payload arrives in
    // the same chunk as the end of the handshake.
    const [a, b] = streamPair({ record: true });
    const writev = b.writev.bind(b);
    let writes = 0;
    b.writev = (chunks, flushed) => {
      if (++writes === 2) a.pause();
      return writev(chunks, flushed);
    };
    const clock = new ManualClock();
    const accepted = mseAccept(b, Buffer.alloc(0), {
      lookupSkey: served.lookup,
      allow,
      random: new SeededRandom(2),
      timers: clock,
    });
    const connected = mseConnect(a, {
      infoHash: INFO_HASH,
      allow,
      random: new SeededRandom(1),
      timers: clock,
      initialPayload: Buffer.from('IA'),
    });
    const inn = await accepted;
    inn.stream.write(Buffer.from('B says hi'));
    await settle();
    a.resume();
    const out = await connected;
    const atA = collect(out.stream);
    const atB = collect(inn.stream);
    out.stream.write(Buffer.from(' and more'));
    await settle();
    const last = a.wire.at(-1)!;
    assert.ok(last.length > 'B says hi'.length + 14, `${allow}: one chunk held both`);
    assert.equal(atA.bytes().toString(), 'B says hi', allow);
    assert.equal(atB.bytes().toString(), 'IA and more', allow);
    assert.equal(out.encrypted, allow === 'rc4');
  }
});
