/**
 * BEP 44 values may be up to 1000 bytes, and a node that asks for one is usually new to the
 * nodes holding it (every `shoal dht get` starts a fresh node). Holders still cap what they send
 * to an unverified address, but a stored value goes out whole: only the node lists are left off.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { type TestContext, test } from 'node:test';
import { decode, encode } from '../../src/codec/bencode.js';
import { keysFromSeed } from '../../src/dht/bep44.js';
import { Dht } from '../../src/dht/dht.js';
import { decodeKrpc, encodeQuery, MAX_KRPC_BYTES } from '../../src/dht/krpc.js';
import { EgressPolicy } from '../../src/runtime/egress.js';
import { createRealRuntime } from '../../src/runtime/real.js';

const runtime = createRealRuntime(new EgressPolicy('loopback'));

async function network(t: TestContext, n: number): Promise<Dht[]> {
  const nodes: Dht[] = [];
  t.after(() => Promise.all(nodes.map((d) => d.stop())));
  for (let i = 0; i < n; i++) {
    const bootstrap = i === 0 ? [] : [{ host: '127.0.4.1', port: nodes[0]!.port }];
    nodes.push(
      await Dht.start(runtime, {
        host: `127.0.4.${i + 1}`,
        port: 0,
        bootstrap,
        queryTimeoutMs: 1000,
      }),
    );
  }
  await Promise.all(nodes.map((d) => d.bootstrap()));
  return nodes;
}

test('items near the 1000-byte limit reach a node the holders have never verified', async (t) => {
  const nodes = await network(t, 20);
  const text = 'immutable '.padEnd(990, '~');
  const immutable = await nodes[3]!.putImmutable(text);
  assert.ok(encode(text).length > 990 && immutable.stored >= 4);
  const keys = keysFromSeed(Buffer.alloc(32, 7));
  const salt = Buffer.from('big');
  const value = 'mutable '.padEnd(990, '~');
  const mutable = await nodes[4]!.putMutable(keys, value, { salt });

  for (const [i, check] of [
    async (d: Dht) => {
      const item = await d.getItem(immutable.target);
      assert.equal(Buffer.from(decode(item!.v) as Uint8Array).toString(), text);
    },
    async (d: Dht) => {
      const item = await d.getItem(mutable.target, salt);
      assert.equal(item?.seq, mutable.seq);
      assert.equal(Buffer.from(decode(item.v) as Uint8Array).toString(), value);
    },
  ].entries()) {
    const fresh = await Dht.start(runtime, {
      host: `127.0.4.${200 + i}`,
      port: 0,
      bootstrap: [{ host: '127.0.4.1', port: nodes[0]!.port }],
      queryTimeoutMs: 1000,
    });
    t.after(() => fresh.stop());
    await fresh.bootstrap();
    await check(fresh);
  }
});

test('to an unverified address a stored value goes out whole, without node lists', async (t) => {
  const nodes = await network(t, 12);
  const text = 'x'.repeat(900);
  const { target } = await nodes[1]!.putImmutable(text);
  const holder = nodes.find((d) => d.stats().storedItems > 0 && d !== nodes[1])!;
  const socket = createSocket('udp4');
  t.after(() => socket.close());
  await new Promise<void>((r) => socket.bind(0, '127.0.4.250', r));
  let sent = 0;
  const ask = (q: string, a: Record<string, Buffer>) =>
    new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${q}`)), 2000);
      socket.once('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      const packet = encodeQuery(Buffer.from('aa'), q, { id: Buffer.alloc(20, 3), ...a }, false);
      sent = packet.length;
      socket.send(packet, holder.port, holder.options.host);
    });
  const reply = await ask('get', { target });
  assert.ok(reply.length > 4 * sent, 'the value is worth more than the usual cap');
  assert.ok(reply.length <= MAX_KRPC_BYTES);
  const msg = decodeKrpc(reply);
  assert.equal(msg.y, 'r');
  const r = msg.y === 'r' ? msg.r : new Map();
  assert.equal(Buffer.from(r.get('v') as Uint8Array).toString(), text);
  assert.equal(r.get('nodes'), undefined, 'no node lists to an unverified address');
  // Without a stored value the usual cap holds: a small query gets a small answer.
  const miss = await ask('get', { target: Buffer.alloc(20, 9) });
  assert.ok(miss.length <= 4 * sent, `${miss.length} bytes for ${sent}`);
});
