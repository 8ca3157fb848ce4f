import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { Bitfield } from '../../src/codec/bitfield.js';
import { ManualClock } from '../../src/runtime/manual-clock.js';
import { RateMeter, TokenBucket } from '../../src/shared/rate.js';
import { PeerSession } from '../../src/swarm/peer-session.js';
import { BLOCK_BYTES, BufferPool } from '../../src/swarm/piece-job.js';
import { Uploader } from '../../src/swarm/uploader.js';
import { encodeHandshake, reservedBytes } from '../../src/wire/handshake.js';
import { encodeMessage } from '../../src/wire/messages.js';
import { fakeStream } from '../support/fake-stream.js';
import { storedTorrent } from '../support/nodes.js';
import { fixtureBytes } from '../support/tmp.js';
import { handshakenSession } from '../support/wire-socket.js';

const PIECE = 32 * 1024;
const PIECES = 6;

/** A write the stream has not flushed yet: the chunks as handed over, and its callback. */
interface HeldWrite {
  readonly chunks: readonly Uint8Array[];
  readonly flushed: (() => void) | undefined;
}

/** A seeding uploader whose one peer's socket keeps every write until the test flushes it. */
async function setup(t: TestContext) {
  const { layout, storage } = await storedTorrent(t, 'file.bin', PIECE, PIECES);
  const source = fixtureBytes(PIECE * PIECES, '');
  const clock = new ManualClock();
  const held: HeldWrite[] = [];
  const stream = fakeStream((chunks, flushed) => held.push({ chunks, flushed }) > 0);

  const session = handshakenSession(stream, clock);
  session.wire.sendMessage({ type: 'unchoke' });
  await new Promise((resolve) => setImmediate(resolve)); // the session writes in a microtask
  held.length = 0;
  const buffers = new BufferPool(PIECE);
  const uploader = new Uploader({
    layout,
    storage,
    timers: { setTimeout: () => ({ cancel: () => {} }), setInterval: () => ({ cancel: () => {} }) },
    now: () => clock.now(),
    random: () => 0,
    have: Bitfield.full(PIECES),
    availability: new Uint32Array(PIECES),
    v2Only: false,
    seeding: () => true,
    paused: () => false,
    sessions: () => [session],
    drop: (_s, error) => assert.fail(error),
    warn: () => {},
    bucket: new TokenBucket(clock, 0),
    globalBucket: new TokenBucket(clock, 0),
    meter: new RateMeter(clock),
    uploadSlots: 4,
    maxIncomingRequests: 100,
    pieceCacheBytes: 2 * PIECE,
    buffers,
  });
  /** Asks for the first block of `index` and waits until it is handed to the socket. */
  const request = async (index: number) => {
    const before = held.length;
    uploader.onRequest(session, { index, begin: 0, length: BLOCK_BYTES });
    for (let i = 0; i < 200 && held.length === before; i++)
      await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(held.length, before + 1, `block of piece ${index} sent`);
  };
  return { held, request, buffers, source };
}

test('an evicted piece buffer is reused only once the socket has flushed its blocks', async (t) => {
  const { held, request, buffers, source } = await setup(t);
  for (let i = 0; i < PIECES; i++) await request(i);
  // The cache holds two pieces, so the first four were evicted while their blocks sat unsent in
  // the socket. Nothing may reuse their memory yet: what the pool gives out now is fresh.
  const scribbled = Array.from({ length: 8 }, () => buffers.take(PIECE).fill(0xee));
  held.forEach((w, i) => {
    const block = w.chunks[1]!;
    assert.deepEqual(Buffer.from(block), source.subarray(i * PIECE, i * PIECE + BLOCK_BYTES));
    assert.ok(!scribbled.some((s) => s.buffer === block.buffer), `piece ${i}'s buffer handed out`);
  });
  // Once flushed, the evicted pieces' buffers come back to the pool (the cached two stay).
  for (const w of held) w.flushed?.();
  const evicted = new Set(held.slice(0, PIECES - 2).map((w) => w.chunks[1]!.buffer));
  const reused = Array.from({ length: PIECES - 2 }, () => buffers.take(PIECE).buffer);
  assert.deepEqual(new Set(reused), evicted);
});

/**
 * A handshaken inbound peer, already interested, whose socket flushes every write at once (or,
 * given `held`, keeps every write there until the test flushes it).
 */
function interestedPeer(clock: ManualClock, held?: HeldWrite[]): PeerSession {
  const session = new PeerSession(
    fakeStream((chunks, flushed) => {
      if (held) held.push({ chunks, flushed });
      else flushed?.();
      return true;
    }),
    { transport: 'tcp', direction: 'inbound', encrypted: false },
    clock,
    { handshake: () => {}, message: () => {} },
    1 << 20,
  );
  const handshake = {
    reserved: reservedBytes([]),
    infoHash: Buffer.alloc(20),
    peerId: Buffer.alloc(20, 1),
  };
  session.wire.receive(encodeHandshake(handshake));
  session.handshake = handshake; // as the torrent records it
  session.wire.receive(encodeMessage({ type: 'interested' }));
  return session;
}

/** An uploader of a complete six-piece torrent serving `sessions` from `slots` slots. */
async function uploaderFor(
  t: TestContext,
  clock: ManualClock,
  sessions: readonly PeerSession[],
  slots: number,
  seeding: boolean,
  uploadLimit = 0,
): Promise<Uploader> {
  const { layout, storage } = await storedTorrent(t, 'file.bin', PIECE, PIECES);
  return new Uploader({
    layout,
    storage,
    timers: clock,
    now: () => clock.now(),
    random: (n) => (n > 1 ? 1 : 0),
    have: Bitfield.full(PIECES),
    availability: new Uint32Array(PIECES),
    v2Only: false,
    seeding: () => seeding,
    paused: () => false,
    sessions: () => sessions,
    drop: (_s, error) => assert.fail(error),
    warn: () => {},
    bucket: new TokenBucket(clock, uploadLimit),
    globalBucket: new TokenBucket(clock, 0),
    meter: new RateMeter(clock),
    uploadSlots: slots,
    maxIncomingRequests: 100,
    pieceCacheBytes: PIECE * PIECES,
    buffers: new BufferPool(PIECE),
  });
}

/**
 * A seed with `slots` upload slots and `count` interested peers that each keep asking for
 * blocks while unchoked (64 a second, 1 MiB, in two pipelines of 32), run for `seconds` of a manual clock with the
 * torrent's schedule: a rechoke every 10 s, the idle-slot check every second between. Returns
 * the bytes each peer got.
 */
async function crowd(t: TestContext, count: number, slots: number, seconds: number) {
  const clock = new ManualClock();
  const sessions = Array.from({ length: count }, () => interestedPeer(clock));
  const uploader = await uploaderFor(t, clock, sessions, slots, true);
  for (const s of sessions) uploader.onInterested(s);
  for (let second = 1; second <= seconds; second++) {
    for (let batch = 0; batch < 2; batch++) {
      for (const s of sessions) {
        if (s.wire.amChoking) continue;
        for (let i = 0; i < 32; i++) {
          const block = (second * 64 + batch * 32 + i) % ((PIECE * PIECES) / BLOCK_BYTES);
          const index = Math.floor((block * BLOCK_BYTES) / PIECE);
          uploader.onRequest(s, {
            index,
            begin: (block * BLOCK_BYTES) % PIECE,
            length: BLOCK_BYTES,
          });
        }
      }
      for (let i = 0; i < 1000 && sessions.some((s) => s.incoming.length > 0); i++)
        await new Promise((resolve) => setImmediate(resolve));
    }
    clock.advance(1000);
    if (second % 10 === 0) uploader.rechoke(clock.now());
    else uploader.reassignIdleSlots();
  }
  return sessions.map((s) => s.upload.total);
}

test('a seed hands its upload slots round: every peer of a crowd gets a fair share', async (t) => {
  // 12 peers, 3 slots, 2 minutes: with a 4 MiB turn a slot changes hands every 4 s.
  const bytes = await crowd(t, 12, 3, 120);
  const mean = bytes.reduce((a, b) => a + b, 0) / bytes.length;
  assert.ok(mean > 0);
  for (const [i, b] of bytes.entries()) {
    assert.ok(b > 0, `peer ${i} got nothing: ${bytes.join(' ')}`);
    assert.ok(Math.abs(b - mean) <= 0.25 * mean, `peer ${i} got ${b}, the mean is ${mean}`);
  }
});

test('a leecher gives the slot of a peer that lost interest to one that waits, at once', async (t) => {
  const clock = new ManualClock();
  const [first, second, waiting] = [1, 2, 3].map(() => interestedPeer(clock)) as [
    PeerSession,
    PeerSession,
    PeerSession,
  ];
  const uploader = await uploaderFor(t, clock, [first, second, waiting], 2, false);
  for (const s of [first, second, waiting]) uploader.onInterested(s);
  assert.deepEqual(
    [first, second, waiting].map((s) => s.wire.amChoking),
    [false, false, true],
  );
  first.wire.receive(encodeMessage({ type: 'not-interested' }));
  uploader.onNotInterested(first);
  assert.deepEqual(
    [first, second, waiting].map((s) => s.wire.amChoking),
    [true, false, false],
  );
});

test('a seed keeps a peer that lost interest until its turn is checked', async (t) => {
  const clock = new ManualClock();
  const [first, waiting] = [1, 2].map(() => interestedPeer(clock)) as [PeerSession, PeerSession];
  const uploader = await uploaderFor(t, clock, [first, waiting], 1, true);
  for (const s of [first, waiting]) uploader.onInterested(s);
  first.wire.receive(encodeMessage({ type: 'not-interested' }));
  uploader.onNotInterested(first);
  assert.deepEqual(
    [first, waiting].map((s) => s.wire.amChoking),
    [false, true],
  );
  uploader.reassignIdleSlots(); // the seed's rotation, every second
  assert.deepEqual(
    [first, waiting].map((s) => s.wire.amChoking),
    [true, false],
  );
});

test('a leecher passes the slot of a peer that asks for nothing, not of one still being served', async (t) => {
  const clock = new ManualClock();
  const held: HeldWrite[] = [];
  const served = interestedPeer(clock, held); // its socket has not flushed what we sent
  const [quiet, waiting] = [1, 2].map(() => interestedPeer(clock)) as [PeerSession, PeerSession];
  const peers = [served, quiet, waiting];
  const uploader = await uploaderFor(t, clock, peers, 2, false);
  for (const s of peers) uploader.onInterested(s);
  uploader.onRequest(served, block(0, 0));
  await tick(clock, 500);
  assert.equal(served.upload.total, BLOCK_BYTES);
  uploader.reassignIdleSlots(); // half a second: nobody is idle yet
  assert.deepEqual(
    peers.map((s) => s.wire.amChoking),
    [false, false, true],
  );
  await tick(clock, 1000);
  uploader.reassignIdleSlots(); // `quiet` asked for nothing for 1.5 s; `served` still has a block on its way
  assert.deepEqual(
    peers.map((s) => s.wire.amChoking),
    [false, true, false],
  );
  for (const w of held.splice(0)) w.flushed?.();
  await tick(clock, 1100);
  uploader.reassignIdleSlots(); // flushed and quiet since: its slot goes to `quiet`, which waits
  assert.deepEqual(
    peers.map((s) => s.wire.amChoking),
    [true, false, false],
  );
});

test('a seed ends the turn of a peer that asks for nothing, even while its last block is on its way', async (t) => {
  const clock = new ManualClock();
  const held: HeldWrite[] = [];
  const served = interestedPeer(clock, held); // its socket has not flushed what we sent
  const waiting = interestedPeer(clock);
  const uploader = await uploaderFor(t, clock, [served, waiting], 1, true);
  for (const s of [served, waiting]) uploader.onInterested(s);
  uploader.onRequest(served, block(0, 0));
  await tick(clock, 500);
  assert.equal(served.upload.total, BLOCK_BYTES);
  uploader.reassignIdleSlots(); // half a second: the turn goes on
  assert.deepEqual(
    [served, waiting].map((s) => s.wire.amChoking),
    [false, true],
  );
  await tick(clock, 1000);
  uploader.reassignIdleSlots(); // quiet for 1.5 s: the block still in its socket does not hold the slot
  assert.deepEqual(
    [served, waiting].map((s) => s.wire.amChoking),
    [true, false],
  );
});

test('a leecher hands an idle slot to the waiting peer that lacks most of what it has', async (t) => {
  const clock = new ManualClock();
  const [quiet, needy, nearlyDone, halfway] = [1, 2, 3, 4].map(() => interestedPeer(clock)) as [
    PeerSession,
    PeerSession,
    PeerSession,
    PeerSession,
  ];
  const holding = (pieces: number[]) => {
    const bits = new Bitfield(PIECES);
    for (const i of pieces) bits.set(i);
    return bits;
  };
  nearlyDone.bits = holding([0, 1, 2, 3, 4]); // lacks 1 of our 6 pieces
  needy.bits = holding([0]); // lacks 5
  halfway.bits = holding([0, 1, 2]); // lacks 3
  const peers = [quiet, needy, nearlyDone, halfway];
  const uploader = await uploaderFor(t, clock, peers, 1, false);
  for (const s of peers) uploader.onInterested(s);
  assert.deepEqual(
    peers.map((s) => s.wire.amChoking),
    [false, true, true, true],
  );
  await tick(clock, 1500);
  uploader.reassignIdleSlots(); // `quiet` asked for nothing for 1.5 s
  assert.deepEqual(
    peers.map((s) => s.wire.amChoking),
    [true, false, true, true],
  );
  needy.wire.receive(encodeMessage({ type: 'not-interested' }));
  uploader.onNotInterested(needy); // its slot goes at once, to the next neediest
  assert.deepEqual(
    peers.map((s) => s.wire.amChoking),
    [false, true, true, true],
    '`quiet` has no bitfield yet: it lacks all six',
  );
});

test('a leecher hands an idle slot first to a waiting peer that gives it data now', async (t) => {
  const clock = new ManualClock();
  const [quiet, needy, giver, choking] = [1, 2, 3, 4].map(() => interestedPeer(clock)) as [
    PeerSession,
    PeerSession,
    PeerSession,
    PeerSession,
  ];
  needy.bits = new Bitfield(PIECES); // lacks all six of our pieces
  giver.bits = Bitfield.full(PIECES);
  giver.bits.clear(0); // lacks one
  choking.bits = giver.bits;
  const peers = [quiet, needy, giver, choking];
  const uploader = await uploaderFor(t, clock, peers, 1, false);
  for (const s of peers) uploader.onInterested(s);
  // `giver` unchokes us and sends; `choking` sent before but chokes us now.
  for (const s of [giver, choking]) s.wire.receive(encodeMessage({ type: 'unchoke' }));
  choking.download.add(BLOCK_BYTES);
  choking.wire.receive(encodeMessage({ type: 'choke' }));
  await tick(clock, 1000);
  giver.download.add(BLOCK_BYTES);
  await tick(clock, 500);
  uploader.reassignIdleSlots(); // `quiet` asked for nothing for 1.5 s
  assert.deepEqual(
    peers.map((s) => s.wire.amChoking),
    [true, true, false, true],
    'the slot goes to the peer that gives, not to the neediest',
  );
  giver.wire.receive(encodeMessage({ type: 'not-interested' }));
  uploader.onNotInterested(giver); // nobody else gives: the neediest gets it
  assert.deepEqual(
    peers.map((s) => s.wire.amChoking),
    [true, false, true, true],
  );
});

/** Moves the clock on and lets the serve loops that woke up run (and read from disk). */
async function tick(clock: ManualClock, ms: number): Promise<void> {
  clock.advance(ms);
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 5));
}

const block = (index: number, n: number) => ({
  index,
  begin: n * BLOCK_BYTES,
  length: BLOCK_BYTES,
});

test('a rate-limited seed sends the first copy of a piece before a second copy of it', async (t) => {
  const clock = new ManualClock();
  const [first, second] = [1, 2].map(() => interestedPeer(clock)) as [PeerSession, PeerSession];
  // One block a second: every block that goes out is one the other peer waits for.
  const uploader = await uploaderFor(t, clock, [first, second], 2, true, BLOCK_BYTES);
  for (const s of [first, second]) uploader.onInterested(s);
  uploader.onRequest(first, block(0, 0)); // piece 0 goes to `first` first
  await tick(clock, 1000);
  assert.equal(first.upload.total, BLOCK_BYTES);
  // `second` asks for all of piece 0 (a second copy) before `first` asks for the rest of it:
  // both wait for the same tokens, `second` in front.
  uploader.onRequest(second, block(0, 0));
  uploader.onRequest(second, block(0, 1));
  uploader.onRequest(first, block(0, 1));
  await tick(clock, 1000);
  assert.deepEqual([first.upload.total, second.upload.total], [2 * BLOCK_BYTES, 0]);
  for (let s = 0; s < 3; s++) await tick(clock, 1000);
  assert.deepEqual([first.upload.total, second.upload.total], [2 * BLOCK_BYTES, 2 * BLOCK_BYTES]);
});

test('a peer asking a rate-limited seed for second copies is slowed, not starved', async (t) => {
  const clock = new ManualClock();
  const [first, second] = [1, 2].map(() => interestedPeer(clock)) as [PeerSession, PeerSession];
  const uploader = await uploaderFor(t, clock, [first, second], 2, true, BLOCK_BYTES);
  for (const s of [first, second]) uploader.onInterested(s);
  uploader.onRequest(first, block(0, 0));
  await tick(clock, 1000);
  uploader.onRequest(second, block(0, 0)); // a second copy, behind first copies of all the rest
  for (let i = 1; i < PIECES; i++) for (const n of [0, 1]) uploader.onRequest(first, block(i, n));
  for (let s = 0; s < 10; s++) await tick(clock, 1000);
  assert.equal(second.upload.total, BLOCK_BYTES, 'the second copy went out within 10 blocks');
  assert.ok(first.upload.total >= 9 * BLOCK_BYTES, `first got ${first.upload.total}`);
});

test('an uploader keeps a few blocks in its sockets and the other requests in its queue', async (t) => {
  const clock = new ManualClock();
  const held: HeldWrite[] = [];
  const peers = [interestedPeer(clock, held), interestedPeer(clock, held)];
  const uploader = await uploaderFor(t, clock, peers, 2, true);
  for (const s of peers) uploader.onInterested(s);
  for (const s of peers)
    for (let i = 0; i < PIECES * 2; i++) uploader.onRequest(s, block(i >> 1, i & 1));
  await tick(clock, 0);
  const sent = () => peers.map((s) => s.upload.total / BLOCK_BYTES);
  const queued = () => peers.reduce((n, s) => n + s.incoming.length, 0);
  // Eight blocks go to the sockets (a second at our rate, or 8 when that is less).
  assert.equal(
    sent().reduce((a, b) => a + b),
    8,
  );
  assert.equal(queued(), 2 * PIECES * 2 - 8);
  // As they go out, the next take their place, until every request is served.
  for (let round = 0; round < 10 && queued() > 0; round++) {
    for (const w of held.splice(0)) w.flushed?.();
    await tick(clock, 0);
  }
  assert.deepEqual(sent(), [PIECES * 2, PIECES * 2]);
});

test('a peer that does not read what it asked for holds no other peer back', async (t) => {
  const clock = new ManualClock();
  const stuckWrites: HeldWrite[] = [];
  const [stuck, other] = [interestedPeer(clock, stuckWrites), interestedPeer(clock, [])] as [
    PeerSession,
    PeerSession,
  ];
  const uploader = await uploaderFor(t, clock, [stuck, other], 2, true);
  for (const s of [stuck, other]) uploader.onInterested(s);
  for (let i = 0; i < PIECES * 2; i++) uploader.onRequest(stuck, block(i >> 1, i & 1));
  await tick(clock, 0);
  assert.equal(stuck.upload.total, 8 * BLOCK_BYTES); // the backlog is full of its blocks
  uploader.onRequest(other, block(0, 0));
  await tick(clock, 0);
  assert.equal(other.upload.total, 0);
  stuck.congested = true; // its socket is full: it does not read
  await tick(clock, 300);
  assert.equal(other.upload.total, BLOCK_BYTES);
});

test('with its backlog full, an uploader sends pieces whole, going round the peers one at a time', async (t) => {
  const clock = new ManualClock();
  const names = ['a', 'b', 'c'] as const;
  const writes = names.map(() => [] as HeldWrite[]);
  const peers = writes.map((held) => interestedPeer(clock, held));
  const uploader = await uploaderFor(t, clock, peers, 3, false);
  for (const s of peers) uploader.onInterested(s);
  const ask = async (peer: number, index: number) => {
    uploader.onRequest(peers[peer]!, block(index, 0));
    uploader.onRequest(peers[peer]!, block(index, 1));
    await tick(clock, 0);
  };
  /** Blocks handed to sockets so far, in order: peer name and piece. */
  const sent: string[] = [];
  const seen = writes.map(() => 0);
  const pending: HeldWrite[] = [];
  const record = () => {
    writes.forEach((held, p) => {
      for (; seen[p]! < held.length; seen[p]!++) {
        const w = held[seen[p]!]!;
        // A write holds a run of blocks (each a 13-byte header and the data), or an unchoke.
        const headers = w.chunks.filter((c) => c.length === 13 && c[4] === 7);
        for (const h of headers) sent.push(`${names[p]}${Buffer.from(h).readUInt32BE(5)}`);
        if (headers.length > 0) pending.push(w);
      }
    });
  };
  await ask(0, 0);
  await ask(0, 1);
  await ask(1, 2);
  await ask(1, 3);
  record();
  assert.deepEqual(sent, ['a0', 'a0', 'a1', 'a1', 'b2', 'b2', 'b3', 'b3'], 'the backlog is full');
  // Now c asks for two pieces, then a and b for one more each: they queue for their turns.
  await ask(2, 4);
  await ask(2, 5);
  await ask(0, 2);
  await ask(1, 5);
  record();
  assert.equal(sent.length, 8);
  for (let i = 0; i < 20 && pending.length > 0; i++) {
    pending.shift()!.flushed?.();
    await tick(clock, 0);
    record();
  }
  assert.deepEqual(sent.slice(8), ['c4', 'c4', 'a2', 'a2', 'b5', 'b5', 'c5', 'c5']);
});
