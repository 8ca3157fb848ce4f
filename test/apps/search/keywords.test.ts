import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keywords, MAX_KEYWORD_CHARS } from '../../../src/apps/search/keywords.js';

test('a file name becomes its words: case folded, split on punctuation, stop words dropped', () => {
  assert.deepEqual(keywords('Field Recordings Vol 3.flac'), [
    'field',
    'recordings',
    'vol',
    '3',
    'flac',
  ]);
  assert.deepEqual(keywords('The Best of the_Rest (2019) [FLAC]'), [
    'best',
    'rest',
    '2019',
    'flac',
  ]);
  assert.deepEqual(keywords('debian-12.5.0-amd64-netinst.iso'), [
    'debian',
    '12',
    '5',
    '0',
    'amd64',
    'netinst',
    'iso',
  ]);
});

test('NFKC: full-width and compatibility forms meet their plain forms; accents and scripts stay', () => {
  assert.deepEqual(keywords('ＦＩＥＬＤ　Ｒｅｃｏｒｄｉｎｇｓ'), ['field', 'recordings']);
  assert.deepEqual(keywords('ﬁle Ⅻ'), ['file', 'xii']);
  assert.deepEqual(keywords('Café CAFÉ cafe\u0301'), ['caf\u00e9'], 'composed and decomposed meet');
  assert.deepEqual(keywords('Мир ΣΟΦΙΑ 東京'), ['мир', 'σοφια', '東京']);
  assert.deepEqual(keywords('हिन्दी'), ['हिन्दी'], 'combining marks stay inside words');
});

test('duplicates go, order stays, long words are cut, empty text has none', () => {
  assert.deepEqual(keywords('b a b c A'), ['b', 'c']);
  assert.equal(keywords('x'.repeat(500))[0]!.length, MAX_KEYWORD_CHARS);
  assert.deepEqual(keywords('  ...  the, of!! '), []);
});
