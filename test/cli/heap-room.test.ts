import assert from 'node:assert/strict';
import { test } from 'node:test';
import { heapRoomFlag } from '../../src/cli/heap-room.js';

const machine = { env: {}, execArgv: [], heapLimitMiB: 4144, totalMemoryMiB: 24_000 };

test('a simulation on a large machine gets three quarters of its memory as heap', () => {
  assert.equal(heapRoomFlag(machine), '--max-old-space-size=18000');
});

test('no re-run when it is the re-run, when a limit was chosen, or when the limit is large', () => {
  assert.equal(heapRoomFlag({ ...machine, env: { SHOAL_HEAP_ROOM: '1' } }), undefined);
  assert.equal(heapRoomFlag({ ...machine, execArgv: ['--max-old-space-size=2048'] }), undefined);
  assert.equal(
    heapRoomFlag({ ...machine, env: { NODE_OPTIONS: '--max-old-space-size=512' } }),
    undefined,
  );
  assert.equal(heapRoomFlag({ ...machine, heapLimitMiB: 20_000 }), undefined);
  assert.equal(heapRoomFlag({ ...machine, totalMemoryMiB: 4096 }), undefined);
});
