import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  FILTER_BITS,
  KeywordFilter,
  keywordPositions,
} from '../../../src/apps/search/keyword-filter.js';
import { OverlayMessageError } from '../../../src/overlay/errors.js';
import { assertDecoderSafe, mutated } from '../../support/fuzz.js';

const positions = (words: string[]) => words.flatMap((w) => keywordPositions(w));

test('a filter says yes to every keyword it holds and rarely to others', () => {
  const words = Array.from({ length: 50 }, (_, i) => `word${i}`);
  const f = KeywordFilter.of(words);
  for (const w of words) assert.ok(f.matches(keywordPositions(w)));
  assert.ok(f.matches(positions(['word3', 'word7'])), 'a query of two held words');
  let wrong = 0;
  for (let i = 0; i < 10_000; i++) if (f.matches(keywordPositions(`other${i}`))) wrong++;
  assert.ok(wrong <= 2, `${wrong} false positives in 10,000`);
  assert.ok(f.bitCount <= 200 && f.bitCount >= 180);
  assert.ok(f.encode().length < 500, 'a small filter travels as positions');
});

test('the union of 100 leaves is dense and still precise for two-word queries', () => {
  const leaves = Array.from({ length: 100 }, (_, l) =>
    KeywordFilter.of(Array.from({ length: 50 }, (_, i) => `l${l}w${i}`)),
  );
  const union = KeywordFilter.union(leaves);
  assert.equal(union.encode().length, 1 + FILTER_BITS / 8);
  assert.ok(union.matches(positions(['l42w7', 'l42w9'])));
  let wrong = 0;
  for (let i = 0; i < 10_000; i++) if (union.matches(positions([`x${i}`, `y${i}`]))) wrong++;
  assert.ok(wrong < 5, `${wrong} false positives in 10,000 two-word queries`);
});

test('filters round-trip in both forms', () => {
  fc.assert(
    fc.property(fc.array(fc.string(), { maxLength: 3000 }), (words) => {
      const f = KeywordFilter.of(words);
      const back = KeywordFilter.decode(f.encode());
      assert.ok(back.equals(f));
      for (const w of words.slice(0, 20)) assert.ok(back.matches(keywordPositions(w)));
    }),
    { numRuns: 200 },
  );
});

test('decoding random and mutated bytes throws only OverlayMessageError', () => {
  const sparse = KeywordFilter.of(['a', 'b', 'c']).encode();
  const dense = KeywordFilter.of(Array.from({ length: 2000 }, (_, i) => `w${i}`)).encode();
  assertDecoderSafe(
    fc.oneof(fc.uint8Array({ maxLength: 9000 }), mutated(sparse), mutated(dense)),
    (b) => KeywordFilter.decode(b),
    OverlayMessageError,
  );
});
