import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Bitfield } from '../../src/codec/bitfield.js';
import { parseTorrent } from '../../src/metainfo/parse.js';
import { ManualClock } from '../../src/runtime/manual-clock.js';
import type { HttpClient } from '../../src/runtime/runtime.js';
import { SeededRandom } from '../../src/runtime/seeded-random.js';
import { TokenBucket } from '../../src/shared/rate.js';
import { PieceLayout } from '../../src/storage/layout.js';
import { StreamDeadlines } from '../../src/swarm/deadlines.js';
import { BufferPool, type PieceJob } from '../../src/swarm/piece-job.js';
import { PiecePicker } from '../../src/swarm/piece-picker.js';
import { WebSeed } from '../../src/swarm/web-seed.js';
import { fixtureTorrent } from '../support/nodes.js';
import { fixtureBytes, tempDir } from '../support/tmp.js';

const PIECE = 32 * 1024;

test('a web seed fetches the ranges of the right files, backs off, and is dropped for bad data', async (t) => {
  const dir = await tempDir(t);
  const files = { 'a.bin': 40_000, 'sub dir/b.bin': 50_000 };
  const meta = parseTorrent(await fixtureTorrent(dir, 'pack', files, { pieceLength: PIECE }));
  const layout = new PieceLayout(meta);
  const clock = new ManualClock(0);
  const have = new Bitfield(meta.pieceCount);
  const picker = new PiecePicker(meta.pieceCount, have, new SeededRandom(3));
  picker.mode = 'sequential';
  const calls: { url: string; range: string }[] = [];
  let failing = false;
  let ignoreRange = false;
  const http: HttpClient = {
    async get(url, options) {
      const range = options.headers?.range ?? '';
      calls.push({ url, range });
      if (failing) throw new Error('connection refused');
      const path = decodeURIComponent(url.replace('http://origin/seed/pack/', ''));
      const data = fixtureBytes(files[path as keyof typeof files], path);
      if (ignoreRange) return { status: 200, body: data };
      const [from, to] = /bytes=(\d+)-(\d+)/.exec(range)!.slice(1).map(Number) as [number, number];
      return { status: 206, body: data.subarray(from, to + 1) };
    },
    post: () => Promise.reject(new Error('a web seed only GETs')),
  };
  const jobs = new Map<number, PieceJob>();
  const completed: PieceJob[] = [];
  const warnings: string[] = [];
  const seed = new WebSeed('http://origin/seed', {
    torrent: meta,
    layout,
    http,
    clock,
    random: new SeededRandom(1),
    picker,
    deadlines: new StreamDeadlines(layout, have, clock),
    buffers: new BufferPool(PIECE),
    jobs,
    sessions: () => [],
    downloading: () => true,
    canVerify: () => true,
    isWriting: () => false,
    bucket: new TokenBucket(clock, 0),
    globalBucket: new TokenBucket(clock, 0),
    pieceComplete: (job) => {
      // What verification does with a good piece: it leaves the jobs and is ours.
      completed.push(job);
      jobs.delete(job.index);
      have.set(job.index);
    },
    received: () => {},
    warn: (w) => warnings.push(w),
  });
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  seed.kick();
  await settle();
  // Every piece at once (they fit its budget); piece 1 spans both files (a.bin ends at 40,000,
  // after the hybrid's padding b.bin starts at the next piece boundary).
  assert.equal(completed.length, meta.pieceCount);
  assert.ok(calls.every((c) => c.url.startsWith('http://origin/seed/pack/')));
  assert.ok(calls.some((c) => c.url === 'http://origin/seed/pack/sub%20dir/b.bin'));
  assert.ok(calls.some((c) => c.url.endsWith('/a.bin') && c.range === 'bytes=32768-39999'));
  // The pieces' bytes are the files' bytes.
  const first = completed.find((j) => j.index === 0)!;
  assert.deepEqual(Buffer.from(first.view), fixtureBytes(40_000, 'a.bin').subarray(0, PIECE));
  for (const job of completed) seed.pieceChecked(job.index, true);

  // A failing server: back-off doubles with each failure in a row.
  have.clear(0);
  failing = true;
  completed.length = 0;
  seed.kick();
  await settle();
  assert.equal(seed.state, 'backing-off');
  assert.equal(jobs.size, 0, 'the failed piece is free for peers');
  clock.advance(1999);
  assert.equal(seed.state, 'backing-off');
  clock.advance(1);
  assert.equal(seed.state, 'active', 'first back-off: 2 s');
  seed.kick();
  await settle();
  clock.advance(3999);
  assert.equal(seed.state, 'backing-off', 'second back-off: 4 s');
  clock.advance(1);
  // A server that ignores Range and sends the whole (small) file is sliced.
  failing = false;
  ignoreRange = true;
  seed.kick();
  await settle();
  assert.equal(completed.length, 1);
  assert.deepEqual(
    Buffer.from(completed[0]!.view),
    fixtureBytes(40_000, 'a.bin').subarray(0, PIECE),
  );
  seed.pieceChecked(0, false);
  assert.equal(seed.state, 'dropped');
  assert.equal(seed.status().failures, 2, 'two failed requests in a row before it');
  assert.match(warnings.at(-1)!, /dropped/);
  have.clear(1);
  seed.kick();
  await settle();
  assert.equal(completed.length, 1, 'a dropped web seed asks for nothing');
});
