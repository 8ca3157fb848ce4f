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
          backlog.add(key);
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

test('SendBacklog wakes a waiter when a block goes out, every waiter when a key goes, or after the wait', async () => {
  const clock = new ManualClock();
  const backlog = new SendBacklog<string>(clock);
  backlog.add('a');
  backlog.add('a');
  const woken: string[] = [];
  const wait = (name: string) => backlog.wait(1000).then(() => woken.push(name));
  const done = [wait('first'), wait('second'), wait('third')];
  backlog.remove('a');
  await Promise.resolve();
  assert.deepEqual(woken, ['first']);
  backlog.drop('a');
  await Promise.all(done);
  assert.deepEqual(woken.sort(), ['first', 'second', 'third']);
  const late = wait('late');
  clock.advance(999);
  await Promise.resolve();
  assert.equal(woken.length, 3, 'still waiting');
  clock.advance(1);
  await late;
  assert.equal(woken.at(-1), 'late');
  assert.equal(backlog.size, 0);
});
