import assert from 'node:assert/strict';
import { chmod, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { IDENTITY_FILE } from '../../src/node/identity-store.js';
import type { Node } from '../../src/node/node.js';
import type { AddressRecord } from '../../src/peers/address-record.js';
import { RELAY_PROTOCOL, RELAYED_PROTOCOL } from '../../src/peers/relay.js';
import { Channel } from '../../src/secure/channel.js';
import { startNode } from '../support/nodes.js';
import { tempDir } from '../support/tmp.js';

const at = (node: Node) => ({ host: '127.0.0.1', port: node.port });

/** Waits until `check` holds, polling; fails after `timeoutMs`. */
async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Makes `node` register with `rendezvous` as if it were behind a NAT. */
async function registerWith(node: Node, rendezvous: Node): Promise<void> {
  const peer = await node.peers.connectAddress(at(rendezvous));
  const client = node.peers.rendezvousClient(peer);
  const welcome = await client.welcome;
  assert.equal(welcome.serving, true, 'a reachable node offers to serve as rendezvous');
  client.register();
  await until('registration', () => rendezvous.peers.rendezvous.registeredCount > 0);
}

function recordVia(rendezvous: Node): AddressRecord {
  return { addresses: [], rendezvous: [{ key: rendezvous.key, address: at(rendezvous) }], time: 1 };
}

test('the identity is made once, kept owner-only, and a key file others can read is refused', async (t) => {
  const dataDir = await tempDir(t, 'shoal-id-');
  const first = await startNode(t, { dataDir });
  const key = first.key.toString();
  await first.stop();
  const path = join(dataDir, IDENTITY_FILE);
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.match((await readFile(path, 'latin1')).trim(), /^[0-9a-f]{64}$/);
  const again = await startNode(t, { dataDir });
  assert.equal(again.key.toString(), key, 'the same identity after a restart');
  await again.stop();
  await chmod(path, 0o644);
  await assert.rejects(startNode(t, { dataDir }), { code: 'SECRET_FILE_UNSAFE' });
});

test('connect by key and address: one direct connection, both ways, and a ping', async (t) => {
  const a = await startNode(t);
  const b = await startNode(t);
  const peer = await a.connect(b.key, { addresses: [at(b)], lookup: false });
  assert.equal(peer.kind, 'direct');
  assert.ok(peer.key.equals(b.key));
  const rtt = await peer.ping();
  assert.ok(rtt >= 0 && rtt < 5000);
  await until('b sees a', () => b.peers.table.get(a.key) !== undefined);
  assert.equal(await a.connect(b.key), peer, 'connect again returns the open connection');
  assert.equal(a.peerStats().connections.direct, 1);
});

test('a wrong key at an address is refused (the handshake proves who answers)', async (t) => {
  const a = await startNode(t);
  const b = await startNode(t);
  const c = await startNode(t);
  await assert.rejects(a.connect(c.key, { addresses: [at(b)], lookup: false }), {
    code: 'PEER_UNREACHABLE',
  });
  assert.equal(a.peers.table.size, 0);
});

test('simultaneous connects end with the same single connection on both ends', async (t) => {
  const a = await startNode(t);
  const b = await startNode(t);
  const [fromA, fromB] = await Promise.all([
    a.connect(b.key, { addresses: [at(b)], lookup: false }),
    b.connect(a.key, { addresses: [at(a)], lookup: false }),
  ]);
  await until('one connection each', () => !fromA.isClosed && !fromB.isClosed, 3000);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const keptA = a.peers.table.get(b.key)!;
  const keptB = b.peers.table.get(a.key)!;
  assert.ok(keptA.stream.handshakeHash.equals(keptB.stream.handshakeHash), 'the same connection');
  assert.equal(keptA, fromA, "a's caller got the connection both keep");
  assert.equal(keptB, fromB, "b's caller got the connection both keep");
  assert.ok((await keptA.ping()) >= 0);
});

test('relayed through a rendezvous: end-to-end encrypted, the relay sees no plaintext', async (t) => {
  const relay = await startNode(t);
  const a = await startNode(t);
  const b = await startNode(t);
  await registerWith(b, relay);
  a.peers.reachability.pin('nat', false);
  b.peers.reachability.pin('nat', false);
  // Record what the relay forwards: what it sends on relayed channels.
  const seen: Buffer[] = [];
  const send = Channel.prototype.send;
  Channel.prototype.send = function (this: Channel, type: number, payload: Uint8Array) {
    if (this.protocol === RELAY_PROTOCOL || this.protocol === RELAYED_PROTOCOL)
      seen.push(Buffer.from(payload));
    return send.call(this, type, payload);
  };
  t.after(() => {
    Channel.prototype.send = send;
  });
  const peer = await a.connect(b.key, { record: recordVia(relay) });
  assert.equal(peer.kind, 'relayed');
  assert.ok(peer.via?.equals(relay.key));
  const marker = Buffer.from('a plaintext only the two ends may read');
  const got = new Promise<Buffer>((resolve) =>
    b.peers.handle('test/echo', (request) => {
      request.accept().onMessage((_type, payload) => resolve(Buffer.from(payload)));
    }),
  );
  peer.mux.open('test/echo').send(0, marker);
  assert.deepEqual(await got, marker);
  assert.ok((await peer.ping()) >= 0);
  Channel.prototype.send = send;
  const relayed = Buffer.concat(seen);
  assert.ok(
    relayed.length > 200,
    `the relay carried the handshake and frames (${relayed.length} B)`,
  );
  assert.equal(relayed.indexOf(marker), -1, 'the message is not readable at the relay');
  assert.equal(relayed.indexOf(Buffer.from('test/echo')), -1, 'nor the channel names');
  assert.equal(relayed.indexOf(Buffer.from('shoal/ping')), -1);
  assert.ok(relay.peerStats().relay.bytes > 0);
  const metrics = relay.metrics.exposition();
  assert.match(metrics, /^shoal_relay_circuits 1$/m);
  assert.match(metrics, /^shoal_relay_bytes_total [1-9]\d+$/m);
  assert.match(a.metrics.exposition(), /^shoal_secure_connections\{kind="relayed"\} 1$/m);
  assert.equal(b.peerStats().relayedToUs, 1);
  peer.close();
  await until('the relayed connection to be gone', () => b.peerStats().relayedToUs === 0);
  await until('the circuit to close', () => relay.peerStats().relay.open === 0);
});

test('a reachable dialler is dialled back by a target behind a NAT', async (t) => {
  const relay = await startNode(t);
  const a = await startNode(t);
  const b = await startNode(t);
  await registerWith(b, relay);
  a.peers.reachability.pin('public', undefined, '127.0.0.1');
  b.peers.reachability.pin('nat', false);
  const peer = await a.connect(b.key, { record: recordVia(relay) });
  assert.equal(peer.kind, 'direct');
  assert.equal(peer.initiator, false, 'b dialled a');
});

test('a node that does not relay refuses, and the error says why', async (t) => {
  const relay = await startNode(t, { relay: false });
  const a = await startNode(t);
  const b = await startNode(t);
  await b.peers.connectAddress(at(relay));
  a.peers.reachability.pin('nat', false);
  await assert.rejects(a.connect(b.key, { record: recordVia(relay) }), (error: Error) => {
    assert.equal((error as { code?: string }).code, 'PEER_UNREACHABLE');
    assert.match(error.message, /this node does not relay/);
    return true;
  });
});
