import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HashJob, HashJobResult, PieceHasher } from '../../src/crypto/hash-job.js';
import { InlineHasher } from '../../src/crypto/inline-hasher.js';
import { parseTorrent } from '../../src/metainfo/parse.js';
import { PieceLayout } from '../../src/storage/layout.js';
import { INLINE_VERIFY_BYTES, PieceVerifier } from '../../src/storage/verifier.js';
import { fixtureTorrent } from '../support/nodes.js';
import { fixtureBytes, tempDir } from '../support/tmp.js';

/** Hashes inline but counts its jobs (posing as the worker pool or the inline hasher). */
class CountingHasher implements PieceHasher {
  readonly size = 1;
  jobs = 0;
  private readonly inner = new InlineHasher();
  warmed = 0;
  run(job: HashJob): Promise<HashJobResult> {
    this.jobs++;
    return this.inner.run(job);
  }
  warm(): void {
    this.warmed++;
  }
}

/** A one-file torrent of two pieces of `pieceLength`, and the file's bytes. */
async function twoPieces(t: test.TestContext, pieceLength: number) {
  const dir = await tempDir(t);
  const meta = parseTorrent(
    await fixtureTorrent(dir, 'f.bin', { '': pieceLength * 2 }, { pieceLength, version: 'v1' }),
  );
  return { layout: new PieceLayout(meta), data: fixtureBytes(pieceLength * 2, '') };
}

/** Verifies piece 0 of `data` (in a buffer of its own) and returns which hasher ran. */
async function check(layout: PieceLayout, data: Buffer, offload = false) {
  const pool = new CountingHasher();
  const inline = new CountingHasher();
  const verifier = new PieceVerifier(layout, pool, inline);
  const piece = data.subarray(0, layout.pieceLength);
  const memory = new Uint8Array(piece.length);
  memory.set(piece);
  const good = await verifier.verify(0, memory, offload);
  good.memory[7]! ^= 1;
  const bad = await verifier.verify(0, good.memory, offload);
  return { ok: good.ok, badOk: bad.ok, pool: pool.jobs, inline: inline.jobs };
}

test('pieces up to the inline size are hashed in place, larger ones and rechecks on the pool', async (t) => {
  const small = await twoPieces(t, INLINE_VERIFY_BYTES);
  assert.deepEqual(await check(small.layout, small.data), {
    ok: true,
    badOk: false,
    pool: 0,
    inline: 2,
  });
  // A recheck sends even small pieces to the pool.
  assert.deepEqual(await check(small.layout, small.data, true), {
    ok: true,
    badOk: false,
    pool: 2,
    inline: 0,
  });

  const large = await twoPieces(t, INLINE_VERIFY_BYTES * 2);
  assert.deepEqual(await check(large.layout, large.data), {
    ok: true,
    badOk: false,
    pool: 2,
    inline: 0,
  });
});

test('prepare readies the pool only when pieces are large enough to go to it', async (t) => {
  for (const [pieceLength, warmed] of [
    [INLINE_VERIFY_BYTES, 0],
    [INLINE_VERIFY_BYTES * 2, 1],
  ] as const) {
    const { layout } = await twoPieces(t, pieceLength);
    const pool = new CountingHasher();
    new PieceVerifier(layout, pool, new CountingHasher()).prepare();
    assert.equal(pool.warmed, warmed, `pieces of ${pieceLength} bytes`);
  }
});
