import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Bitfield } from '../../src/codec/bitfield.js';
import { ManualClock } from '../../src/runtime/manual-clock.js';
import { SeededRandom } from '../../src/runtime/seeded-random.js';
import { RateMeter, TokenBucket } from '../../src/shared/rate.js';
import { chooseUnchoked, pickOptimistic, rotateSeedSlots } from '../../src/swarm/choker.js';
import { joinSmallChunks } from '../../src/swarm/peer-session.js';
import { DIAL_SHARE, MAX_CANDIDATES, PeerSet, type PeerSetDeps } from '../../src/swarm/peer-set.js';
import { BufferPool, PieceJob, PieceJobs } from '../../src/swarm/piece-job.js';
import { PiecePicker } from '../../src/swarm/piece-picker.js';

test('Bitfield follows BEP 3 bit order and validates spare bits', () => {
  const b = new Bitfield(10);
  b.set(0);
  b.set(9);
  assert.deepEqual([...b.bytes], [0x80, 0x40]);
  assert.equal(b.cardinality, 2);
  assert.ok(Bitfield.isValid(10, Uint8Array.of(0xff, 0xc0)));
  assert.ok(!Bitfield.isValid(10, Uint8Array.of(0xff, 0xe0)), 'spare bit set');
  assert.ok(!Bitfield.isValid(10, Uint8Array.of(0xff)), 'too short');
  assert.equal(Bitfield.full(10).complete, true);
  assert.deepEqual([...new Bitfield(10, Uint8Array.of(0x81, 0x40)).indices()], [0, 7, 9]);
});

test('Bitfield.countNotIn counts the pieces one set has and the other lacks', () => {
  fc.assert(
    fc.property(
      fc
        .integer({ min: 1, max: 80 })
        .chain((size) =>
          fc.tuple(
            fc.constant(size),
            fc.uint8Array({ minLength: Math.ceil(size / 8), maxLength: Math.ceil(size / 8) }),
            fc.uint8Array({ minLength: Math.ceil(size / 8), maxLength: Math.ceil(size / 8) }),
          ),
        ),
      ([size, x, y]) => {
        const a = new Bitfield(size, x);
        const b = new Bitfield(size, y);
        const expected = [...a.indices()].filter((i) => !b.has(i)).length;
        assert.equal(a.countNotIn(b), expected);
      },
    ),
  );
});

test('PiecePicker picks randomly at first, then rarest first, honouring priorities', () => {
  const have = new Bitfield(8);
  const picker = new PiecePicker(8, have, new SeededRandom(1));
  const peerA = Bitfield.full(8);
  const peerB = new Bitfield(8);
  for (const i of [0, 1, 2, 3, 4, 5, 6]) peerB.set(i);
  picker.addPeer(peerA);
  picker.addPeer(peerB);
  for (const i of [0, 1, 2, 3]) have.set(i);
  // Piece 7 is held only by A: the rarest.
  assert.equal(
    picker.pick(peerA, () => false),
    7,
  );
  assert.equal(picker.pick(peerB, () => false) >= 4, true);
  picker.priority[5] = 7;
  assert.equal(
    picker.pick(peerA, () => false),
    5,
    'highest priority first',
  );
  picker.priority.fill(0);
  assert.equal(
    picker.pick(peerA, () => false),
    -1,
    'nothing wanted',
  );
  assert.equal(picker.wantsMore(), false);
  const fresh = new PiecePicker(8, new Bitfield(8), new SeededRandom(2));
  const seen = new Set(Array.from({ length: 50 }, () => fresh.pick(peerA, () => false)));
  assert.ok(seen.size > 3, 'random-first spreads the first picks');
});

test('PiecePicker picks and shows interest exactly as a plain piece-by-piece scan does', () => {
  const bits = (n: number, set: boolean[]) => {
    const b = new Bitfield(n);
    for (const [i, on] of set.entries()) if (on) b.set(i);
    return b;
  };
  const piece = fc.record({
    have: fc.boolean(),
    peer: fc.boolean(),
    priority: fc.integer({ min: 0, max: 3 }),
    availability: fc.integer({ min: 0, max: 4 }),
    busy: fc.boolean(),
    /** A busy piece the caller also names in the `skip` bitfield. */
    skip: fc.boolean(),
  });
  fc.assert(
    fc.property(fc.array(piece, { minLength: 1, maxLength: 70 }), fc.nat(), (pieces, seed) => {
      const n = pieces.length;
      const have = bits(
        n,
        pieces.map((p) => p.have),
      );
      const peer = bits(
        n,
        pieces.map((p) => p.peer),
      );
      const makePicker = () => {
        const picker = new PiecePicker(n, have, new SeededRandom(seed));
        pieces.forEach((p, i) => {
          picker.priority[i] = p.priority;
          picker.availability[i] = p.availability;
        });
        picker.prioritiesChanged();
        return picker;
      };
      const picker = makePicker();
      const busy = (i: number) => pieces[i]!.busy;
      // The reference: every piece in turn from the same random start.
      const start = new SeededRandom(seed).int(n);
      const randomMode = have.cardinality < 4;
      const top = Math.max(...pieces.map((p) => p.priority));
      let expected = -1;
      let bestP = 0;
      let bestA = Number.POSITIVE_INFINITY;
      for (let k = 0; k < n; k++) {
        const i = (start + k) % n;
        const p = pieces[i]!;
        if (p.priority === 0 || p.have || !p.peer || p.busy) continue;
        if (randomMode || (p.availability <= 1 && p.priority === top)) {
          expected = i;
          break;
        }
        if (p.priority > bestP || (p.priority === bestP && p.availability < bestA)) {
          expected = i;
          bestP = p.priority;
          bestA = p.availability;
        }
      }
      assert.equal(picker.pick(peer, busy), expected);
      const skip = bits(
        n,
        pieces.map((p) => p.busy && p.skip),
      );
      assert.equal(makePicker().pick(peer, busy, skip.bytes), expected, 'the same with `skip`');
      const interesting = pieces.some((p) => p.priority > 0 && !p.have && p.peer);
      assert.equal(picker.interestedIn(peer), interesting);
    }),
    { numRuns: 500 },
  );
});

test('PieceJobs keeps a bitfield of the pieces it holds', () => {
  const jobs = new PieceJobs(20);
  for (const i of [0, 7, 8, 19]) jobs.set(i, new PieceJob(i, 16));
  assert.deepEqual([...jobs.bits.bytes], [0x81, 0x80, 0x10]);
  assert.equal(jobs.delete(7), true);
  assert.equal(jobs.delete(7), false);
  jobs.set(0, new PieceJob(0, 16)); // replaced: still one
  assert.deepEqual([...jobs.bits.bytes], [0x80, 0x80, 0x10]);
  assert.deepEqual(
    [...jobs.keys()].sort((a, b) => a - b),
    [0, 8, 19],
  );
  jobs.clear();
  assert.deepEqual([...jobs.bits.bytes], [0, 0, 0]);
});

test('BufferPool reuses buffers within its bound, never hands one out twice, and shrinks', () => {
  const pool = new BufferPool(1024, 4 * 1024);
  const taken = Array.from({ length: 6 }, () => pool.take(1000));
  assert.equal(new Set(taken).size, 6, 'an empty pool allocates');
  for (const b of taken) pool.give(b);
  pool.give(taken[3]!); // given twice: still one spare
  pool.give(new Uint8Array(512)); // not its size: ignored
  const again = Array.from({ length: 6 }, () => pool.take(1024));
  assert.equal(again.filter((b) => taken.includes(b)).length, 4, 'four spares kept (4 KiB)');
  assert.equal(new Set(again).size, 6);
  assert.equal(pool.take(4096).byteLength, 4096, 'larger than its buffers: allocated');
  for (const b of again) pool.give(b);
  pool.shrink(2048);
  const kept = Array.from({ length: 3 }, () => pool.take(1024));
  assert.equal(kept.filter((b) => again.includes(b)).length, 2, 'shrunk to two spares');
});

test("BufferPool takes new buffers from the file system's write memory and hands extras back", () => {
  const lent: Uint8Array[] = [];
  const back: Uint8Array[] = [];
  const memory = {
    take: (bytes: number) =>
      lent.length < 3 ? lent[lent.push(new Uint8Array(bytes + 8)) - 1] : undefined,
    give: (slot: Uint8Array) => void back.push(slot),
  };
  const pool = new BufferPool(1024, 2 * 1024, memory);
  const taken = Array.from({ length: 4 }, () => pool.take(1000));
  assert.equal(lent.length, 3);
  assert.deepEqual(
    taken.map((b) => b.byteLength),
    [1024, 1024, 1024, 1024],
    'a lent slot is cut to the pool size; past what is lent, the heap',
  );
  assert.equal(taken[0]!.buffer, lent[0]!.buffer);
  for (const b of taken) pool.give(b);
  assert.equal(back.length, 2, 'beyond two spares, buffers go back to the memory');
  pool.shrink(0);
  assert.equal(back.length, 2, 'two spares are always kept');
});

test('the choker reciprocates while leeching', () => {
  const peers = [
    { id: 1, interested: true, downloadRate: 100, snubbed: false, owed: 0 },
    { id: 2, interested: true, downloadRate: 300, snubbed: false, owed: 0 },
    { id: 3, interested: true, downloadRate: 900, snubbed: true, owed: -5 },
    { id: 4, interested: false, downloadRate: 999, snubbed: false, owed: 0 },
    { id: 5, interested: true, downloadRate: 0, snubbed: false, owed: 0 },
  ];
  assert.deepEqual([...chooseUnchoked(peers, 1, undefined)], [2]);
  assert.deepEqual([...chooseUnchoked(peers, 2, 5)].sort(), [1, 2, 5]);
  const picks = new Set([0, 1, 2].map((k) => pickOptimistic(peers, new Set([2]), () => k)));
  assert.deepEqual([...picks].sort(), [1, 3, 5], 'owed nothing: any interested peer not chosen');
});

test('the optimistic slot goes to the interested peer we owe most', () => {
  const peer = (id: number, owed: number, interested = true) => ({
    id,
    interested,
    downloadRate: 0,
    snubbed: false,
    owed,
  });
  const peers = [peer(1, 5000), peer(2, 90_000), peer(3, -70_000), peer(4, 1e9, false), peer(5, 0)];
  assert.equal(
    pickOptimistic(peers, new Set(), () => 0),
    2,
  );
  assert.equal(
    pickOptimistic(peers, new Set([2]), () => 0),
    1,
    'the next creditor',
  );
  assert.equal(
    pickOptimistic(peers, new Set([1, 2]), () => 1),
    5,
    'no creditor: at random',
  );
  assert.equal(
    pickOptimistic(peers, new Set([1, 2, 3, 5]), () => 0),
    undefined,
  );
});

test('a seed hands its slots to whoever waited longest once a turn is over', () => {
  const peer = (id: number, unchoked: boolean, turnOver: boolean, lastTurnEndedAt: number) => ({
    id,
    interested: id !== 7,
    unchoked,
    turnOver,
    lastTurnEndedAt,
  });
  const never = Number.NEGATIVE_INFINITY;
  const peers = [
    peer(1, true, false, never), // mid-turn: keeps its slot
    peer(2, true, true, never), // turn over: gives way
    peer(3, false, false, 500), // waited since 500
    peer(4, false, false, never), // never had a turn: first in line
    peer(5, false, false, 100), // waited since 100
    peer(7, false, false, never), // not interested
  ];
  assert.deepEqual([...rotateSeedSlots(peers, 3)].sort(), [1, 4, 5]);
  assert.deepEqual([...rotateSeedSlots(peers, 4)].sort(), [1, 3, 4, 5]);
  // Nobody left waiting: a peer whose turn is over keeps its slot.
  assert.deepEqual([...rotateSeedSlots(peers, 6)].sort(), [1, 2, 3, 4, 5]);
  // Fewer slots than peers mid-turn: no more than the slots.
  assert.equal(rotateSeedSlots(peers, 0).size, 0);
});

test('TokenBucket limits a byte rate and RateMeter measures one', () => {
  const clock = new ManualClock();
  const bucket = new TokenBucket(clock, 100_000);
  assert.ok(bucket.tryTake(20_000));
  assert.ok(!bucket.tryTake(20_000));
  assert.ok(bucket.delayFor(20_000) > 0);
  clock.advance(200);
  assert.ok(bucket.tryTake(20_000));
  assert.ok(new TokenBucket(clock, 0).tryTake(1e12), '0 means unlimited');
  const meter = new RateMeter(clock, 1000);
  for (let i = 0; i < 50; i++) {
    clock.advance(100);
    meter.add(10_000);
  }
  assert.ok(Math.abs(meter.bytesPerSecond - 100_000) < 5000, `${meter.bytesPerSecond}`);
  assert.equal(meter.total, 500_000);
});

test('a peer set remembers at most MAX_CANDIDATES candidates, the newest, and every sticky one', () => {
  // Only the candidate list is exercised: it needs nothing of the deps but the info-hash.
  const peers = new PeerSet({ infoHash: Buffer.alloc(20) } as unknown as PeerSetDeps);
  peers.addCandidate('192.0.2.1', 1, true);
  for (let i = 0; i < MAX_CANDIDATES + 500; i++)
    peers.addCandidate(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 6881, false);
  assert.ok(peers.candidate('192.0.2.1:1'), 'the sticky one stays');
  assert.equal(peers.candidate('10.0.0.0:6881'), undefined, 'the oldest made way');
  const last = MAX_CANDIDATES + 499;
  assert.ok(peers.candidate(`10.0.${(last >> 8) & 255}.${last & 255}:6881`), 'the newest is kept');
  let count = 0;
  for (let i = 0; i < MAX_CANDIDATES + 500; i++)
    if (peers.candidate(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:6881`)) count++;
  assert.equal(count, MAX_CANDIDATES - 1);
});

test('a peer set dials up to its share of the peer limit, sticky candidates up to the limit', () => {
  const dialled: string[] = [];
  const peers = new PeerSet({
    infoHash: Buffer.alloc(20),
    maxPeers: 10,
    maxPeersPerIp: 16,
    clock: new ManualClock(),
    dialer: {
      dial: (o: { host: string }) => {
        dialled.push(o.host);
        return new Promise(() => {}); // still connecting
      },
    },
    connections: { retryAt: () => 0, isBanned: () => false },
  } as unknown as PeerSetDeps);
  for (let i = 1; i <= 20; i++) peers.addCandidate(`10.0.0.${i}`, 6881, false);
  peers.connectSome();
  assert.equal(
    dialled.length,
    Math.ceil(10 * DIAL_SHARE),
    'the rest is room for peers that dial us',
  );
  peers.addCandidate('192.0.2.1', 6881, true);
  peers.connectSome();
  assert.equal(dialled.at(-1), '192.0.2.1', 'a sticky candidate is dialled beyond the share');
  assert.equal(dialled.length, Math.ceil(10 * DIAL_SHARE) + 1);
});

test('an outbox keeps its bytes and its large chunks, and joins each run of small ones', () => {
  const chunk = fc
    .tuple(
      fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 200, max: 20_000 })),
      fc.nat(255),
    )
    .map(([length, fill]): Uint8Array => Buffer.alloc(length, fill));
  fc.assert(
    fc.property(fc.array(chunk, { maxLength: 30 }), (chunks) => {
      const out = joinSmallChunks(chunks);
      assert.deepEqual(Buffer.concat(out), Buffer.concat(chunks));
      const given = new Set(chunks);
      const large = chunks.filter((c) => c.length >= 256);
      assert.deepEqual(
        out.filter((c) => given.has(c) && c.length >= 256),
        large,
        'every large chunk goes out as it is, in order',
      );
      const passedSmall = out.map((c) => given.has(c) && c.length < 256);
      for (let i = 1; i < out.length; i++)
        assert.ok(!(passedSmall[i - 1] && passedSmall[i]), 'no two small chunks left side by side');
    }),
  );
});
