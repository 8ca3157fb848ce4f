/**
 * The hashing pool starts its threads when told jobs are coming (`warm`) or on the first job,
 * once, never after it is closed, and hashes the same either way.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { HashPool } from '../../src/crypto/hash-pool.js';
import type { WorkerFactory, WorkerHandle } from '../../src/runtime/workers.js';

/** Threads that never run: counts how many were started. */
function countingThreads(): WorkerFactory & { spawned: number } {
  const threads = {
    parallelism: 4,
    spawned: 0,
    spawn(): WorkerHandle {
      threads.spawned++;
      return {
        postMessage: () => undefined,
        onMessage: () => undefined,
        onError: () => undefined,
        unref: () => undefined,
        ref: () => undefined,
        terminate: async () => undefined,
      };
    },
  };
  return threads;
}

test('warm starts the threads once; jobs after it start no more; a closed pool starts none', async () => {
  const threads = countingThreads();
  const pool = new HashPool(3, threads);
  assert.equal(threads.spawned, 0, 'no threads before anything asks');
  pool.warm();
  assert.equal(threads.spawned, 3);
  pool.warm();
  const job = pool.run({ buffer: new ArrayBuffer(16), length: 16, pieceLength: 16, v1Length: 16 });
  assert.equal(threads.spawned, 3);
  await pool.close();
  await assert.rejects(job, /closed/, 'the job the fake threads never answered fails on close');

  const later = countingThreads();
  const never = new HashPool(2, later);
  await never.close();
  never.warm();
  assert.equal(later.spawned, 0);
});

test('a warmed pool of real threads hashes what it is given', async () => {
  const pool = new HashPool(1);
  try {
    pool.warm();
    const data = new Uint8Array(3000).map((_, i) => i * 7);
    const r = await pool.run({
      buffer: data.slice().buffer,
      length: data.length,
      pieceLength: 1024,
      v1Length: data.length,
    });
    const expected = Buffer.concat(
      [0, 1024, 2048].map((at) =>
        createHash('sha1')
          .update(data.subarray(at, at + 1024))
          .digest(),
      ),
    );
    assert.deepEqual(Buffer.from(r.v1!), expected);
  } finally {
    await pool.close();
  }
});
