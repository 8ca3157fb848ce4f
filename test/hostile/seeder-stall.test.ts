/**
 * Class: a seed must never leave a leecher at 0 B/s while it has what the leecher lacks. The
 * seed's scarcity rule refuses requests for pieces it sent more often than others; it used to
 * count copies given to peers that had left (so pieces nobody had looked common for good), and
 * it refused a leecher that never follows suggestions (a sequential or streaming reader) for
 * ever.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTorrent } from '../../src/metainfo/parse.js';
import { fixtureTorrent, startNode } from '../support/nodes.js';
import { type RawLeecher, startRawLeecher } from '../support/raw-leecher.js';
import { tempDir } from '../support/tmp.js';

const PIECE = 32 * 1024;
const PIECES = 128;

async function until(what: string, ok: () => boolean, ms: number, detail: () => string) {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`${what} not within ${ms} ms: ${detail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function seed(t: import('node:test').TestContext) {
  const dir = await tempDir(t);
  const bytes = await fixtureTorrent(
    dir,
    'stall',
    { 'data.bin': PIECE * PIECES },
    {
      version: 'v1',
      pieceLength: PIECE,
    },
  );
  const meta = parseTorrent(bytes);
  const node = await startNode(t);
  await node.add(bytes, { downloadDir: dir, persist: false });
  const leech = (order: number[], peerByte: number, localAddress: string): Promise<RawLeecher> =>
    startRawLeecher({
      host: '127.0.0.1',
      port: node.port,
      infoHash: meta.infoHashV1!,
      pieceLength: PIECE,
      totalLength: PIECE * PIECES,
      order,
      pipeline: 16,
      peerByte,
      localAddress,
    });
  return { leech };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

test('pieces sent to a leecher that left no longer count: a fresh sequential leecher is served', async (t) => {
  const { leech } = await seed(t);
  const first = await leech(range(0, PIECES / 2), 0x61, '127.0.0.2');
  await until(
    'the first leecher',
    () => first.complete(),
    20_000,
    () => `${first.blocks()} blocks`,
  );
  first.close();
  await new Promise((r) => setTimeout(r, 200));
  // It asks for the same pieces first, and never looks at the seed's suggestions.
  const second = await leech(range(0, PIECES), 0x62, '127.0.0.3');
  t.after(() => second.close());
  await until(
    'the second leecher',
    () => second.complete(),
    20_000,
    () => `${second.blocks()} blocks, ${second.rejects()} rejects`,
  );
});

test('a leecher that ignores suggestions is served after a bounded run of refusals', async (t) => {
  const { leech } = await seed(t);
  // The first leecher stays: the pieces it got really are more common than the rest.
  const first = await leech(range(0, PIECES / 2), 0x63, '127.0.0.4');
  t.after(() => first.close());
  await until(
    'the first leecher',
    () => first.complete(),
    20_000,
    () => `${first.blocks()} blocks`,
  );
  const second = await leech(range(0, PIECES), 0x64, '127.0.0.5');
  t.after(() => second.close());
  await until(
    'the second leecher',
    () => second.complete(),
    20_000,
    () => `${second.blocks()} blocks, ${second.rejects()} rejects`,
  );
  assert.ok(second.rejects() <= 2 * 256, `refused ${second.rejects()} times`);
});
