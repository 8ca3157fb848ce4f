import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ManualClock } from '../../src/runtime/manual-clock.js';
import { SendBacklog } from '../../src/swarm/send-backlog.js';

test('SendBacklog counts what each key has in flight, whatever order blocks come and go in', () => {
  const op = fc.record({ kind: fc.constantFrom('add', 'remove', 'drop'), key: fc.nat(3) });
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const backlog = new SendBacklog<number>(new ManualClock());
      const model = new Map<number, number>();
      for (const { kind, key } of ops) {
        const n = model.get(key) ?? 0;
        if (kind === 'add') {
          backlog.add(key, false);
          model.set(key, n + 1);
        } else if (kind === 'remove') {
          backlog.remove(key); // a block of a dropped key changes nothing
          if (n > 0) model.set(key, n - 1);
        } else {
          backlog.drop(key);
          model.delete(key);
        }
      }
      const total = [...model.values()].reduce((a, b) => a + b, 0);
      assert.equal(backlog.size, total);
      // Key 0's blocks left out, the room is what the others hold.
      const others = total - (model.get(0) ?? 0);
      assert.equal(
        backlog.hasRoom(others + 1, (k) => k !== 0),
        true,
      );
      assert.equal(
        backlog.hasRoom(others, (k) => k !== 0),
        false,
      );
    }),
  );
});

test('SendBacklog wakes the keys that continue a piece first, then the one whose turn it is to start one', async () => {
  const clock = new ManualClock();
  const backlog = new SendBacklog<string>(clock);
  backlog.add('a', false);
  backlog.add('a', false);
  const woken: string[] = [];
  const wait = (name: string, toStart: boolean) =>
    backlog.wait(name, 1000, toStart).then(() => woken.push(name));
  const b = wait('b', true);
  const c = wait('c', true);
  const d = wait('d', false); // in the middle of a piece
  assert.equal(backlog.isTurnOf('b'), true);
  assert.equal(backlog.isTurnOf('c'), false);
  assert.equal(backlog.isTurnOf('a'), false, 'a piece started now queues behind b and c');
  backlog.remove('a');
  await d;
  assert.deepEqual(woken, ['d'], 'the piece under way goes on first');
  backlog.add('d', false);
  backlog.remove('a');
  await b;
  assert.deepEqual(woken, ['d', 'b'], 'then the longest-waiting starts its piece');
  // b starts its piece: c's turn has come, and c is woken to take it.
  backlog.add('b', false);
  await c;
  assert.equal(backlog.isTurnOf('c'), true);
  assert.deepEqual(woken, ['d', 'b', 'c']);
  // A key keeps its place over repeated waits; one that stops sending gives its turn up.
  const c2 = wait('c', true);
  const e = wait('e', true);
  backlog.leave('c');
  await e;
  assert.equal(backlog.isTurnOf('e'), true);
  clock.advance(1000);
  await c2;
  backlog.drop('e');
  assert.equal(backlog.isTurnOf('x'), true, 'nobody waits');
  assert.equal(backlog.size, 2, "d's block and b's");
});

test('SendBacklog hands the turn on when a key goes or starts its piece, and wakes any waiter after its wait', async () => {
  const clock = new ManualClock();
  const backlog = new SendBacklog<string>(clock);
  backlog.add('a', false);
  const woken: string[] = [];
  const wait = (name: string) => backlog.wait(name, 1000, true).then(() => woken.push(name));
  const done = [wait('first'), wait('second')];
  backlog.drop('a');
  await done[0];
  assert.deepEqual(woken, ['first'], 'only the first may start a piece');
  backlog.add('first', false);
  await done[1];
  assert.deepEqual(woken, ['first', 'second']);
  const late = wait('late');
  clock.advance(999);
  await Promise.resolve();
  assert.equal(woken.length, 2, 'still waiting');
  clock.advance(1);
  await late;
  assert.equal(woken.at(-1), 'late');
  assert.equal(backlog.size, 1);
});

test('SendBacklog lets no piece start, while others wait, until the piece under way is all sent', async () => {
  const backlog = new SendBacklog<string>(new ManualClock());
  backlog.add('u', true); // u's next block is of the same piece
  let started = false;
  const waiting = backlog.wait('v', 1000, true).then(() => {
    started = true;
  });
  assert.equal(backlog.isTurnOf('v'), false, 'u is in the middle of a piece');
  backlog.remove('u');
  await Promise.resolve();
  assert.equal(started, false);
  backlog.add('u', false); // u's last block of the piece
  await waiting;
  assert.equal(backlog.isTurnOf('v'), true);
  assert.equal(backlog.isTurnOf('u'), false, 'u starts its next piece after v');
  backlog.leave('v');
  assert.equal(backlog.isTurnOf('u'), true);
});
