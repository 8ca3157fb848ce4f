import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SearchEngine } from '../../src/apps/search/search-engine.js';
import type { Identity } from '../../src/crypto/identity.js';
import { contactOf, type PeerContact } from '../../src/overlay/contact.js';
import { MuxLinks } from '../../src/overlay/mux-links.js';
import { Overlay } from '../../src/overlay/overlay.js';
import { SeededRandom } from '../../src/runtime/seeded-random.js';
import { Mux } from '../../src/secure/mux.js';
import { secureAccept, secureConnect } from '../../src/secure/secure-stream.js';
import { realTimers } from '../secure/helpers.js';
import { type PairedStream, streamPair } from '../support/stream-pair.js';
import { identity } from './helpers.js';

const clock = { now: () => performance.now(), wallTime: () => Date.now() };
const until = async (check: () => boolean, ms = 5000) => {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
};

/** Nodes whose links dial each other over in-memory streams with real Noise handshakes. */
function network(n: number, streams: PairedStream[] = []) {
  const random = new SeededRandom(3);
  const nodes: { identity: Identity; links: MuxLinks; dials: number }[] = [];
  const byId = new Map<string, (typeof nodes)[number]>();
  for (let i = 0; i < n; i++) {
    const id = identity(100 + i);
    const node = {
      identity: id,
      dials: 0,
      links: new MuxLinks(
        {
          connect: async (peer: PeerContact) => {
            node.dials++;
            const target = byId.get(peer.id);
            if (target === undefined) throw new Error('no such node');
            const [a, b] = streamPair();
            streams.push(a, b);
            const [out, inc] = await Promise.all([
              secureConnect(a, { identity: id, random, timers: realTimers, remote: peer.key }),
              secureAccept(b, { identity: target.identity, random, timers: realTimers }),
            ]);
            target.links.attach(id.publicKey, new Mux(inc));
            return new Mux(out);
          },
        },
        { clock, timers: realTimers },
        contactOf(id.publicKey),
        { keepaliveMs: 200, pingTimeoutMs: 200, idleMs: 400 },
      ),
    };
    nodes.push(node);
    byId.set(node.links.self.id, node);
  }
  return nodes;
}

test('links carry typed messages of several protocols over one secure connection each way', async (t) => {
  const [a, b] = network(2) as [ReturnType<typeof network>[0], ReturnType<typeof network>[0]];
  t.after(() => {
    a.links.close();
    b.links.close();
  });
  const got: string[] = [];
  for (const protocol of ['p/one', 'p/two']) {
    b.links.listen(protocol, {
      message: (from, type, payload) =>
        got.push(`${protocol} ${type} ${payload.toString()} ${from.id === a.links.self.id}`),
      down: () => {},
    });
    a.links.listen(protocol, { message: () => {}, down: () => {} });
  }
  a.links.send(b.links.self, 'p/one', 1, Buffer.from('x'));
  a.links.send(b.links.self, 'p/two', 2, Buffer.from('y'));
  a.links.send(b.links.self, 'p/one', 3, Buffer.from('z'));
  assert.ok(await until(() => got.length === 3));
  assert.deepEqual(got, ['p/one 1 x true', 'p/two 2 y true', 'p/one 3 z true']);
  assert.equal(a.dials, 1, 'one connection for every protocol');
  assert.ok(b.links.connected(a.links.self.id), 'the accepted connection is known to b');
});

test('an unheld connection closes when idle; a penalised peer is refused', async (t) => {
  const [a, b] = network(2) as [ReturnType<typeof network>[0], ReturnType<typeof network>[0]];
  t.after(() => {
    a.links.close();
    b.links.close();
  });
  const downs: string[] = [];
  let received = 0;
  a.links.listen('p', {
    message: () => {},
    down: (id, why) => downs.push(`${id === b.links.self.id} ${why}`),
  });
  b.links.listen('p', { message: () => received++, down: () => {} });
  a.links.send(b.links.self, 'p', 1, Buffer.from('hi'));
  assert.ok(await until(() => received === 1));
  assert.ok(await until(() => !a.links.connected(b.links.self.id), 3000), 'idle close');
  assert.deepEqual(downs, ['true lost']);
  b.links.penalise(a.links.self.id, 'test');
  a.links.send(b.links.self, 'p', 1, Buffer.from('again'));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(received, 1, 'nothing from a banned peer');
});

test('five nodes over secure channels: an overlay forms and a search finds a shared file', async (t) => {
  const nodes = network(5);
  const random = new SeededRandom(8);
  const stack = nodes.map((n) => {
    const env = { clock, timers: realTimers, random, identity: n.identity };
    const overlay = new Overlay(n.links, env);
    const search = new SearchEngine(n.links, overlay, env, { strategy: 'flood' });
    return { overlay, search };
  });
  t.after(() => {
    for (const s of stack) {
      s.search.stop();
      s.overlay.stop();
    }
    for (const n of nodes) n.links.close();
  });
  for (let i = 1; i < 5; i++) stack[i]!.overlay.join([nodes[0]!.links.self]);
  assert.ok(
    await until(() => stack.every((s) => s.overlay.active().length >= 2)),
    `views: ${stack.map((s) => s.overlay.active().length)}`,
  );
  stack[3]!.search.share({
    infoHashV1: Buffer.alloc(20, 7),
    name: 'Field Recordings Vol 3.flac',
    size: 123_456,
    files: ['Field Recordings Vol 3.flac'],
  });
  const session = stack[1]!.search.search('field recordings', { timeoutMs: 1500 });
  const results = [];
  for await (const r of session) results.push(r);
  assert.equal(results.length, 1);
  assert.equal(results[0]!.name, 'Field Recordings Vol 3.flac');
  assert.equal(results[0]!.sources, 1);
  assert.match(results[0]!.magnet, /^magnet:\?xt=urn:btih:0707070707/);
});

test('a held connection whose peer stops answering is closed after the keepalive', async (t) => {
  const streams: PairedStream[] = [];
  const [a, b] = network(2, streams) as [
    ReturnType<typeof network>[0],
    ReturnType<typeof network>[0],
  ];
  t.after(() => {
    a.links.close();
    b.links.close();
  });
  const downs: string[] = [];
  a.links.listen('p', { message: () => {}, down: (_id, why) => downs.push(why) });
  b.links.listen('p', { message: () => {}, down: () => {} });
  a.links.send(b.links.self, 'p', 1, Buffer.from('hi'));
  assert.ok(await until(() => b.links.connected(a.links.self.id)));
  a.links.hold(b.links.self.id, 'test');
  b.links.hold(a.links.self.id, 'test');
  await new Promise((r) => setTimeout(r, 600));
  assert.ok(a.links.connected(b.links.self.id), 'pings answered: still connected');
  streams[1]!.pause(); // b hears nothing more, so answers no ping
  assert.ok(await until(() => !a.links.connected(b.links.self.id), 3000), 'closed');
  assert.deepEqual(downs, ['lost']);
});
