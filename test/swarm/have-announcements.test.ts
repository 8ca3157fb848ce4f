import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { Bitfield } from '../../src/codec/bitfield.js';
import { parseTorrent } from '../../src/metainfo/parse.js';
import { ManualClock } from '../../src/runtime/manual-clock.js';
import { reservedBytes } from '../../src/wire/handshake.js';
import { encodeMessage } from '../../src/wire/messages.js';
import { PeerWire } from '../../src/wire/peer-wire.js';
import { fakeStream } from '../support/fake-stream.js';
import { fixtureTorrent, startNode, whenDone } from '../support/nodes.js';
import { tempDir } from '../support/tmp.js';
import { feedWire, handshakenSession } from '../support/wire-socket.js';

const PIECE = 32 * 1024;
const PIECES = 8;

/**
 * A peer that dials `port`, says it has `pieces` (never unchoking nor asking anything), and
 * records the pieces it hears announced.
 */
function startObserver(port: number, infoHash: Uint8Array, pieces: readonly number[]) {
  const heard = new Set<number>();
  const socket = connect({ host: '127.0.0.1', port });
  const wire: PeerWire = new PeerWire(
    (chunks) => {
      for (const c of chunks) if (!socket.destroyed) socket.write(c);
    },
    {
      handshake: () => {
        if (pieces.length === PIECES) wire.sendMessage({ type: 'have-all' });
        else {
          const bits = new Bitfield(PIECES);
          for (const i of pieces) bits.set(i);
          wire.sendMessage({ type: 'bitfield', bits: bits.bytes });
        }
      },
      message: (m) => {
        if (m.type === 'have') heard.add(m.index);
      },
    },
    1 << 20,
  );
  feedWire(socket, wire);
  socket.on('error', () => socket.destroy());
  socket.on('connect', () =>
    wire.sendHandshake({
      reserved: reservedBytes(['fast']),
      infoHash,
      peerId: Buffer.alloc(20, 0x42),
    }),
  );
  return { heard, close: () => socket.destroy() };
}

/** A leecher with the observer connected downloads every piece from a seeder. */
async function downloadWatched(t: TestContext, observerPieces: readonly number[]) {
  const dir = await tempDir(t);
  const torrent = await fixtureTorrent(
    dir,
    'f.bin',
    { '': PIECE * PIECES },
    { pieceLength: PIECE },
  );
  const infoHash = parseTorrent(torrent).infoHashV1!;
  const seeder = await startNode(t);
  await seeder.add(torrent, { downloadDir: dir });
  const leecher = await startNode(t);
  const getting = await leecher.add(torrent, { downloadDir: join(dir, 'out') });
  const observer = startObserver(leecher.port, infoHash, observerPieces);
  t.after(() => observer.close());
  const deadline = Date.now() + 10_000;
  while (getting.stats().peers === 0 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 10));
  assert.equal(getting.stats().peers, 1, 'the observer joined before the download began');
  getting.addPeer('127.0.0.1', seeder.port);
  await whenDone(getting);
  await new Promise((r) => setTimeout(r, 200)); // the last announcements on their way
  return observer.heard;
}

test('a leecher does not announce a piece to a leecher that has it, except the one that completes it', async (t) => {
  const heard = await downloadWatched(t, [0, 1, 2, 3]);
  for (const i of [4, 5, 6, 7]) assert.ok(heard.has(i), `piece ${i}, which it lacks, announced`);
  const redundant = [0, 1, 2, 3].filter((i) => heard.has(i));
  assert.ok(redundant.length <= 1, `only the completing piece may repeat: ${redundant}`);
});

test('a seed hears of every piece a leecher gets: it counts where its pieces went', async (t) => {
  const heard = await downloadWatched(t, [0, 1, 2, 3, 4, 5, 6, 7]);
  // Not every one: the leecher drops the seed once it is one too, maybe before the last
  // announcements leave. A seed treated as a leecher that has the pieces would hear one.
  assert.ok(heard.size >= PIECES / 2, `heard ${[...heard]}`);
});

test('announcements held back for a peer go out together, in one write, when released', async () => {
  const writes: Buffer[] = [];
  const session = handshakenSession(
    fakeStream((chunks) => writes.push(Buffer.concat(chunks)) > 0),
    new ManualClock(),
  );
  await new Promise((r) => setImmediate(r));
  writes.length = 0;
  session.announceLater(3);
  session.announceLater(5);
  await new Promise((r) => setImmediate(r));
  assert.equal(writes.length, 0, 'nothing sent while held');
  session.announceHeld();
  await new Promise((r) => setImmediate(r));
  assert.equal(writes.length, 1);
  const have = (i: number) => encodeMessage({ type: 'have', index: i });
  assert.deepEqual(writes[0], Buffer.concat([have(3), have(5)]));
  session.announceHeld();
  await new Promise((r) => setImmediate(r));
  assert.equal(writes.length, 1, 'each is announced once');
});
