import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import { createRealRuntime } from '../../src/runtime/real.js';
import { tcpDialer } from '../support/tcp-dialer.js';

const runtime = createRealRuntime();

/**
 * A peer on 127.0.0.1 that takes every connection, notes how many bytes the dialler sent
 * within 300 ms, and closes it: to an MSE key exchange it looks like a peer refusing
 * encryption (or a full one), to a plaintext dial like one that requires encryption.
 */
async function closingPeer(t: TestContext) {
  const sent: number[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    const index = sent.push(0) - 1;
    socket.on('data', (d) => {
      sent[index]! += d.length;
    });
    socket.on('error', () => undefined);
    setTimeout(() => socket.destroy(), 300);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return { port: address.port, sent };
}

test('a peer that refused encryption is offered it again once a plaintext dial closes early, by turns', async (t) => {
  const peer = await closingPeer(t);
  const { dialer, connections } = tcpDialer(t, runtime, 'prefer');
  const request = {
    host: '127.0.0.1',
    port: peer.port,
    infoHash: Buffer.alloc(20, 9),
    timeoutMs: 5000,
  };
  const dial = async () => {
    // Back-off between dials of one peer is the connection manager's business, not this test's.
    connections.allowRedial(request.host, request.port, request.infoHash.toString('hex'));
    const conn = await dialer.dial(request);
    conn.stream.destroy();
  };

  await dial();
  assert.equal(peer.sent.length, 2, 'the key exchange was closed, then a plaintext dial');
  assert.ok(peer.sent[0]! >= 96, 'the first connection opened with an MSE public key');
  assert.equal(dialer.counts.encryptionRefused, 1);

  // The plaintext connection closed before its handshake (the peer set reports that): the
  // next attempt offers encryption again, and only that (one connection per attempt).
  dialer.closedEarly('127.0.0.1', peer.port, 'tcp');
  await assert.rejects(dial(), { name: 'MseHandshakeError' });
  assert.equal(peer.sent.length, 3);
  assert.ok(peer.sent[2]! >= 96, 'encryption was offered again, not plaintext for good');

  // Its key exchange closed again: the attempt after is plaintext, and stays so while it works.
  for (const n of [4, 5]) {
    await dial();
    assert.equal(peer.sent.length, n, 'one connection, no key exchange first');
  }
  await new Promise((resolve) => setTimeout(resolve, 350));
  assert.deepEqual(peer.sent.slice(3), [0, 0], 'nothing sent by the dialler in plaintext');
});
