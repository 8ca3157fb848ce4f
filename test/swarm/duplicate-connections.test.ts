import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TransportKind } from '../../src/net/connection.js';
import { type ConnectionSide, keepsNewConnection } from '../../src/swarm/peer-protocol.js';

const side = (outgoing: boolean, transport: TransportKind): ConnectionSide => ({
  outgoing,
  connection: { transport },
});
const LOW = Buffer.alloc(20, 1);
const HIGH = Buffer.alloc(20, 2);

/**
 * Both ends look at the same pair of connections from opposite directions: for each, the
 * connection one side keeps must be the one the other side keeps, whichever arrived second.
 */
function agree(a: { ours: ConnectionSide; theirs: ConnectionSide }): ConnectionSide {
  // Side A (id LOW) sees `fresh` second; side B (id HIGH) sees the mirror image.
  const mirror = (c: ConnectionSide) => side(!c.outgoing, c.connection.transport);
  for (const [fresh, other] of [
    [a.ours, a.theirs],
    [a.theirs, a.ours],
  ] as const) {
    const keptByA = keepsNewConnection(fresh, other, LOW, HIGH) ? fresh : other;
    for (const [bFresh, bOther] of [
      [mirror(a.ours), mirror(a.theirs)],
      [mirror(a.theirs), mirror(a.ours)],
    ] as const) {
      const keptByB = keepsNewConnection(bFresh, bOther, HIGH, LOW) ? bFresh : bOther;
      assert.equal(mirror(keptByB).outgoing, keptByA.outgoing, 'both ends keep one connection');
      assert.equal(keptByB.connection.transport, keptByA.connection.transport);
    }
  }
  return keepsNewConnection(a.ours, a.theirs, LOW, HIGH) ? a.ours : a.theirs;
}

test('two connections to one peer: both ends keep the TCP one over uTP, whatever the order', () => {
  // We reached the peer over uTP (its TCP port was not up yet); it dialled us over TCP.
  const kept = agree({ ours: side(true, 'utp'), theirs: side(false, 'tcp') });
  assert.equal(kept.connection.transport, 'tcp');
  const kept2 = agree({ ours: side(true, 'tcp'), theirs: side(false, 'utp') });
  assert.equal(kept2.connection.transport, 'tcp');
});

test('two connections of one transport: both ends keep the one the lower id opened', () => {
  const kept = agree({ ours: side(true, 'tcp'), theirs: side(false, 'tcp') });
  assert.equal(kept.outgoing, true, 'we have the lower id: our dial stays');
  assert.equal(agree({ ours: side(true, 'utp'), theirs: side(false, 'utp') }).outgoing, true);
});
