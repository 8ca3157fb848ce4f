import type { TestContext } from 'node:test';
import { Bitfield } from '../../src/codec/bitfield.js';
import { ManualClock } from '../../src/runtime/manual-clock.js';
import { SeededRandom } from '../../src/runtime/seeded-random.js';
import { RateMeter, TokenBucket } from '../../src/shared/rate.js';
import { StreamDeadlines } from '../../src/swarm/deadlines.js';
import type { HashExchange } from '../../src/swarm/hash-exchange.js';
import { PeerSession } from '../../src/swarm/peer-session.js';
import { BufferPool, type PieceJob } from '../../src/swarm/piece-job.js';
import { PiecePicker } from '../../src/swarm/piece-picker.js';
import { RequestScheduler } from '../../src/swarm/request-scheduler.js';
import type { Message } from '../../src/wire/messages.js';
import { fakeStream } from './fake-stream.js';
import { storedTorrent } from './nodes.js';

/** Requests, cancels and other messages one fake peer was sent. */
export interface FakePeer {
  readonly session: PeerSession;
  readonly sent: Message[];
}

/**
 * A request scheduler over a real torrent of `pieces` pieces of `pieceLength` bytes, with fake
 * peers whose sent messages are recorded instead of written.
 */
export async function schedulerSetup(t: TestContext, pieceLength: number, pieces: number) {
  const PIECE = pieceLength;
  const PIECES = pieces;
  const { layout, storage } = await storedTorrent(t, 'video.bin', PIECE, PIECES);
  const clock = new ManualClock(0);
  const have = new Bitfield(PIECES);
  const picker = new PiecePicker(PIECES, have, new SeededRandom(7));
  const deadlines = new StreamDeadlines(layout, have, clock);
  const peers: FakePeer[] = [];
  const completed: PieceJob[] = [];
  const hashes = { requestFrom: () => {}, canVerify: () => true } as unknown as HashExchange;
  const scheduler = new RequestScheduler({
    layout,
    picker,
    storage,
    hashes,
    buffers: new BufferPool(PIECE),
    deadlines,
    clock,
    bucket: new TokenBucket(clock, 0),
    globalBucket: new TokenBucket(clock, 0),
    meter: new RateMeter(clock),
    sessions: () => peers.map((p) => p.session),
    sessionCount: () => peers.length,
    downloading: () => true,
    isWriting: () => false,
    pieceComplete: (job) => completed.push(job),
  });
  /** A peer just connected and unchoking us, with the pieces in `bits`, not yet trusted. */
  const connect = (bits: Bitfield): FakePeer => {
    const sent: Message[] = [];
    const session = new PeerSession(
      fakeStream(() => true),
      { transport: 'tcp', direction: 'outbound', encrypted: false },
      clock,
      { handshake: () => {}, message: () => {} },
      1 << 20,
    );
    session.wire.sendMessage = (m: Message) => {
      sent.push(m);
    };
    session.bits = bits;
    session.wire.peerChoking = false;
    picker.addPeer(bits);
    peers.push({ session, sent });
    return { session, sent };
  };
  /**
   * Connected, unchoking, trusted peers with every piece, whose measured rates are `rates`
   * (bytes/s, fed to their meters for five seconds together).
   */
  const addPeers = (...rates: number[]): FakePeer[] => {
    const added = rates.map(() => {
      const peer = connect(Bitfield.full(PIECES));
      peer.session.trusted = true;
      peer.session.pipelineTarget = 64;
      return peer;
    });
    for (let ms = 0; ms < 5000; ms += 100) {
      clock.advance(100);
      for (const [i, p] of added.entries()) p.session.download.add(rates[i]! / 10);
    }
    return added;
  };
  return { clock, have, picker, deadlines, scheduler, connect, addPeers, completed };
}

/** The requests `p` was sent. */
export const requests = (p: FakePeer) =>
  p.sent.filter((m): m is Extract<Message, { type: 'request' }> => m.type === 'request');
/** The cancels `p` was sent. */
export const cancels = (p: FakePeer) =>
  p.sent.filter((m): m is Extract<Message, { type: 'cancel' }> => m.type === 'cancel');
