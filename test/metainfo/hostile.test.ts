import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Encodable, encode } from '../../src/codec/bencode.js';
import { MetainfoError, UnsafePathError } from '../../src/metainfo/errors.js';
import { parseTorrent } from '../../src/metainfo/parse.js';
import { assertSafePath } from '../../src/metainfo/paths.js';

const v1 = (info: Record<string, Encodable>): Buffer =>
  encode({
    info: { name: 'x', 'piece length': 16384, pieces: Buffer.alloc(20), length: 10, ...info },
  });

const multi = (files: Encodable[]): Buffer =>
  encode({ info: { name: 'x', 'piece length': 16384, pieces: Buffer.alloc(20), files } });

test('a traversal path is refused with an error naming it', () => {
  assert.throws(
    () => parseTorrent(multi([{ length: 1, path: ['..', '..', 'etc', 'passwd'] }])),
    (e: unknown) =>
      e instanceof UnsafePathError &&
      e.code === 'UNSAFE_PATH' &&
      /\.\.\/\.\.\/etc\/passwd/.test(e.message),
  );
  assert.throws(() => parseTorrent(v1({ name: '..' })), UnsafePathError);
});

test('unsafe names are refused', () => {
  const bad = [
    [''],
    ['a', ''],
    ['/etc'],
    ['a\\b'],
    ['nul\u0000'],
    ['C:x'],
    ['CON'],
    ['lpt1.txt'],
    ['dot.'],
    ['x'.repeat(256)],
  ];
  for (const p of bad) assert.throws(() => assertSafePath(p), UnsafePathError, JSON.stringify(p));
  assert.doesNotThrow(() => assertSafePath(['Movies', 'Film (2024) - part 1.mkv', '日本語']));
});

test('negative and absurd lengths are refused', () => {
  assert.throws(() => parseTorrent(v1({ length: -1 })), /outside/);
  assert.throws(() => parseTorrent(v1({ length: 2n ** 70n })), /absurdly large/);
  assert.throws(() => parseTorrent(v1({ length: 2 ** 52 })), MetainfoError);
  assert.throws(() => parseTorrent(v1({ 'piece length': 0 })), /outside/);
  assert.throws(() => parseTorrent(multi([{ length: -5, path: ['a'] }])), /outside/);
});

test('a pieces string of the wrong length is refused', () => {
  assert.throws(
    () => parseTorrent(v1({ pieces: Buffer.alloc(40) })),
    /holds 40 bytes but 1 pieces need 20/,
  );
  assert.throws(() => parseTorrent(v1({ pieces: Buffer.alloc(19) })), /pieces/);
});

test('a 100 MB pieces string is refused without being hashed', () => {
  const huge = v1({ pieces: Buffer.alloc(100 * 1024 * 1024), length: 5 * 1024 * 1024 * 16384 });
  assert.throws(() => parseTorrent(huge), /exceeds the \d+-byte limit/);
  // Even under a raised file-size limit, the string and piece-count limits hold.
  assert.throws(
    () => parseTorrent(huge, { maxTorrentBytes: 2 ** 30 }),
    /exceeds limit|pieces exceed the limit/,
  );
});

test('nesting deeper than the limit is refused', () => {
  const deep = Buffer.from(`d4:info${'l'.repeat(100)}${'e'.repeat(100)}e`);
  assert.throws(
    () => parseTorrent(deep),
    (e: unknown) => e instanceof MetainfoError && /nesting too deep/.test(e.message),
  );
});

test('structural errors are explained', () => {
  assert.throws(() => parseTorrent(encode([1])), /top level must be a dictionary/);
  assert.throws(() => parseTorrent(encode({ announce: 'x' })), /info must be a dictionary/);
  assert.throws(() => parseTorrent(v1({ 'meta version': 3 })), /meta version 3/);
  assert.throws(
    () => parseTorrent(encode({ info: { name: 'x', 'piece length': 16384, length: 1 } })),
    /neither pieces/,
  );
  assert.throws(() => parseTorrent(multi([])), /files is empty/);
  assert.throws(
    () => parseTorrent(multi([{ length: 1, path: [1] }])),
    /path\[0\] must be a string/,
  );
  assert.throws(() => parseTorrent(Buffer.from('garbage')), MetainfoError);
});

test('v2 piece layers must match their pieces root', () => {
  const root = Buffer.alloc(32, 1);
  const torrent = encode({
    info: {
      name: 'x',
      'piece length': 16384,
      'meta version': 2,
      'file tree': { x: { '': { length: 40000, 'pieces root': root } } },
    },
    'piece layers': new Map([[root.toString('latin1'), Buffer.alloc(96)]]),
  });
  assert.throws(() => parseTorrent(torrent), /does not match its pieces root/);
});

test('v2 piece length must be a power of two of at least 16 KiB', () => {
  const torrent = encode({
    info: {
      name: 'x',
      'piece length': 8192,
      'meta version': 2,
      'file tree': { x: { '': { length: 1, 'pieces root': Buffer.alloc(32) } } },
    },
  });
  assert.throws(() => parseTorrent(torrent), /power of two/);
});
