import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import fc from 'fast-check';
import { Bitfield } from '../../src/codec/bitfield.js';
import { sha256 } from '../../src/crypto/hash.js';
import { blockHashes, zeroSubtreeRoot } from '../../src/crypto/merkle.js';
import { PaddedMerkleTree, pieceLayerPad, provenNode } from '../../src/crypto/merkle-proof.js';
import { parseInfoDictionary, parseTorrent } from '../../src/metainfo/parse.js';
import type { Metainfo } from '../../src/metainfo/types.js';
import { ManualClock } from '../../src/runtime/manual-clock.js';
import { realFs } from '../../src/runtime/real.js';
import { TokenBucket } from '../../src/shared/rate.js';
import { PieceLayout } from '../../src/storage/layout.js';
import { TorrentStorage } from '../../src/storage/torrent-storage.js';
import { HashExchange, HashesInvalidError } from '../../src/swarm/hash-exchange.js';
import { PeerSession } from '../../src/swarm/peer-session.js';
import { WireError } from '../../src/wire/errors.js';
import { encodeHandshake, reservedBytes } from '../../src/wire/handshake.js';
import {
  decodeBody,
  encodeMessage,
  type HashRef,
  type Message,
  MessageReader,
} from '../../src/wire/messages.js';
import { startFakeSeed } from '../support/evil-peer.js';
import { fakeStream } from '../support/fake-stream.js';
import { expectOnly, FUZZ_RUNS, mutated } from '../support/fuzz.js';
import { fixtureTorrent, startNode, whenDone } from '../support/nodes.js';
import { tempDir } from '../support/tmp.js';

type Hashes = Extract<Message, { type: 'hashes' }>;

/** A peer session on a stream that only records what is written to it. */
function fakeSession(
  clock: ManualClock,
  pieceCount: number,
): {
  session: PeerSession;
  sent: () => Promise<Message[]>;
} {
  const written: Buffer[] = [];
  const stream = fakeStream((chunks) => {
    for (const c of chunks) written.push(Buffer.from(c));
    return true;
  });

  const session = new PeerSession(
    stream,
    { transport: 'tcp', direction: 'outbound', encrypted: false },
    clock,
    { handshake: () => {}, message: () => {} },
    1 << 22,
  );
  session.handshake = {
    reserved: reservedBytes(['fast', 'v2']),
    infoHash: Buffer.alloc(20),
    peerId: Buffer.alloc(20, 1),
  };
  session.wire.receive(encodeHandshake(session.handshake)); // the peer's, so we may send
  session.bits = Bitfield.full(pieceCount);
  const reader = new MessageReader(1 << 22);
  return {
    session,
    sent: async () => {
      await new Promise((resolve) => setImmediate(resolve)); // the session flushes in a microtask
      const messages: Message[] = [];
      reader.push(Buffer.concat(written.splice(0)), (b) => {
        if (b !== null) messages.push(decodeBody(Buffer.from(b))!);
      });
      return messages;
    },
  };
}

/** The next `count` messages `peer` is sent (leaf hashes take a read from disk first). */
async function answer(peer: { sent: () => Promise<Message[]> }, count = 1): Promise<Message[]> {
  const out: Message[] = [];
  for (let i = 0; i < 100 && out.length < count; i++) {
    out.push(...(await peer.sent()));
    if (out.length < count) await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return out;
}

interface Side {
  readonly hx: HashExchange;
  readonly layout: PieceLayout;
  readonly have: Bitfield;
  readonly added: Buffer[];
}

function side(
  t: TestContext,
  meta: Metainfo,
  dir: string,
  clock: ManualClock,
  haveAll: boolean,
): Side {
  const layout = new PieceLayout(meta);
  const storage = new TorrentStorage(realFs, dir, layout, meta.name, meta.singleFile);
  t.after(() => storage.close());
  const have = haveAll ? Bitfield.full(meta.pieceCount) : new Bitfield(meta.pieceCount);
  const added: Buffer[] = [];
  const hx = new HashExchange({
    layout,
    storage,
    have,
    clock,
    fetchLayers: meta.pieces === undefined,
    bucket: new TokenBucket(clock, 0),
    globalBucket: new TokenBucket(clock, 0),
    maxIncomingRequests: 50,
    layerAdded: (root) => added.push(root),
  });
  return { hx, layout, have, added };
}

/** A v2 torrent of `files`, and the same torrent as a magnet link gives it (no piece layers). */
async function v2Fixture(dir: string, files: Record<string, number>, pieceLength: number) {
  const bytes = await fixtureTorrent(dir, 'set', files, { version: 'v2', pieceLength });
  const full = parseTorrent(bytes);
  const bare = parseInfoDictionary(full.infoBytes);
  assert.equal(bare.pieceLayers.size, 0);
  return { bytes, full, bare };
}

const ref = (m: HashRef): HashRef => ({
  piecesRoot: m.piecesRoot,
  baseLayer: m.baseLayer,
  index: m.index,
  length: m.length,
  proofLayers: m.proofLayers,
});

test('a magnet leecher fetches every piece layer from a seed, each proved against its root', async (t) => {
  const dir = await tempDir(t);
  // 601 pieces (two requests of 512), 7 pieces, and a file of one piece (no layer needed).
  const files = { 'big.bin': 600 * 16384 + 5, 'mid.bin': 100_000, 'one.bin': 10_000 };
  const { full, bare } = await v2Fixture(dir, files, 16384);
  const clock = new ManualClock();
  const seed = side(t, full, dir, clock, true);
  const leech = side(t, bare, join(dir, 'out'), clock, false);
  const toSeed = fakeSession(clock, full.pieceCount);
  const toLeech = fakeSession(clock, full.pieceCount);
  const fileOf = (name: string) => full.files.find((f) => f.path.at(-1) === name)!;
  const bigFirst = fileOf('big.bin').offset / 16384;
  assert.equal(leech.hx.canVerify(bigFirst), false);
  assert.equal(leech.hx.canVerify(fileOf('one.bin').offset / 16384), true);

  leech.hx.requestFrom(toSeed.session);
  const requests = await toSeed.sent();
  assert.deepEqual(
    requests.map((m) => m.type === 'hash-request' && [m.index, m.length, m.proofLayers]),
    [
      [0, 512, 9],
      [512, 128, 9],
      [0, 8, 2],
    ],
  );
  for (const m of requests) if (m.type === 'hash-request') seed.hx.onRequest(toLeech.session, m);
  const replies = await toLeech.sent();
  assert.deepEqual(
    replies.map((m) => m.type),
    ['hashes', 'hashes', 'hashes'],
  );
  // big.bin's layer is 1024 wide once padded. Its first 512 hashes come with one uncle (the
  // root of the other half); the last 89 come with 39 padding hashes (with 16 KiB pieces, a
  // zero leaf) and three uncles: two roots of padding subtrees, then the first half's root.
  const [first, second] = replies as Hashes[];
  assert.equal(first!.hashes.length, (512 + 1) * 32);
  assert.equal(second!.hashes.length, (128 + 3) * 32);
  assert.deepEqual(second!.hashes.subarray(127 * 32, 128 * 32), zeroSubtreeRoot(1));
  assert.deepEqual(second!.hashes.subarray(128 * 32, 129 * 32), zeroSubtreeRoot(128));
  assert.deepEqual(second!.hashes.subarray(129 * 32, 130 * 32), zeroSubtreeRoot(256));
  for (const m of replies) leech.hx.onHashes(toSeed.session, m as Hashes);

  assert.equal(leech.added.length, 2);
  for (const name of ['big.bin', 'mid.bin']) {
    const root = fileOf(name).piecesRoot!;
    assert.deepEqual(leech.layout.pieceLayer(root), full.pieceLayers.get(root.toString('hex')));
  }
  for (let p = 0; p < full.pieceCount; p++) {
    assert.equal(leech.hx.canVerify(p), true, `piece ${p}`);
    assert.equal(leech.layout.canVerify(p), true, `piece ${p}`);
  }
  leech.hx.requestFrom(toSeed.session);
  assert.deepEqual(await toSeed.sent(), [], 'nothing left to ask for');
});

test('leaf hashes of a piece come from its data on disk, with uncles up to the file root', async (t) => {
  const dir = await tempDir(t);
  // 64 KiB pieces: a.bin has 16 pieces (62 blocks), s.bin is one piece of 3 blocks.
  const { full } = await v2Fixture(dir, { 'a.bin': 1_000_000, 's.bin': 40_000 }, 65536);
  const clock = new ManualClock();
  const seed = side(t, full, dir, clock, true);
  const peer = fakeSession(clock, full.pieceCount);
  const a = full.files.find((f) => f.path.at(-1) === 'a.bin')!;
  const s = full.files.find((f) => f.path.at(-1) === 's.bin')!;
  const data = await readFile(join(dir, 'set', 'a.bin'));
  const cases: [HashRef, Buffer][] = [
    // Piece 4's four leaves, proved to the root (6 layers: 4 inside the piece... 5 proof layers).
    [
      { piecesRoot: a.piecesRoot!, baseLayer: 0, index: 16, length: 4, proofLayers: 5 },
      blockHashes(data.subarray(4 * 65536, 5 * 65536)),
    ],
    // The last piece: two real leaves, then two zero leaves.
    [
      { piecesRoot: a.piecesRoot!, baseLayer: 0, index: 60, length: 4, proofLayers: 5 },
      Buffer.concat([blockHashes(data.subarray(15 * 65536)), Buffer.alloc(64)]),
    ],
    // Two leaves of piece 1, with fewer proof layers (a proof to an inner node).
    [
      { piecesRoot: a.piecesRoot!, baseLayer: 0, index: 6, length: 2, proofLayers: 3 },
      blockHashes(data.subarray(65536 + 2 * 16384, 65536 + 4 * 16384)),
    ],
    // A file of one piece: its whole tree is that piece's.
    [
      { piecesRoot: s.piecesRoot!, baseLayer: 0, index: 0, length: 4, proofLayers: 1 },
      Buffer.concat([blockHashes(await readFile(join(dir, 'set', 's.bin'))), Buffer.alloc(32)]),
    ],
  ];
  for (const [r, leaves] of cases) {
    clock.advance(2000); // a peer gets one piece's leaves every 2 s
    seed.hx.onRequest(peer.session, r);
    const m = (await answer(peer))[0];
    assert.ok(m?.type === 'hashes', `no hashes for leaf ${r.index}`);
    assert.deepEqual(ref(m), ref(r));
    assert.deepEqual(m.hashes.subarray(0, r.length * 32), leaves);
    const proven = provenNode(m.hashes, r)!;
    if (r.proofLayers === 5 || r.piecesRoot === s.piecesRoot) {
      assert.deepEqual(proven.node, r.piecesRoot, 'proved to the root');
    } else {
      // Height 4 above the leaves: the node over pieces 0–3 of the piece layer.
      const layer = full.pieceLayers.get(a.piecesRoot!.toString('hex'))!;
      const tree = new PaddedMerkleTree(layer, 16, pieceLayerPad(65536));
      assert.equal(proven.height, 4);
      assert.deepEqual(proven.node, tree.node(2, 0));
    }
  }

  // A piece we lack, and one whose data changed on disk since it was verified, are refused.
  seed.have.clear(3);
  seed.hx.onRequest(peer.session, { ...cases[0]![0], index: 12 });
  const changed = Buffer.from(data);
  changed[7 * 65536 + 9]! ^= 1;
  await writeFile(join(dir, 'set', 'a.bin'), changed);
  clock.advance(2000);
  seed.hx.onRequest(peer.session, { ...cases[0]![0], index: 28 });
  assert.deepEqual(
    (await answer(peer, 2)).map((m) => m.type === 'hash-reject' && m.index),
    [12, 28],
  );
  // Reading and hashing a piece costs far more than the answer: one piece per peer every 2 s.
  const said = async (n: number) =>
    (await answer(peer, n)).map(
      (m) => `${m.type} ${m.type !== 'keep-alive' && 'index' in m && m.index}`,
    );
  clock.advance(2000);
  for (const index of [0, 4]) seed.hx.onRequest(peer.session, { ...cases[0]![0], index });
  assert.deepEqual(await said(2), ['hash-reject 4', 'hashes 0']);
  clock.advance(1000);
  seed.hx.onRequest(peer.session, { ...cases[0]![0], index: 4 });
  assert.deepEqual(await said(1), ['hash-reject 4']);
  clock.advance(1000);
  seed.hx.onRequest(peer.session, { ...cases[0]![0], index: 4 });
  assert.deepEqual(await said(1), ['hashes 4']);
});

test('malformed, unknown or out-of-range hash requests are rejected; a flood of them drops the peer', async (t) => {
  const dir = await tempDir(t);
  const { full, bare } = await v2Fixture(dir, { 'a.bin': 1_000_000, 's.bin': 40_000 }, 65536);
  const clock = new ManualClock();
  const seed = side(t, full, dir, clock, true);
  const peer = fakeSession(clock, full.pieceCount);
  const root = full.files[0]!.piecesRoot!;
  const good: HashRef = { piecesRoot: root, baseLayer: 2, index: 0, length: 16, proofLayers: 3 };
  const bad: HashRef[] = [
    { ...good, piecesRoot: Buffer.alloc(32, 7) }, // no such file
    { ...good, baseLayer: 1 }, // neither leaves nor piece layer
    { ...good, length: 1 },
    { ...good, length: 12 },
    { ...good, length: 1024 },
    { ...good, length: 8, index: 4 }, // not a multiple of the length
    { ...good, length: 8, index: 16 }, // past the padded layer
    { ...good, proofLayers: 4 }, // above the root
    { ...good, index: 0xffff_fff0 },
  ];
  for (const r of bad) seed.hx.onRequest(peer.session, r);
  seed.hx.onRequest(peer.session, good);
  const replies = await peer.sent();
  assert.deepEqual(
    replies.map((m) => m.type),
    [...bad.map(() => 'hash-reject'), 'hashes'],
  );
  for (const [i, r] of bad.entries()) assert.deepEqual(ref(replies[i] as Hashes), r);

  // A magnet leecher has no piece layer to serve yet: it refuses, politely.
  const leech = side(t, bare, join(dir, 'out'), clock, false);
  const other = fakeSession(clock, full.pieceCount);
  leech.hx.onRequest(other.session, good);
  assert.deepEqual(
    (await other.sent()).map((m) => m.type),
    ['hash-reject'],
  );

  // Refusals in a row are bounded like requests: past the limit the peer is a flood.
  assert.throws(() => {
    for (let i = 0; i < 100; i++) seed.hx.onRequest(peer.session, bad[0]!);
  }, WireError);
});

test('requests that arrive while the socket is full wait for it to drain; a queue of 16 at most', async (t) => {
  const dir = await tempDir(t);
  const { full } = await v2Fixture(dir, { 'a.bin': 1_000_000 }, 65536);
  const clock = new ManualClock();
  const seed = side(t, full, dir, clock, true);
  const peer = fakeSession(clock, full.pieceCount);
  const root = full.files[0]!.piecesRoot!;
  const r: HashRef = { piecesRoot: root, baseLayer: 2, index: 0, length: 16, proofLayers: 3 };
  peer.session.congested = true;
  for (let i = 0; i < 17; i++) seed.hx.onRequest(peer.session, r);
  assert.deepEqual(
    (await peer.sent()).map((m) => m.type),
    ['hash-reject'],
    'only the 17th is refused',
  );
  peer.session.congested = false;
  seed.hx.drained(peer.session);
  const answers = await peer.sent();
  assert.equal(answers.length, 16);
  for (const m of answers) {
    assert.equal(m.type, 'hashes');
    assert.deepEqual(ref(m as Hashes), r);
  }
  assert.deepEqual(seed.hx.stats(), { served: 16, refused: 1, layersFetched: 0 });
});

test('forged hashes fail their proof; hashes nobody asked for are refused; the layer is asked again', async (t) => {
  const dir = await tempDir(t);
  const { full, bare } = await v2Fixture(dir, { 'a.bin': 1_000_000 }, 65536);
  const clock = new ManualClock();
  const seed = side(t, full, dir, clock, true);
  const leech = side(t, bare, join(dir, 'out'), clock, false);
  const toSeed = fakeSession(clock, full.pieceCount);
  const back = fakeSession(clock, full.pieceCount);
  leech.hx.requestFrom(toSeed.session);
  const [request] = await toSeed.sent();
  assert.equal(request?.type, 'hash-request');
  seed.hx.onRequest(back.session, request as HashRef);
  const [reply] = (await back.sent()) as Hashes[];
  const forged = Buffer.from(reply!.hashes);
  forged[3 * 32]! ^= 0x80;
  assert.throws(
    () => leech.hx.onHashes(toSeed.session, { ...reply!, hashes: forged }),
    (e: unknown) => e instanceof HashesInvalidError && e.forged && e.code === 'HASHES_INVALID',
  );
  assert.equal(leech.added.length, 0);
  assert.equal(leech.hx.canVerify(0), false);
  // The same reply again is not an answer to anything any more.
  assert.throws(
    () => leech.hx.onHashes(toSeed.session, reply!),
    (e: unknown) => e instanceof HashesInvalidError && !e.forged,
  );
  // The chunk is asked for again (of another peer: this one would be dropped) and accepted.
  const again = fakeSession(clock, full.pieceCount);
  leech.hx.requestFrom(again.session);
  const [retry] = await again.sent();
  assert.deepEqual(ref(retry as HashRef), ref(request as HashRef));
  leech.hx.onHashes(again.session, reply!);
  assert.equal(leech.added.length, 1);
  assert.equal(leech.hx.canVerify(0), true);
});

test('a peer that refuses is not asked again for a while; a peer that leaves frees its requests', async (t) => {
  const dir = await tempDir(t);
  const { full, bare } = await v2Fixture(dir, { 'a.bin': 1_000_000 }, 65536);
  const clock = new ManualClock();
  const leech = side(t, bare, join(dir, 'out'), clock, false);
  const p1 = fakeSession(clock, full.pieceCount);
  const p2 = fakeSession(clock, full.pieceCount);
  leech.hx.requestFrom(p1.session);
  const [request] = (await p1.sent()) as (HashRef & { type: string })[];
  leech.hx.requestFrom(p2.session);
  assert.deepEqual(await p2.sent(), [], 'in flight at p1');
  leech.hx.onReject(p1.session, request!);
  leech.hx.requestFrom(p1.session);
  assert.deepEqual(await p1.sent(), [], 'p1 refused it');
  leech.hx.requestFrom(p2.session);
  assert.equal((await p2.sent()).length, 1, 'p2 is asked now');
  leech.hx.forget(p2.session);
  clock.advance(10_000);
  leech.hx.requestFrom(p1.session);
  assert.equal((await p1.sent()).length, 1, 'p1 is asked again after the back-off');
  // A peer without any piece of the file is not asked.
  const empty = fakeSession(clock, full.pieceCount);
  empty.session.bits = new Bitfield(full.pieceCount);
  leech.hx.forget(p1.session);
  leech.hx.requestFrom(empty.session);
  assert.deepEqual(await empty.sent(), []);
});

test('hostile hashes messages never throw anything but HashesInvalidError', async (t) => {
  const dir = await tempDir(t);
  const { full, bare } = await v2Fixture(dir, { 'a.bin': 1_000_000, 'b.bin': 300_000 }, 65536);
  const clock = new ManualClock();
  const seed = side(t, full, dir, clock, true);
  const back = fakeSession(clock, full.pieceCount);
  const probe = side(t, bare, join(dir, 'out'), clock, false);
  const asker = fakeSession(clock, full.pieceCount);
  probe.hx.requestFrom(asker.session);
  const requests = (await asker.sent()) as (HashRef & { type: 'hash-request' })[];
  assert.equal(requests.length, 2);
  for (const r of requests) seed.hx.onRequest(back.session, r);
  const honest = ((await back.sent()) as Hashes[]).map((m) => encodeMessage(m).subarray(4));
  const roots = requests.map((r) => Buffer.from(r.piecesRoot));
  const u32 = fc.oneof(
    fc.nat({ max: 0xffff_ffff }),
    fc.constantFrom(0, 1, 2, 3, 4, 16, 32, 512, 0x8000_0000, 0xffff_ffff),
  );
  const hostile = fc.oneof(
    // Honest replies, mutated on the wire.
    fc.constantFrom(...honest).chain((b) => mutated(b)),
    // Made-up replies with any fields and hashes.
    fc
      .record({
        piecesRoot: fc.oneof(
          fc.constantFrom(...roots),
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
        ),
        baseLayer: u32,
        index: u32,
        length: u32,
        proofLayers: u32,
        count: fc.nat({ max: 40 }),
        seed: fc.nat(),
      })
      .map((f) =>
        encodeMessage({
          type: 'hashes',
          ...f,
          hashes: Buffer.concat(
            Array.from({ length: f.count }, (_, i) => sha256(Buffer.from(`${f.seed}/${i}`))),
          ),
        }).subarray(4),
      ),
  );
  const leech = side(t, bare, join(dir, 'out'), clock, false);
  fc.assert(
    fc.property(hostile, (body) => {
      let m: Message | undefined;
      try {
        m = decodeBody(Buffer.from(body));
      } catch (error) {
        expectOnly(error, WireError); // the decoder's own typed error
        return;
      }
      if (m?.type !== 'hashes') return;
      // A fresh peer with our two requests outstanding.
      const { session } = fakeSession(clock, full.pieceCount);
      leech.hx.requestFrom(session);
      try {
        leech.hx.onHashes(session, m);
      } catch (error) {
        expectOnly(error, HashesInvalidError);
      } finally {
        leech.hx.forget(session);
      }
    }),
    { numRuns: FUZZ_RUNS },
  );
});

test('shoal to shoal: a v2 torrent by magnet link gets its piece layers from the seed; they survive a restart', async (t) => {
  const dir = await tempDir(t);
  const FILES = { 'big.bin': 1_300_000, 'sub/mid.bin': 200_000, 'one.bin': 20_000 };
  const { bytes, full } = await v2Fixture(dir, FILES, 32768);
  const seeder = await startNode(t);
  await seeder.add(bytes, { downloadDir: dir });
  const dataDir = await tempDir(t, 'shoal-leech-data-');
  const leecher = await startNode(t, { dataDir });
  const out = join(dir, 'out');
  const getting = await leecher.addMagnet(
    {
      infoHashV2: full.infoHashV2!,
      trackers: [],
      webSeeds: [],
      peers: [{ host: '127.0.0.1', port: seeder.port }],
    },
    { downloadDir: out },
  );
  assert.equal(getting.meta.pieceLayers.size, 0, 'the info dictionary alone has no layers');
  await whenDone(getting);
  const digest = async (d: string, p: string) =>
    createHash('sha256')
      .update(await readFile(join(d, 'set', p)))
      .digest('hex');
  for (const p of Object.keys(FILES)) assert.equal(await digest(out, p), await digest(dir, p), p);
  assert.equal(getting.stats().wasted, 0);
  await leecher.stop();

  // A new node on the same data folder, no peers, everything rechecked: only the piece layers
  // kept in the resume data can verify big.bin and mid.bin.
  const again = await startNode(t, { dataDir });
  const [entry] = await again.library.list();
  const restarted = await again.add(entry!.torrent, {
    downloadDir: out,
    recheck: true,
    persist: false,
  });
  assert.equal(restarted.stats().piecesHave, full.pieceCount);
  assert.equal(restarted.stats().state, 'seeding');
});

test('a peer whose hashes do not prove the root is banned; the honest seed completes the download', async (t) => {
  const dir = await tempDir(t);
  const { bytes, full } = await v2Fixture(dir, { 'big.bin': 1_300_000, 'x.bin': 70_000 }, 32768);
  const bare = Buffer.concat([Buffer.from('d4:info'), full.infoBytes, Buffer.from('e')]);
  const liar = await startFakeSeed(
    '127.0.0.2',
    () => {},
    (m, wire) => {
      if (m.type !== 'hash-request') return;
      const count = m.length + Math.max(0, m.proofLayers - Math.log2(m.length) + 1);
      wire.sendMessage({ ...m, type: 'hashes', hashes: Buffer.alloc(count * 32, 0x42) });
    },
  );
  t.after(() => liar.close());
  const seeder = await startNode(t);
  await seeder.add(bytes, { downloadDir: dir });
  const leecher = await startNode(t);
  const getting = await leecher.add(bare, {
    downloadDir: join(dir, 'out'),
    peers: [{ host: '127.0.0.2', port: liar.port }],
  });
  const banned = await new Promise<string>((resolve) => getting.once('banned', resolve));
  assert.equal(banned, '127.0.0.2');
  assert.equal(getting.stats().piecesHave, 0);
  getting.addPeer('127.0.0.1', seeder.port, true);
  await whenDone(getting);
  assert.equal(getting.stats().wasted, 0);
});
