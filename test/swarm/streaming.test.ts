import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Bitfield } from '../../src/codec/bitfield.js';
import { ManualClock } from '../../src/runtime/manual-clock.js';
import { SeededRandom } from '../../src/runtime/seeded-random.js';
import { StreamDeadlines } from '../../src/swarm/deadlines.js';
import { BLOCK_BYTES } from '../../src/swarm/piece-job.js';
import { PiecePicker } from '../../src/swarm/piece-picker.js';
import { DEFAULT_STREAM_BYTES_PER_SECOND, PieceReader } from '../../src/swarm/piece-reader.js';
import { cancels, type FakePeer, requests, schedulerSetup } from '../support/scheduler.js';

const PIECE = 64 * 1024;
const PIECES = 40;

test('PiecePicker in sequential mode takes the lowest index of the top priority', () => {
  const have = new Bitfield(10);
  const picker = new PiecePicker(10, have, new SeededRandom(1));
  picker.mode = 'sequential';
  const peer = Bitfield.full(10);
  have.set(0);
  assert.equal(
    picker.pick(peer, () => false),
    1,
  );
  assert.equal(
    picker.pick(peer, (i) => i < 4),
    4,
  );
  picker.priority[7] = 3;
  picker.prioritiesChanged();
  assert.equal(
    picker.pick(peer, () => false),
    7,
  );
  picker.mode = 'rarest';
  picker.priority[7] = 1;
  picker.prioritiesChanged();
  const picks = new Set<number>();
  for (let k = 0; k < 20; k++) picks.add(picker.pick(peer, () => false));
  assert.ok(picks.size > 1, 'rarest mode starts at random');
});

test('StreamDeadlines: windows sized from the bitrate, nearest first, seeks drop pieces', () => {
  const clock = new ManualClock(1000);
  const have = new Bitfield(PIECES);
  const d = new StreamDeadlines({ pieceLength: PIECE, pieceCount: PIECES }, have, clock);
  assert.equal(d.active, false);
  // 64 KiB/s for 20 s is 1.25 MiB: 20 pieces from the read position.
  const id = d.open({ position: 5 * PIECE + 100, end: PIECES * PIECE, bytesPerSecond: 65_536 });
  const pieces = d.pieces();
  assert.equal(pieces.length, 21, 'pieces 5 to 25 hold the 1.25 MiB after the read position');
  assert.deepEqual(
    pieces.slice(0, 3).map((p) => p.index),
    [5, 6, 7],
  );
  assert.equal(pieces[0]!.deadline, 1000, 'the piece under the read position is due now');
  assert.ok(Math.abs(pieces[1]!.deadline - (1000 + ((PIECE - 100) * 1000) / 65_536)) < 1e-6);
  have.set(5);
  assert.equal(d.pieces()[0]!.index, 6, 'verified pieces leave the list');
  assert.equal(d.covers(25), true);
  assert.equal(d.covers(26), false);
  // A second window reading piece 10 now: a piece two windows share takes the nearer deadline.
  const other = d.open({ position: 10 * PIECE, end: 12 * PIECE, bytesPerSecond: 65_536 });
  assert.equal(d.deadlineOf(10), 1000);
  assert.equal(d.deadlineOf(12), 1000 + ((7 * PIECE - 100) * 1000) / 65_536);
  d.close(other);
  assert.deepEqual(d.takeDropped(), [], 'pieces still in the first window are not dropped');
  // A seek moves the window: the old pieces drop out (except those verified or still covered).
  d.move(id, { position: 30 * PIECE, end: PIECES * PIECE, bytesPerSecond: 65_536 });
  const dropped = d.takeDropped();
  assert.equal(dropped.includes(5), false, 'piece 5 is verified');
  assert.equal(dropped.includes(6) && dropped.includes(25), true);
  assert.equal(dropped.includes(30), false);
  assert.equal(d.pieces()[0]!.index, 30);
  d.close(id);
  assert.equal(d.active, false);
  assert.deepEqual(d.pieces(), []);
});

test('RequestScheduler: a stream window is fetched first, from the fastest peer', async (t) => {
  const { deadlines, scheduler, addPeers } = await schedulerSetup(t, PIECE, PIECES);
  const [fast, slow] = addPeers(2_000_000, 100_000) as [FakePeer, FakePeer];
  deadlines.open({ position: 20 * PIECE, end: PIECES * PIECE, bytesPerSecond: 100_000 });
  scheduler.fillUrgent();
  const fastFirst = requests(fast)[0];
  assert.ok(fastFirst, 'the fast peer was asked');
  assert.equal(fastFirst.index, 20, 'the piece at the read position comes first');
  assert.equal(fastFirst.begin, 0);
  // Piece 20's blocks all go to the fast peer before the slow one gets any of the window.
  const firstPieceBlocks = requests(fast).filter((r) => r.index === 20).length;
  assert.equal(firstPieceBlocks, PIECE / BLOCK_BYTES);
  for (const r of requests(slow)) assert.notEqual(r.index, 20);
  // Outside the window, the slow peer's pipeline holds half a second at its rate at most.
  scheduler.fillRequests(slow.session);
  const nonUrgent = requests(slow).filter((r) => !deadlines.covers(r.index));
  assert.ok(nonUrgent.length <= Math.max(4, Math.ceil(50_000 / BLOCK_BYTES)) + 1);
});

test('RequestScheduler: late blocks are asked of a second peer; a seek cancels what left the window', async (t) => {
  const { clock, deadlines, scheduler, addPeers } = await schedulerSetup(t, PIECE, PIECES);
  const [a, b] = addPeers(1_000_000, 900_000) as [FakePeer, FakePeer];
  deadlines.open({ position: 0, end: PIECES * PIECE, bytesPerSecond: 500_000 });
  scheduler.fillUrgent();
  const asked = [...requests(a), ...requests(b)];
  const piece0 = asked.filter((r) => r.index === 0);
  assert.equal(piece0.length, PIECE / BLOCK_BYTES, 'each block of piece 0 asked once');
  // Piece 0 was due at once; 300 ms later, with nothing back, its blocks are doubled up.
  clock.advance(300);
  scheduler.fillUrgent();
  const again = [...requests(a), ...requests(b)].filter((r) => r.index === 0);
  assert.equal(again.length, 2 * (PIECE / BLOCK_BYTES), 'each late block asked of both peers');
  assert.ok(requests(a).some((r) => r.index === 0) && requests(b).some((r) => r.index === 0));
  // Piece 0 arrives whole from a: b's duplicates are cancelled.
  for (let blk = 0; blk < PIECE / BLOCK_BYTES; blk++)
    scheduler.onBlock(a.session, 0, blk * BLOCK_BYTES, new Uint8Array(BLOCK_BYTES));
  assert.equal(cancels(b).filter((c) => c.index === 0).length, PIECE / BLOCK_BYTES);
  // A block cancelled on its way is still welcome, and not counted as unasked-for data...
  scheduler.onBlock(b.session, 0, 0, new Uint8Array(BLOCK_BYTES));
  // ...but only once per cancel: a flood of blocks nobody asked for still drops the peer.
  assert.throws(() => {
    for (let k = 0; k < 300; k++) scheduler.onBlock(b.session, 39, 0, new Uint8Array(BLOCK_BYTES));
  }, /did not ask for/);
});

test('RequestScheduler: a seek cancels the old window’s requests and asks for the new one', async (t) => {
  const { clock, deadlines, scheduler, addPeers } = await schedulerSetup(t, PIECE, PIECES);
  const [a] = addPeers(1_000_000) as [FakePeer];
  // 25 kB/s: the window is its floor of 1 MiB, pieces 0 to 15.
  const id = deadlines.open({ position: 0, end: PIECES * PIECE, bytesPerSecond: 25_000 });
  scheduler.fillUrgent();
  const before = requests(a).map((r) => r.index);
  assert.ok(before.includes(0) && before.every((i) => i < 16));
  clock.advance(100);
  deadlines.move(id, { position: 30 * PIECE, end: PIECES * PIECE, bytesPerSecond: 25_000 });
  scheduler.releaseDropped();
  const cancelled = new Set(cancels(a).map((c) => c.index));
  for (const i of new Set(before)) assert.ok(cancelled.has(i), `piece ${i} cancelled`);
  scheduler.fillUrgent();
  const after = requests(a).slice(before.length);
  assert.equal(after[0]?.index, 30, 'the new read position is asked for next');
  // Blocks of the old window that were on their way are accepted without complaint.
  scheduler.onBlock(a.session, 0, 0, new Uint8Array(BLOCK_BYTES));
});

/** A reader host over a manual clock whose pieces the test verifies by hand. */
function fakeReaderHost(clock: ManualClock, pieceLength: number, pieces: number) {
  const have = new Bitfield(pieces);
  const waits = new Map<number, () => void>();
  const windows: { id: number; position: number; bytesPerSecond: number; open: boolean }[] = [];
  return {
    have,
    windows,
    verify(index: number) {
      have.set(index);
      waits.get(index)?.();
      waits.delete(index);
    },
    host: {
      pieceLength,
      clock,
      hasPiece: (i: number) => have.has(i),
      waitForPiece(i: number) {
        let resolve!: () => void;
        const done = new Promise<void>((r) => {
          resolve = r;
        });
        if (have.has(i)) resolve();
        else waits.set(i, resolve);
        return { done, cancel: () => resolve() };
      },
      readVerified: async (offset: number, length: number) => {
        const out = new Uint8Array(length);
        for (let k = 0; k < length; k++) out[k] = (offset + k) & 0xff;
        return out;
      },
      openWindow(at: { position: number; bytesPerSecond: number }) {
        windows.push({ id: windows.length, ...at, open: true });
        return windows.length - 1;
      },
      moveWindow(id: number, at: { position: number; bytesPerSecond: number }) {
        Object.assign(windows[id]!, at);
      },
      closeWindow(id: number) {
        windows[id]!.open = false;
      },
    },
  };
}

test('PieceReader waits for verified pieces, follows its position, measures the bitrate', async () => {
  const clock = new ManualClock(0);
  const f = fakeReaderHost(clock, 1000, 100);
  const reader = new PieceReader(f.host, { start: 1500, end: 60_000 });
  assert.equal(f.windows[0]!.position, 1500);
  assert.equal(f.windows[0]!.bytesPerSecond, DEFAULT_STREAM_BYTES_PER_SECOND);
  const pending = reader.read();
  await Promise.resolve();
  assert.equal(reader.waiting, true, 'piece 1 is missing');
  clock.advance(700);
  f.verify(1);
  const chunk = await pending;
  assert.ok(chunk);
  assert.equal(chunk.length, 500, 'up to the end of the piece');
  assert.equal(chunk[0], 1500 & 0xff);
  assert.equal(reader.stalls, 1);
  assert.equal(reader.stalledMs, 700);
  // A consumer reading 1000 bytes every 100 ms: 10 kB/s once the reads span two seconds.
  for (let i = 2; i < 40; i++) f.verify(i);
  for (let k = 0; k < 30; k++) {
    clock.advance(100);
    await reader.read();
  }
  assert.equal(reader.bytesPerSecond, 32_000, 'clamped to the floor of 32 kB/s');
  assert.equal(f.windows[0]!.position, reader.position, 'the window follows the reader');
  assert.equal(reader.bufferedAhead(), 40_000 - reader.position);
  // Closing ends a waiting read and the window.
  reader.seek(90_000);
  assert.equal(f.windows[0]!.position, 60_000, 'a seek is clamped to the range');
  const waitingRead = new PieceReader(f.host, { start: 70_000, end: 80_000 }).read();
  const second = f.windows[1]!;
  assert.equal(second.open, true);
  reader.close();
  assert.equal(f.windows[0]!.open, false);
  assert.equal(await reader.read(), undefined);
  f.verify(70);
  assert.equal((await waitingRead)?.length, 1000);
});
