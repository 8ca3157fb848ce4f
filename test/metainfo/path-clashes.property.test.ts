import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { encode } from '../../src/codec/bencode.js';
import { parseTorrent } from '../../src/metainfo/parse.js';
import { assertNoPathClashes, foldName, PathClashError } from '../../src/metainfo/path-clashes.js';
import { FUZZ_RUNS } from '../support/fuzz.js';

/** Name pieces chosen to collide often: case pairs, NFC/NFD pairs, ß/ss, ignorable marks. */
const piece = fc.constantFrom(
  'a',
  'A',
  'b',
  'B',
  '\u00e9',
  'e\u0301',
  '\u00df',
  'ss',
  'SS',
  'x\u200d',
);
const name = fc.array(piece, { minLength: 1, maxLength: 2 }).map((p) => p.join(''));
const file = fc.record({
  path: fc.array(name, { minLength: 1, maxLength: 3 }),
  padding: fc.constant(false),
});
const files = fc.array(
  fc.oneof(
    { weight: 5, arbitrary: file },
    { weight: 1, arbitrary: fc.constant({ path: ['.pad', '7'], padding: true }) },
  ),
  { minLength: 1, maxLength: 8 },
);

type F = { readonly path: readonly string[]; readonly padding: boolean };

/** The pairs that clash, by brute force over every pair. */
function clashingPairs(fs: readonly F[]): Set<string> {
  const out = new Set<string>();
  const folded = fs.map((f) => f.path.map(foldName));
  for (let i = 0; i < fs.length; i++)
    for (let j = i + 1; j < fs.length; j++) {
      if (fs[i]!.padding || fs[j]!.padding) continue;
      const [a, b] = [folded[i]!, folded[j]!];
      const n = Math.min(a.length, b.length);
      if (a.slice(0, n).every((c, k) => c === b[k])) {
        out.add(`${fs[i]!.path.join('/')}|${fs[j]!.path.join('/')}`);
        out.add(`${fs[j]!.path.join('/')}|${fs[i]!.path.join('/')}`);
      }
    }
  return out;
}

test('clashes are found exactly when two files clash, and the two named do (property)', () => {
  fc.assert(
    fc.property(files, (fs) => {
      const pairs = clashingPairs(fs);
      try {
        assertNoPathClashes(fs);
        assert.equal(pairs.size, 0, `missed a clash: ${[...pairs][0]}`);
      } catch (e) {
        if (!(e instanceof PathClashError)) throw e;
        assert.ok(pairs.has(`${e.paths[0]}|${e.paths[1]}`), `${e.message} is not a clash`);
        assert.equal(e.code, 'METAINFO_INVALID');
      }
    }),
    { numRuns: Math.min(FUZZ_RUNS, 20_000) },
  );
});

test('the verdict does not depend on the order of the files (property)', () => {
  fc.assert(
    fc.property(
      files.chain((fs) =>
        fc.tuple(fc.constant(fs), fc.shuffledSubarray(fs, { minLength: fs.length })),
      ),
      ([fs, shuffled]) => {
        const verdict = (x: readonly F[]) => {
          try {
            assertNoPathClashes(x);
            return false;
          } catch {
            return true;
          }
        };
        assert.equal(verdict(fs), verdict(shuffled));
      },
    ),
    { numRuns: Math.min(FUZZ_RUNS, 20_000) },
  );
});

test('folding equates case and normalisation variants (property)', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 12 }), (s) => {
      const f = foldName(s);
      assert.equal(foldName(s.toUpperCase()), f);
      assert.equal(foldName(s.toLowerCase()), f);
      assert.equal(foldName(s.normalize('NFD')), f);
      assert.equal(foldName(f), f, 'folding is idempotent');
    }),
    { numRuns: Math.min(FUZZ_RUNS, 20_000) },
  );
});

test('parseTorrent refuses a torrent exactly when its files clash (property)', () => {
  fc.assert(
    fc.property(
      files.filter((fs) => fs.some((f) => !f.padding)),
      (fs) => {
        const torrent = encode({
          info: {
            name: 'x',
            'piece length': 16384,
            pieces: Buffer.alloc(20),
            files: fs.map((f) => ({ length: 1, path: f.path, ...(f.padding && { attr: 'p' }) })),
          },
        });
        const clash = clashingPairs(fs).size > 0;
        try {
          parseTorrent(torrent);
          assert.equal(clash, false);
        } catch (e) {
          if (!(e instanceof PathClashError)) throw e;
          assert.equal(clash, true);
        }
      },
    ),
    { numRuns: Math.min(FUZZ_RUNS, 5_000) },
  );
});
