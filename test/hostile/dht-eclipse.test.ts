/**
 * Hostile class: one address tries to eclipse a DHT node's view of an info-hash or of a
 * region of the id space. Bounds: however many ports one IP announces for an info-hash, it
 * holds at most `maxPeersPerIp` (4) places in that info-hash's list and honest peers stay;
 * however many node ids and ports one IP runs next to a target, at most 2 of the 8 closest nodes a
 * node hands out (find_node, get_peers) come from it. Both are driven over real KRPC on
 * loopback (private and loopback addresses are exempt from BEP 42 ids, so the attacker may
 * choose its ids freely, as it may not on a public address).
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { type TestContext, test } from 'node:test';
import type { BDict, Encodable } from '../../src/codec/bencode.js';
import { decodeCompactNodes, decodeCompactPeers } from '../../src/codec/compact.js';
import { Dht } from '../../src/dht/dht.js';
import { decodeKrpc, encodeQuery } from '../../src/dht/krpc.js';
import { DEFAULT_PEER_DIVERSITY } from '../../src/dht/peer-store.js';
import { EgressPolicy } from '../../src/runtime/egress.js';
import { createRealRuntime } from '../../src/runtime/real.js';

const runtime = createRealRuntime(new EgressPolicy('loopback'));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A bare KRPC client on its own loopback address: sends queries, matches replies by id. */
class Krpc {
  private next = 0;
  private readonly waiting = new Map<string, (r: BDict) => void>();

  private constructor(readonly socket: Socket) {
    socket.on('message', (data) => {
      const msg = decodeKrpc(data);
      if (msg.y !== 'r') return;
      const key = Buffer.from(msg.t).toString('hex');
      this.waiting.get(key)?.(msg.r);
      this.waiting.delete(key);
    });
  }

  static async open(t: TestContext, host: string): Promise<Krpc> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, host, resolve));
    t.after(() => socket.close());
    return new Krpc(socket);
  }

  /** Sends a query; resolves with the reply, or undefined after a second. */
  ask(port: number, q: string, a: Record<string, Encodable>): Promise<BDict | undefined> {
    const n = this.next++;
    const t = Buffer.from([(n >> 8) & 255, n & 255]);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 1000);
      this.waiting.set(t.toString('hex'), (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.socket.send(encodeQuery(t, q, a, false), port, '127.0.0.1');
    });
  }
}

/** A DHT node answering on loopback; rate limits are lifted so only the bound under test acts. */
async function victim(t: TestContext): Promise<Dht> {
  const dht = await Dht.start(runtime, {
    host: '127.0.0.1',
    port: 0,
    ratePerSecond: 100_000,
    rateBurst: 100_000,
  });
  t.after(() => dht.stop());
  return dht;
}

test('an honest peer survives 400 announces from one address for its info-hash', async (t) => {
  const dht = await victim(t);
  const infoHash = Buffer.alloc(20, 0x5a);
  const announce = async (client: Krpc, id: Buffer, port: number) => {
    const r = await client.ask(dht.port, 'get_peers', { id, info_hash: infoHash });
    const token = r?.get('token');
    assert.ok(token instanceof Uint8Array, 'get_peers gives a token');
    return client.ask(dht.port, 'announce_peer', { id, info_hash: infoHash, port, token });
  };
  const honest = await Krpc.open(t, '127.0.9.2');
  assert.ok(await announce(honest, Buffer.alloc(20, 2), 6000), 'the honest announce is taken');
  const attacker = await Krpc.open(t, '127.0.9.66');
  const attackerId = Buffer.alloc(20, 0x66);
  let accepted = 0;
  for (let batch = 0; batch < 400; batch += 50) {
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => announce(attacker, attackerId, 10_000 + batch + i)),
    );
    accepted += replies.filter((r) => r !== undefined).length;
  }
  assert.ok(accepted >= 350, `the victim answered ${accepted} of the attacker's 400 announces`);

  const asker = await Krpc.open(t, '127.0.9.3');
  const r = await asker.ask(dht.port, 'get_peers', {
    id: Buffer.alloc(20, 3),
    info_hash: infoHash,
  });
  const values = r?.get('values');
  assert.ok(Array.isArray(values), 'the info-hash has peers');
  const peers = values.flatMap((v) =>
    v instanceof Uint8Array ? decodeCompactPeers(v, 4).map((p) => `${p.host}:${p.port}`) : [],
  );
  const fromAttacker = peers.filter((p) => p.startsWith('127.0.9.66:')).length;
  console.log(`peers handed out: ${peers.length}, from the attacker's address: ${fromAttacker}`);
  assert.ok(
    peers.includes('127.0.9.2:6000'),
    `the honest peer is still listed (${peers.length} peers)`,
  );
  assert.ok(
    fromAttacker <= DEFAULT_PEER_DIVERSITY.maxPeersPerIp,
    `${fromAttacker} entries from the attacker's address`,
  );
});

test('120 node ids from one address next to a target get at most 2 of the 8 closest places', async (t) => {
  const dht = await victim(t);
  const target = Buffer.alloc(20, 0xc3);
  // Honest nodes, each on its own address, join through the victim (they enter its table).
  const honest: Dht[] = [];
  for (let i = 0; i < 12; i++) {
    const node = await Dht.start(runtime, {
      host: `127.0.10.${i + 10}`,
      port: 0,
      bootstrap: [{ host: '127.0.0.1', port: dht.port }],
      queryTimeoutMs: 500,
    });
    honest.push(node);
  }
  t.after(() => Promise.all(honest.map((d) => d.stop())));
  await Promise.all(honest.map((d) => d.bootstrap()));

  // 120 ids sharing 144 bits with the target, from 12 ports of one address.
  const ports = await Promise.all(Array.from({ length: 12 }, () => Krpc.open(t, '127.0.10.66')));
  let answered = 0;
  for (let i = 0; i < 120; i++) {
    const id = Buffer.from(target);
    id.writeUInt16BE(i + 1, 18);
    if (await ports[i % ports.length]!.ask(dht.port, 'ping', { id })) answered++;
    if (i % 20 === 19) await sleep(5);
  }
  assert.ok(answered >= 100, `the victim answered ${answered} of 120 pings`);

  const asker = await Krpc.open(t, '127.0.10.3');
  for (const [q, args] of [
    ['find_node', { target }],
    ['get_peers', { info_hash: target }],
  ] as const) {
    const r = await asker.ask(dht.port, q, { id: Buffer.alloc(20, 3), ...args });
    const nodes = r?.get('nodes');
    assert.ok(nodes instanceof Uint8Array, `${q} names nodes`);
    const closest = decodeCompactNodes(nodes, 4);
    const fromAttacker = closest.filter((n) => n.host === '127.0.10.66').length;
    console.log(`${q}: ${closest.length} nodes handed out, ${fromAttacker} from the attacker`);
    assert.equal(closest.length, 8, `${q} hands out 8 nodes`);
    assert.ok(fromAttacker <= 2, `${q}: ${fromAttacker} of 8 from one address`);
  }
});
