import assert from 'node:assert/strict';
import { test } from 'node:test';
import { heapRoomFlags } from '../../src/cli/heap-room.js';

const machine = { env: {}, execArgv: [], heapLimitMiB: 4144, totalMemoryMiB: 24_000 };

test('a simulation on a large machine gets three quarters of its memory as heap, and a larger young generation', () => {
  assert.deepEqual(heapRoomFlags(machine), [
    '--max-old-space-size=18000',
    '--max-semi-space-size=256',
  ]);
});

test('a semi-space someone chose is kept', () => {
  assert.deepEqual(heapRoomFlags({ ...machine, execArgv: ['--max-semi-space-size=8'] }), [
    '--max-old-space-size=18000',
  ]);
  assert.deepEqual(
    heapRoomFlags({ ...machine, env: { NODE_OPTIONS: '--max-semi-space-size=32' } }),
    ['--max-old-space-size=18000'],
  );
});

test('no re-run when it is the re-run, when a limit was chosen, or when the limit is large', () => {
  assert.equal(heapRoomFlags({ ...machine, env: { SHOAL_HEAP_ROOM: '1' } }), undefined);
  assert.equal(heapRoomFlags({ ...machine, execArgv: ['--max-old-space-size=2048'] }), undefined);
  assert.equal(
    heapRoomFlags({ ...machine, env: { NODE_OPTIONS: '--max-old-space-size=512' } }),
    undefined,
  );
  assert.equal(heapRoomFlags({ ...machine, heapLimitMiB: 20_000 }), undefined);
  assert.equal(heapRoomFlags({ ...machine, totalMemoryMiB: 4096 }), undefined);
});
