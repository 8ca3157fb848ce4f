import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FileSelectionError } from '../../src/metainfo/errors.js';
import { parseIndexList, selectedPriorities } from '../../src/metainfo/file-selection.js';
import { parseTorrent } from '../../src/metainfo/parse.js';
import { parseRange } from '../../src/node/http-range.js';
import { contentTypeOf } from '../../src/node/media-types.js';
import { expectOnly, FUZZ_RUNS } from '../support/fuzz.js';
import { fixtureTorrent } from '../support/nodes.js';
import { tempDir } from '../support/tmp.js';

test('parseRange reads the forms players send', () => {
  assert.deepEqual(parseRange('bytes=0-99', 1000), { start: 0, end: 99 });
  assert.deepEqual(parseRange('bytes=500-', 1000), { start: 500, end: 999 });
  assert.deepEqual(parseRange('bytes=900-5000', 1000), { start: 900, end: 999 });
  assert.deepEqual(parseRange('bytes=-100', 1000), { start: 900, end: 999 });
  assert.deepEqual(parseRange('bytes=-5000', 1000), { start: 0, end: 999 });
  assert.deepEqual(parseRange(' Bytes = 1 - 2 ', 1000), { start: 1, end: 2 });
  assert.equal(parseRange('bytes=1000-', 1000), 'unsatisfiable');
  assert.equal(parseRange('bytes=-0', 1000), 'unsatisfiable');
  assert.equal(parseRange('bytes=0-', 0), 'unsatisfiable');
  // Ignored, so the whole body goes out: absent, other units, several ranges, nonsense.
  for (const h of [undefined, 'items=0-1', 'bytes=0-1,5-6', 'bytes=5-1', 'bytes=-', 'bytes=a-b'])
    assert.equal(parseRange(h, 1000), undefined, String(h));
  assert.equal(parseRange(`bytes=${'9'.repeat(40)}-`, 1000), undefined);
});

test('parseRange never throws, and what it returns lies within the body', () => {
  const header = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc
      .tuple(fc.option(fc.nat()), fc.option(fc.nat()), fc.constantFrom('bytes=', 'BYTES =', 'b='))
      .map(([a, b, unit]) => `${unit}${a ?? ''}-${b ?? ''}`),
  );
  fc.assert(
    fc.property(header, fc.nat({ max: 1 << 30 }), (h, size) => {
      const r = parseRange(h, size);
      if (r === undefined || r === 'unsatisfiable') return;
      assert.ok(r.start >= 0 && r.start <= r.end && r.end < size);
    }),
    { numRuns: FUZZ_RUNS },
  );
});

test('parseIndexList reads 0,2-3 lists and refuses anything else with a typed error', () => {
  assert.deepEqual(parseIndexList('0,2-3, 7'), [
    { first: 0, last: 0 },
    { first: 2, last: 3 },
    { first: 7, last: 7 },
  ]);
  assert.throws(() => parseIndexList('3-1'), FileSelectionError);
  assert.throws(() => parseIndexList(''), FileSelectionError);
  fc.assert(
    fc.property(fc.string({ maxLength: 100 }), (text) => {
      try {
        for (const r of parseIndexList(text)) assert.ok(r.first <= r.last && r.first >= 0);
      } catch (error) {
        expectOnly(error, FileSelectionError);
      }
    }),
    { numRuns: FUZZ_RUNS },
  );
});

test('content types follow the extension', () => {
  assert.equal(contentTypeOf('Movie.MKV'), 'video/x-matroska');
  assert.equal(contentTypeOf('a/b/c.mp4'), 'video/mp4');
  assert.equal(contentTypeOf('song.flac'), 'audio/flac');
  assert.equal(contentTypeOf('README'), 'application/octet-stream');
});

test('file selections count real files (padding skipped) and take paths and folders', async (t) => {
  const dir = await tempDir(t);
  const meta = parseTorrent(
    await fixtureTorrent(dir, 'pack', { 'a.txt': 100, 'b/c.bin': 70_000, 'b/d.bin': 5 }),
  );
  const real = (p: number[]) => p.filter((_, i) => !meta.files[i]!.padding);
  assert.ok(
    meta.files.some((f) => f.padding),
    'a hybrid torrent has padding files',
  );
  assert.deepEqual(real(selectedPriorities(meta, [{ first: 1, last: 1 }])), [0, 1, 0]);
  assert.deepEqual(real(selectedPriorities(meta, [{ first: 0, last: 9 }])), [1, 1, 1]);
  assert.deepEqual(real(selectedPriorities(meta, [{ path: 'b' }])), [0, 1, 1]);
  assert.deepEqual(real(selectedPriorities(meta, [{ path: 'pack/a.txt' }])), [1, 0, 0]);
  assert.throws(() => selectedPriorities(meta, [{ path: 'zzz' }]), FileSelectionError);
  assert.throws(() => selectedPriorities(meta, [{ first: 3, last: 5 }]), FileSelectionError);
});
