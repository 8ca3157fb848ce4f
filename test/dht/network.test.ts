import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { keysFromSeed } from '../../src/dht/bep44.js';
import { Dht, type DhtOptions } from '../../src/dht/dht.js';
import { decodeKrpc, encodeQuery } from '../../src/dht/krpc.js';
import { idMatchesIp } from '../../src/dht/node-id.js';
import { EgressPolicy } from '../../src/runtime/egress.js';
import { createRealRuntime } from '../../src/runtime/real.js';
import { tempDir } from '../support/tmp.js';

const runtime = createRealRuntime(new EgressPolicy('loopback'));

/** Starts `n` DHT nodes on their own loopback addresses, bootstrapped from the first. */
async function network(
  t: TestContext,
  n: number,
  options: Partial<DhtOptions> = {},
): Promise<Dht[]> {
  const nodes: Dht[] = [];
  for (let i = 0; i < n; i++) {
    const host = `127.0.1.${i + 1}`;
    const bootstrap = i === 0 ? [] : [{ host: '127.0.1.1', port: nodes[0]!.port }];
    nodes.push(
      await Dht.start(runtime, { host, port: 0, bootstrap, queryTimeoutMs: 1000, ...options }),
    );
  }
  t.after(() => Promise.all(nodes.map((d) => d.stop())));
  for (const d of nodes.slice(1)) await d.bootstrap();
  await Promise.all(nodes.map((d) => d.bootstrap()));
  return nodes;
}

test('a 60-node DHT: peers announced at one node are found from any other; items round-trip', async (t) => {
  const nodes = await network(t, 60);
  assert.ok(
    nodes.every((d) => d.table.size >= 4),
    'every node knows others',
  );
  assert.ok(
    nodes.reduce((n, d) => n + d.table.size, 0) / nodes.length >= 8,
    'tables are well filled',
  );
  const infoHash = Buffer.alloc(20, 0x42);
  const stores = new Set<Dht>();
  for (const d of nodes) d.on('announce', () => stores.add(d));
  const announced = await nodes[7]!.announce(infoHash, 51413);
  // BEP 5's 8 closest, then up to 8 more the lookup met on its way (announceWidth 16).
  const width = announced.closest.length;
  assert.ok(width >= 8 && width <= 16, `announced to ${width}`);
  assert.equal(stores.size, width, 'every node announced to took it');
  await nodes[23]!.announce(infoHash, 51414, { impliedPort: true });
  for (const asker of [nodes[3]!, nodes[59]!]) {
    const found = await asker.getPeers(infoHash);
    const ports = found.peers.map((p) => `${p.host}:${p.port}`).sort();
    assert.ok(ports.includes('127.0.1.8:51413'), `found ${ports}`);
    assert.ok(ports.includes(`127.0.1.24:${nodes[23]!.port}`), 'implied_port uses the sender port');
    assert.ok(found.hops >= 1 && found.hops <= 6, `hops ${found.hops}`);
  }
  const { target, stored } = await nodes[5]!.putImmutable('hello shoal');
  assert.ok(stored >= 4, `stored at ${stored} nodes`);
  const got = await nodes[40]!.getItem(target);
  assert.equal(got?.v.toString(), '11:hello shoal');
  const keys = keysFromSeed(Buffer.alloc(32, 9));
  const salt = Buffer.from('room');
  const first = await nodes[11]!.putMutable(keys, { msg: 'one' }, { salt });
  const second = await nodes[12]!.putMutable(keys, { msg: 'two' }, { salt });
  assert.equal(second.seq, first.seq + 1);
  const item = await nodes[50]!.getItem(second.target, salt);
  assert.equal(item?.seq, second.seq);
  assert.match(item!.v.toString(), /two/);
});

test('a flooding address is rate-limited while others are still answered; no amplification', async (t) => {
  const [node] = await network(t, 1, { ratePerSecond: 20, rateBurst: 20 });
  const port = node!.port;
  const flood = createSocket('udp4');
  const honest = createSocket('udp4');
  t.after(() => {
    flood.close();
    honest.close();
  });
  await new Promise<void>((r) => flood.bind(0, '127.0.2.1', r));
  await new Promise<void>((r) => honest.bind(0, '127.0.2.2', r));
  let floodReplies = 0;
  let floodBytesIn = 0;
  flood.on('message', (m) => {
    floodReplies++;
    floodBytesIn += m.length;
  });
  const ping = (i: number) =>
    encodeQuery(Buffer.from([i >> 8, i & 255]), 'ping', { id: Buffer.alloc(20, 1) }, false);
  let floodBytesOut = 0;
  for (let i = 0; i < 500; i++) {
    const p = ping(i);
    floodBytesOut += p.length;
    flood.send(p, port, '127.0.1.1');
    // Pace the flood a little: node and attacker share this process, and an unread socket
    // buffer would drop packets before the rate limiter ever saw them.
    if (i % 50 === 49) await new Promise((r) => setTimeout(r, 5));
  }
  const answered = new Promise<boolean>((resolve) => {
    honest.once('message', (m) => resolve(decodeKrpc(m).y === 'r'));
    setTimeout(() => resolve(false), 2000);
  });
  honest.send(ping(1), port, '127.0.1.1');
  assert.equal(await answered, true, 'the honest address is answered');
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(floodReplies <= 25, `flood got ${floodReplies} replies`);
  assert.ok(node!.counters.rateLimited >= 400);
  assert.ok(floodBytesIn < floodBytesOut, 'replies never exceed what the flood sent');
});

test('the node id and routing table survive a restart', async (t) => {
  const dir = await tempDir(t);
  const statePath = join(dir, 'dht.state');
  const others = await network(t, 12);
  const a = await Dht.start(runtime, {
    host: '127.0.1.200',
    port: 0,
    bootstrap: [{ host: '127.0.1.1', port: others[0]!.port }],
    statePath,
  });
  await a.bootstrap();
  const id = a.id;
  const size = a.table.size;
  assert.ok(size >= 4, `${size} nodes`);
  await a.stop();
  const b = await Dht.start(runtime, { host: '127.0.1.200', port: 0, statePath });
  t.after(() => b.stop());
  assert.deepEqual(b.id, id);
  assert.equal(b.table.size, size);
});

test('an external address from the router is taken at once, with a BEP 42 id to match', async (t) => {
  const others = await network(t, 3);
  const a = await Dht.start(runtime, {
    host: '127.0.1.201',
    port: 0,
    bootstrap: [{ host: '127.0.1.1', port: others[0]!.port }],
  });
  t.after(() => a.stop());
  await a.bootstrap();
  const known = a.table.size;
  assert.ok(!idMatchesIp(a.id, '100.128.0.1'), 'a random id first');
  a.useExternalIp('100.128.0.1');
  assert.equal(a.externalIp, '100.128.0.1');
  assert.ok(idMatchesIp(a.id, '100.128.0.1'), 'then one derived from the address');
  assert.equal(a.table.size, known, 'the routing table is kept under the new id');
});
