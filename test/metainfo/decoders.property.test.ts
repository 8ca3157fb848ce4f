import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { HashPool } from '../../src/crypto/hash-pool.js';
import { ShoalError } from '../../src/errors.js';
import { createTorrent } from '../../src/metainfo/create.js';
import { formatMagnet, parseMagnet } from '../../src/metainfo/magnet.js';
import { parseInfoDictionary, parseTorrent } from '../../src/metainfo/parse.js';
import { realFs } from '../../src/runtime/real.js';
import { assertDecoderSafe, mutated } from '../support/fuzz.js';
import { writeTree } from '../support/tmp.js';

let torrent: Buffer;
let infoBytes: Buffer;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-fuzz-'));
  await writeTree(join(dir, 'c'), { 'a/b.bin': 40000, 'c.txt': 100, 'd.bin': 16384 });
  const pool = new HashPool(1);
  const created = await createTorrent(join(dir, 'c'), realFs, pool, {
    pieceLength: 16384,
    trackers: ['http://127.0.0.1:1/a'],
  });
  await pool.close();
  torrent = created.torrent;
  infoBytes = created.metainfo.infoBytes;
});
after(() => rm(dir, { recursive: true, force: true }));

test('mutated torrents are parsed or refused with a ShoalError, nothing else', () => {
  assertDecoderSafe(mutated(torrent), (bytes) => parseTorrent(bytes), ShoalError);
});

test('mutated info dictionaries are parsed or refused with a ShoalError', () => {
  assertDecoderSafe(mutated(infoBytes), (bytes) => parseInfoDictionary(bytes), ShoalError);
});

test('random and mutated magnet links are parsed or refused with a ShoalError', () => {
  const valid = formatMagnet({
    infoHashV1: Buffer.alloc(20, 0xab),
    infoHashV2: Buffer.alloc(32, 0xcd),
    name: 'name é',
    trackers: ['udp://127.0.0.1:1'],
    webSeeds: ['http://127.0.0.1/'],
    peers: [{ host: '127.0.0.1', port: 1 }],
    selectOnly: [{ first: 0, last: 3 }],
  });
  const text = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 200 }).map((s) => `magnet:?${s}`),
    mutated(Buffer.from(valid)).map((b) => Buffer.from(b).toString('latin1')),
  );
  assertDecoderSafe(text, (uri) => parseMagnet(uri), ShoalError);
});
