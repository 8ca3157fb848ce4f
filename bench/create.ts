/**
 * Benchmark `create`: hashing one large file into a hybrid (v1 + v2) torrent with 1 MiB pieces,
 * shoal (library, HashPool workers) against libtorrent 2.0's create_torrent + set_piece_hashes.
 * The file (2 GiB, or SHOAL_BENCH_CREATE_BYTES) is pseudo-random, written to a temp folder and
 * read once beforehand so both sides hash from the page cache. Each side runs three times, in
 * alternating order, and the best time counts. Target: shoal ≥ 1.5× libtorrent.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { HashPool } from '../src/crypto/hash-pool.js';
import { createTorrent } from '../src/metainfo/create.js';
import { realFs } from '../src/runtime/real.js';
import { PROBES, runPython, toolProblem } from '../test/interop/helpers.js';
import { envBytes, mbps, warmPageCache, writeContent } from './support.js';

const DEFAULT_BYTES = 2 * 1024 ** 3;
const PIECE_LENGTH = 1024 * 1024;
const ROUNDS = 3;
const TARGET_RATIO = 1.5;

/** Times set_piece_hashes + generate inside Python, so interpreter start-up is not counted. */
const LIBTORRENT_SCRIPT = `
import json, os, sys, time
import libtorrent as lt
path = sys.argv[1]
fs = lt.file_storage()
lt.add_files(fs, path)
ct = lt.create_torrent(fs, ${PIECE_LENGTH}, 0)
start = time.perf_counter()
lt.set_piece_hashes(ct, os.path.dirname(path))
data = lt.bencode(ct.generate())
seconds = time.perf_counter() - start
ih = lt.torrent_info(data).info_hashes()
print(json.dumps({'seconds': seconds, 'v1': str(ih.v1), 'v2': str(ih.v2)}))
`;

interface Timing {
  seconds: number;
  v1: string;
  v2: string;
}

async function timeShoal(path: string, pool: HashPool): Promise<Timing> {
  const start = performance.now();
  const { metainfo } = await createTorrent(path, realFs, pool, {
    version: 'hybrid',
    pieceLength: PIECE_LENGTH,
  });
  const seconds = (performance.now() - start) / 1000;
  return {
    seconds,
    v1: metainfo.infoHashV1!.toString('hex'),
    v2: metainfo.infoHashV2!.toString('hex'),
  };
}

async function timeLibtorrent(path: string): Promise<Timing> {
  return JSON.parse(await runPython(LIBTORRENT_SCRIPT, [path])) as Timing;
}

/** Runs the benchmark and prints its figures. */
export async function run(): Promise<void> {
  const size = envBytes('SHOAL_BENCH_CREATE_BYTES', DEFAULT_BYTES);
  const ltProblem = toolProblem('libtorrent', PROBES.libtorrent);
  const dir = await mkdtemp(join(tmpdir(), 'shoal-bench-create-'));
  const pool = new HashPool();
  try {
    const path = join(dir, 'content.bin');
    let t = performance.now();
    await writeContent(path, size);
    process.stdout.write(
      `wrote ${size} bytes in ${((performance.now() - t) / 1000).toFixed(1)} s\n`,
    );
    t = performance.now();
    await warmPageCache(path);
    process.stdout.write(
      `read once (page cache) in ${((performance.now() - t) / 1000).toFixed(1)} s\n`,
    );
    process.stdout.write(`hybrid, piece length ${PIECE_LENGTH}, ${pool.size} hash workers\n`);

    const shoal: Timing[] = [];
    const lt: Timing[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? ['shoal', 'libtorrent'] : ['libtorrent', 'shoal'];
      for (const who of order) {
        if (who === 'shoal') shoal.push(await timeShoal(path, pool));
        else if (ltProblem === undefined) lt.push(await timeLibtorrent(path));
        else continue;
        const last = who === 'shoal' ? shoal.at(-1)! : lt.at(-1)!;
        process.stdout.write(
          `  round ${round + 1} ${who.padEnd(10)} ${last.seconds.toFixed(3)} s  ${mbps(size, last.seconds)}\n`,
        );
      }
    }

    const best = (ts: Timing[]) => ts.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const s = best(shoal);
    process.stdout.write(`shoal       ${mbps(size, s.seconds)} (best of ${shoal.length})\n`);
    process.stdout.write(`info-hash   v1 ${s.v1}\n            v2 ${s.v2}\n`);
    if (ltProblem !== undefined) {
      process.stdout.write(`libtorrent  skipped: ${ltProblem}\n`);
      return;
    }
    const l = best(lt);
    const ratio = l.seconds / s.seconds;
    process.stdout.write(`libtorrent  ${mbps(size, l.seconds)} (best of ${lt.length})\n`);
    process.stdout.write(
      `ratio       shoal/libtorrent = ${ratio.toFixed(2)}× (target ≥ ${TARGET_RATIO}×: ${ratio >= TARGET_RATIO ? 'met' : 'NOT met'})\n`,
    );
    const same = [...shoal, ...lt].every((x) => x.v1 === s.v1 && x.v2 === s.v2);
    process.stdout.write(
      `info-hashes ${same ? 'equal' : `DIFFER: libtorrent v1 ${l.v1} v2 ${l.v2}`}\n`,
    );
    if (!same) process.exitCode = 1;
  } finally {
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  }
}
