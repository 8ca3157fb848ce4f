/**
 * Hostile class: a torrent whose files cannot all exist side by side — the same path twice
 * (also only after case folding or Unicode normalisation, as case-insensitive file systems
 * see names), or a file that another file needs as a folder. Bound: `parseTorrent` (and the
 * magnet path, `parseInfoDictionary`) refuse every such torrent with METAINFO_INVALID naming
 * both paths, before any file is opened; padding files (BEP 47) never count.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Encodable, encode } from '../../src/codec/bencode.js';
import { parseInfoDictionary, parseTorrent } from '../../src/metainfo/parse.js';

const v1Info = (files: { path: string[]; attr?: string }[]): Record<string, Encodable> => ({
  name: 'x',
  'piece length': 16384,
  pieces: Buffer.alloc(20),
  files: files.map((f) => ({ length: 1, path: f.path, ...(f.attr && { attr: f.attr }) })),
});

const v2Info = (names: string[]): Record<string, Encodable> => ({
  name: 'x',
  'piece length': 16384,
  'meta version': 2,
  'file tree': Object.fromEntries(
    names.map((n) => [n, { '': { length: 1, 'pieces root': Buffer.alloc(32, 7) } }]),
  ),
});

function assertRefused(info: Record<string, Encodable>, a: string, b: string): void {
  const check = (e: unknown) => {
    const err = e as { code?: string; message?: string };
    assert.equal(err.code, 'METAINFO_INVALID', String(e));
    assert.ok(err.message?.includes(`"${a}"`) && err.message.includes(`"${b}"`), err.message);
    return true;
  };
  assert.throws(() => parseTorrent(encode({ info })), check, `${a} / ${b}`);
  assert.throws(() => parseInfoDictionary(encode(info)), check, `${a} / ${b} (magnet)`);
}

test('a file that is also a folder is refused, whichever comes first', () => {
  assertRefused(v1Info([{ path: ['a'] }, { path: ['a', 'b'] }]), 'a', 'a/b');
  assertRefused(v1Info([{ path: ['a', 'b', 'c'] }, { path: ['a', 'b'] }]), 'a/b', 'a/b/c');
  assertRefused(v1Info([{ path: ['z'] }, { path: ['D', 'e'] }, { path: ['d'] }]), 'd', 'D/e');
});

test('the same path twice is refused', () => {
  assertRefused(
    v1Info([{ path: ['x', 'y'] }, { path: ['q'] }, { path: ['x', 'y'] }]),
    'x/y',
    'x/y',
  );
});

test('paths equal after case folding or Unicode normalisation are refused', () => {
  assertRefused(v1Info([{ path: ['Readme'] }, { path: ['README'] }]), 'Readme', 'README');
  // é precomposed (NFC) and e + combining acute (NFD).
  assertRefused(
    v1Info([{ path: ['caf\u00e9'] }, { path: ['cafe\u0301'] }]),
    'caf\u00e9',
    'cafe\u0301',
  );
  assertRefused(
    v1Info([{ path: ['Stra\u00dfe'] }, { path: ['STRASSE'] }]),
    'Stra\u00dfe',
    'STRASSE',
  );
  assertRefused(
    v1Info([{ path: ['\u03a3\u03bf\u03c6'] }, { path: ['\u03c3\u03bf\u03c6'] }]),
    'Σοφ',
    'σοφ',
  );
  assertRefused(v1Info([{ path: ['Dir', 'f'] }, { path: ['dir'] }]), 'dir', 'Dir/f');
  // v2 file trees have unique keys, but not unique after folding.
  assertRefused(v2Info(['A', 'a']), 'A', 'a');
});

test('padding files clash with nothing, and distinct names pass', () => {
  const ok = v1Info([
    { path: ['a'] },
    { path: ['.pad', '16383'], attr: 'p' },
    { path: ['b', 'c'] },
    { path: ['.pad', '16383'], attr: 'p' },
    { path: ['ab'] },
    { path: ['b', 'c d'] },
  ]);
  const meta = parseTorrent(encode({ info: ok }));
  assert.equal(meta.files.filter((f) => !f.padding).length, 4);
});
