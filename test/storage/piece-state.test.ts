/**
 * A check of the files on disk (no resume data) marks exactly the pieces that hash right: each
 * checking worker reuses one buffer piece after piece, so a good piece read after a corrupt
 * one, and a short last piece read into a buffer that held a whole one, must still come out
 * right.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Bitfield } from '../../src/codec/bitfield.js';
import { InlineHasher } from '../../src/crypto/inline-hasher.js';
import { parseTorrent } from '../../src/metainfo/parse.js';
import { realFs } from '../../src/runtime/real.js';
import { PieceLayout } from '../../src/storage/layout.js';
import { PieceState } from '../../src/storage/piece-state.js';
import { TorrentStorage } from '../../src/storage/torrent-storage.js';
import { PieceVerifier } from '../../src/storage/verifier.js';
import { fixtureTorrent } from '../support/nodes.js';
import { tempDir } from '../support/tmp.js';

const PIECE = 16 * 1024;

for (const parallel of [1, 3]) {
  test(`a check finds every good piece and no bad one (${parallel} at once)`, async (t) => {
    const dir = await tempDir(t);
    // Nine whole pieces and a short tenth.
    const meta = parseTorrent(
      await fixtureTorrent(
        dir,
        'f.bin',
        { '': PIECE * 9 + 1000 },
        { pieceLength: PIECE, version: 'v1' },
      ),
    );
    const file = join(dir, 'f.bin');
    const data = await readFile(file);
    for (const bad of [2, 5]) data[bad * PIECE + 100]! ^= 0xff;
    await writeFile(file, data);
    const layout = new PieceLayout(meta);
    const storage = new TorrentStorage(realFs, dir, layout, meta.name, meta.singleFile);
    const verifier = new PieceVerifier(layout, new InlineHasher());
    const state = new PieceState(realFs, layout, storage, verifier, undefined);
    const have = new Bitfield(layout.pieceCount);
    await state.load(have, { recheck: true, parallel, stopped: () => false });
    await storage.close();
    assert.deepEqual([...have.indices()], [0, 1, 3, 4, 6, 7, 8, 9]);
  });
}
