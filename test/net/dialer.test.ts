import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import { createRealRuntime } from '../../src/runtime/real.js';
import type { ByteStream } from '../../src/runtime/runtime.js';
import { SeededRandom } from '../../src/runtime/seeded-random.js';
import { DH_KEY_BYTES, MseKeyPair } from '../../src/transport/mse/dh.js';
import { mseAccept } from '../../src/transport/mse/handshake.js';
import { SkeyTable } from '../../src/transport/mse/protocol.js';
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

/**
 * A peer that fails a key exchange as libtorrent 1.1–2.0 do when S begins with a zero byte:
 * on its first connection it answers Ya with a key chosen to give such an S and closes on the
 * request that follows; later connections complete the handshake with `mseAccept`.
 */
async function unpaddedSecretPeer(t: TestContext, infoHash: Buffer) {
  const served = new SkeyTable();
  served.add(infoHash);
  const connections: { sent: number; encrypted?: boolean }[] = [];
  const sockets: ByteStream[] = [];
  const server = await runtime.tcp.listen({ host: '127.0.0.1', port: 0 }, (socket) => {
    sockets.push(socket);
    const seen = { sent: 0 } as { sent: number; encrypted?: boolean };
    const first = connections.push(seen) === 1;
    let ya = Buffer.alloc(0);
    socket.onData((chunk) => {
      seen.sent += chunk.length;
      if (!first) {
        if (ya.length > 0) return;
        ya = Buffer.from(chunk);
        mseAccept(socket, chunk, {
          lookupSkey: served.lookup,
          allow: 'both',
          random: runtime.random,
          timers: runtime.timers,
        }).then(
          (mse) => {
            seen.encrypted = true;
            mse.stream.write(Buffer.from('ok'));
          },
          () => undefined,
        );
        return;
      }
      if (ya.length >= DH_KEY_BYTES) {
        socket.destroy(); // the request arrived: "invalid info-hash"
        return;
      }
      ya = Buffer.concat([ya, chunk]);
      if (ya.length < DH_KEY_BYTES) return;
      for (let seed = 1; ; seed++) {
        const keys = new MseKeyPair(new SeededRandom(seed));
        if (keys.sharedSecret(ya.subarray(0, DH_KEY_BYTES))[0] !== 0) continue;
        socket.write(keys.publicKey);
        break;
      }
    });
  });
  t.after(() => {
    for (const s of sockets) s.destroy();
    void server.close();
  });
  return { port: server.address().port, connections };
}

test('a key exchange that trips an old libtorrent is dialled again at once, encrypted', async (t) => {
  const infoHash = Buffer.alloc(20, 7);
  const peer = await unpaddedSecretPeer(t, infoHash);
  const { dialer } = tcpDialer(t, runtime, 'prefer');
  const conn = await dialer.dial({ host: '127.0.0.1', port: peer.port, infoHash, timeoutMs: 5000 });
  t.after(() => conn.stream.destroy());
  const greeting = await new Promise<Buffer>((resolve) =>
    conn.stream.onData((d) => resolve(Buffer.from(d))),
  );
  assert.equal(greeting.toString(), 'ok', 'the second connection carries the payload');
  assert.equal(peer.connections.length, 2, 'one failed key exchange, one new connection');
  assert.ok(
    peer.connections.every((c) => c.sent >= DH_KEY_BYTES),
    'both opened with MSE',
  );
  assert.equal(peer.connections[1]!.encrypted, true);
  assert.deepEqual(dialer.counts, {
    encrypted: 1,
    plaintext: 0,
    encryptionRefused: 0,
    newKeyRedials: 1,
  });
});
