import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Bitfield } from '../../src/codec/bitfield.js';
import { BLOCK_BYTES } from '../../src/swarm/piece-job.js';
import { type FakePeer, requests, schedulerSetup } from '../support/scheduler.js';

const block = Buffer.alloc(BLOCK_BYTES);

/** Answers the oldest request `peer` has outstanding. */
function answerOne(
  scheduler: { onBlock: (s: FakePeer['session'], i: number, b: number, d: Uint8Array) => void },
  peer: FakePeer,
): void {
  const key = peer.session.outstanding.keys().next().value;
  assert.ok(key !== undefined, 'a request is outstanding');
  scheduler.onBlock(peer.session, Math.floor(key / 65536), (key % 65536) * BLOCK_BYTES, block);
}

test('a new peer gets a short pipeline that grows by one request per block, until its rate sizes it', async (t) => {
  const pieces = 8;
  const { clock, scheduler, connect } = await schedulerSetup(t, 16 * BLOCK_BYTES, pieces);
  const peer = connect(Bitfield.full(pieces));
  peer.session.trusted = true;
  scheduler.fillRequests(peer.session);
  // Not the whole queue a peer allows at once: a slow seed would sit on it for a minute, every
  // piece in it counted as given out.
  assert.equal(peer.session.outstanding.size, 4, 'four requests to start with');
  for (let n = 1; n <= 6; n++) {
    answerOne(scheduler, peer);
    scheduler.fillRequests(peer.session);
    assert.equal(peer.session.pipelineTarget, 4 + n, 'one more per block received');
  }
  assert.ok(peer.session.outstanding.size >= 9, 'and kept full');
  // Once a second the pipeline is sized from the measured rate: two seconds of it, at least two
  // requests. This peer sent 6 blocks in no time and then nothing for a second.
  clock.advance(1000);
  assert.equal(scheduler.tend(peer.session, clock.now(), 60_000), undefined);
  const sized = peer.session.pipelineTarget;
  const rate = peer.session.download.bytesPerSecond;
  assert.equal(sized, Math.max(2, Math.ceil((rate * 2) / BLOCK_BYTES)));
  answerOne(scheduler, peer);
  assert.equal(peer.session.pipelineTarget, sized, 'no more growth per block once sized');
  assert.ok(requests(peer).length > 0);
});

test('until its data has verified once, a peer is asked for one piece at a time', async (t) => {
  const pieces = 8;
  const { scheduler, connect } = await schedulerSetup(t, 16 * BLOCK_BYTES, pieces);
  const peer = connect(Bitfield.full(pieces));
  peer.session.pipelineTarget = 64;
  peer.session.pipelineSized = true;
  scheduler.fillRequests(peer.session);
  assert.equal(peer.session.outstanding.size, 16, 'the 16 blocks of one piece');
  assert.equal(new Set(requests(peer).map((r) => r.index)).size, 1);
  peer.session.trusted = true;
  scheduler.fillRequests(peer.session);
  assert.equal(peer.session.outstanding.size, 64, 'trusted: its whole pipeline');
});

test('a seed that suggests pieces is not asked to finish pieces started from others', async (t) => {
  const pieces = 8;
  const { scheduler, connect, picker } = await schedulerSetup(t, 2 * BLOCK_BYTES, pieces);
  // A leecher with every piece, asked for one block at a time: it starts a piece and leaves
  // the piece's second block free.
  const leecher = connect(Bitfield.full(pieces));
  leecher.session.trusted = true;
  leecher.session.pipelineTarget = 1;
  leecher.session.pipelineSized = true;
  scheduler.fillRequests(leecher.session);
  const [first] = requests(leecher);
  assert.ok(first && first.begin === 0, 'the leecher was asked for a first block');
  const started = first.index;

  // A seed like any other is asked for the free block, to finish the piece sooner.
  const plain = connect(Bitfield.full(pieces));
  scheduler.fillRequests(plain.session);
  const plainFirst = requests(plain)[0];
  assert.deepEqual(plainFirst && { index: plainFirst.index, begin: plainFirst.begin }, {
    index: started,
    begin: BLOCK_BYTES,
  });

  // A seed that steers its first copies (it sent us BEP 6 suggestions) would refuse a piece
  // others have: it is asked for pieces of its own choosing instead.
  const steering = connect(Bitfield.full(pieces));
  steering.session.suggests = true;
  scheduler.fillRequests(steering.session);
  assert.ok(requests(steering).length > 0, 'it is asked for something');
  for (const r of requests(steering)) assert.notEqual(r.index, started);

  // Unless nobody else has the piece any more: then it is the only way to finish it.
  const another = connect(Bitfield.full(pieces));
  another.session.suggests = true;
  answerOne(scheduler, leecher); // the started piece's first block arrives
  picker.removePeer(leecher.session.bits!);
  picker.removePeer(plain.session.bits!);
  picker.removePeer(steering.session.bits!);
  scheduler.forget(plain.session); // its request for the free block goes back
  scheduler.fillRequests(another.session);
  assert.ok(
    requests(another).some((r) => r.index === started && r.begin === BLOCK_BYTES),
    'the sole holder is asked for the rest of the piece',
  );
});
