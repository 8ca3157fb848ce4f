import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PeerExchange } from '../../src/swarm/peer-exchange.js';
import type { PeerSession } from '../../src/swarm/peer-session.js';
import type { Message } from '../../src/wire/messages.js';
import { decodePex } from '../../src/wire/ut-pex.js';

/** The parts of a session peer exchange reads, and what it sent. */
interface FakePeer {
  host: string;
  outgoing: boolean;
  closed: boolean;
  handshake: object;
  stream: { remotePort: number };
  extended: { m: Map<string, number>; p?: number };
  wire: { sendMessage(m: Message): void };
  sent: string[][];
}

function fakePeer(host: string, outgoing: boolean, port: number | undefined): FakePeer {
  const peer: FakePeer = {
    host,
    outgoing,
    closed: false,
    handshake: {},
    stream: { remotePort: outgoing ? (port ?? 0) : 50_000 },
    extended: { m: new Map([['ut_pex', 1]]), ...(port !== undefined && !outgoing && { p: port }) },
    wire: {
      sendMessage(m: Message) {
        if (m.type !== 'extended') return;
        const pex = decodePex(m.payload);
        peer.sent.push([
          ...pex.added.map((a) => `+${a.host}:${a.port}`),
          ...pex.dropped.map((d) => `-${d.host}:${d.port}`),
        ]);
      },
    },
    sent: [],
  };
  return peer;
}

test('peer exchange tells each peer the others where they listen, and follows a new port', () => {
  let now = 0;
  const pex = new PeerExchange(
    () => {},
    () => now,
  );
  const a = fakePeer('10.0.0.1', true, 6881);
  const b = fakePeer('10.0.0.2', false, 7000);
  const c = fakePeer('10.0.0.3', false, undefined); // its listen port is not known yet
  const sessions = () => [a, b, c] as unknown as PeerSession[];
  pex.onTick(sessions());
  assert.deepEqual(a.sent, [['+10.0.0.2:7000']]);
  assert.deepEqual(b.sent, [['+10.0.0.1:6881']]);
  assert.deepEqual(c.sent, [['+10.0.0.1:6881', '+10.0.0.2:7000']]);

  // Nobody is due again within the minute.
  now = 30_000;
  pex.onTick(sessions());
  assert.equal(a.sent.length + b.sent.length + c.sent.length, 3);

  // C says where it listens and B moves: the next round names the new addresses.
  c.extended.p = 7001;
  b.extended.p = 7002;
  now = 61_000;
  pex.onTick(sessions());
  assert.deepEqual(a.sent[1], ['+10.0.0.2:7002', '+10.0.0.3:7001', '-10.0.0.2:7000']);
  assert.deepEqual(c.sent[1], ['+10.0.0.2:7002', '-10.0.0.2:7000']);
});

test('a peer told everyone hears nothing more until the peers change, then hears the change', () => {
  let now = 0;
  const pex = new PeerExchange(
    () => {},
    () => now,
  );
  const a = fakePeer('10.0.0.1', true, 6881);
  const b = fakePeer('10.0.0.2', true, 6882);
  const c = fakePeer('10.0.0.3', true, 6883);
  let peers = [a, b];
  const tickAt = (ms: number) => {
    now = ms;
    pex.onTick(peers as unknown as PeerSession[]);
  };
  tickAt(0);
  assert.deepEqual(a.sent, [['+10.0.0.2:6882']]);
  // Five quiet minutes, ticked every second: no news, so no message.
  for (let t = 1_000; t <= 300_000; t += 1_000) tickAt(t);
  assert.equal(a.sent.length, 1);
  // B leaves and C comes: A hears both at its next check, once.
  peers = [a, c];
  for (let t = 301_000; t <= 400_000; t += 1_000) tickAt(t);
  assert.deepEqual(a.sent, [['+10.0.0.2:6882'], ['+10.0.0.3:6883', '-10.0.0.2:6882']]);
  // The same peers in another order are no news either.
  peers = [c, a];
  for (let t = 401_000; t <= 500_000; t += 1_000) tickAt(t);
  assert.equal(a.sent.length, 2);
});
