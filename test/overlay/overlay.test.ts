import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeBroadcast } from '../../src/overlay/broadcast-messages.js';
import { contactOf } from '../../src/overlay/contact.js';
import { decodeEnvelope, signEnvelope } from '../../src/overlay/gossip-envelope.js';
import { GOSSIP_PROTOCOL, Overlay } from '../../src/overlay/overlay.js';
import { SIM_EPOCH_MS } from '../../src/sim/simulator.js';
import { componentSizes, identity, world } from './helpers.js';

/** `n` overlay nodes joining one after another (each through a random earlier node). */
async function overlayOf(n: number, seed: number) {
  const w = world(n, seed);
  const overlays: Overlay[] = [];
  const delivered: Map<string, number>[] = [];
  for (let i = 0; i < n; i++) {
    const links = w.net.addNode(contactOf(identity(i).publicKey));
    const overlay = new Overlay(links, { ...w.env(i), identity: identity(i) });
    const got = new Map<string, number>();
    overlay.subscribe('test', (e) => got.set(e.payload.toString(), w.sim.now));
    overlays.push(overlay);
    delivered.push(got);
  }
  for (let i = 1; i < n; i++) {
    w.sim.at(i * 100, () => {
      const via = w.net.node(w.sim.random.int(i)).self;
      overlays[i]!.join([via]);
    });
  }
  await w.sim.run(n * 100 + 120_000);
  return { w, overlays, delivered };
}

function components(overlays: readonly Overlay[], alive: (i: number) => boolean): number[] {
  const ids: string[] = [];
  const edges = new Map<string, Set<string>>();
  overlays.forEach((o, i) => {
    if (!alive(i)) return;
    const me = identity(i).publicKey.toString();
    ids.push(me);
    for (const p of o.active()) {
      edges.set(me, (edges.get(me) ?? new Set()).add(p.id));
      edges.set(p.id, (edges.get(p.id) ?? new Set()).add(me));
    }
  });
  return componentSizes(ids, (id) => [...(edges.get(id) ?? [])]);
}

test('300 nodes form one overlay with full active views; broadcasts reach everyone along a tree', async () => {
  const { w, overlays, delivered } = await overlayOf(300, 11);
  const sizes = overlays.map((o) => o.active().length);
  assert.ok(Math.max(...sizes) <= 5, 'active views never exceed their size');
  const mean = sizes.reduce((a, b) => a + b, 0) / sizes.length;
  assert.ok(mean >= 4.5, `mean active view ${mean}`);
  assert.ok(
    overlays.every((o) => o.passive().length >= 15),
    'passive views filled by shuffles',
  );
  assert.deepEqual(
    components(overlays, () => true),
    [300],
  );

  // Five broadcasts from random nodes, 20 s apart: all deliver each; the tree forms, so later
  // messages travel with few duplicates.
  const duplicates = () => overlays.reduce((s, o) => s + o.broadcast!.counters.duplicates, 0);
  const perMessage: number[] = [];
  for (let k = 0; k < 5; k++) {
    const before = duplicates();
    overlays[w.sim.random.int(300)]!.publish('test', Buffer.from(`m${k}`));
    await w.sim.run(w.sim.now + 20_000);
    perMessage.push(duplicates() - before);
  }
  for (let k = 0; k < 5; k++) {
    const got = delivered.filter((d) => d.has(`m${k}`)).length;
    assert.equal(got, 300, `message ${k} reached ${got}`);
  }
  // The first message floods every link (its duplicates prune); the rest follow the tree.
  assert.ok(perMessage[0]! > 300, `first message: ${perMessage[0]} duplicates`);
  for (const d of perMessage.slice(1)) assert.ok(d < 15, `later messages: ${perMessage}`);
  const eagerEdges = overlays.reduce((s, o) => s + o.broadcast!.eagerPeers().length, 0) / 2;
  assert.ok(eagerEdges <= 310, `eager links ${eagerEdges}: a spanning tree has 299`);
});

test('after 30% of the nodes crash at once the survivors reconnect and broadcasts reach all', async () => {
  const { w, overlays, delivered } = await overlayOf(300, 12);
  const dead = new Set<number>();
  while (dead.size < 90) dead.add(w.sim.random.int(300));
  for (const i of dead) w.net.crash(i);
  await w.sim.run(w.sim.now + 60_000);
  const alive = (i: number) => !dead.has(i);
  const sizes = components(overlays, alive);
  assert.equal(sizes[0], 210, `largest component ${sizes[0]} of 210 (${sizes.join(',')})`);
  const speaker = [...Array(300).keys()].find(alive)!;
  overlays[speaker]!.publish('test', Buffer.from('after'));
  await w.sim.run(w.sim.now + 20_000);
  const got = delivered.filter((d, i) => alive(i) && d.has('after')).length;
  assert.equal(got, 210);
});

test('a forged broadcast is dropped and its sender penalised', async () => {
  const { w, overlays, delivered } = await overlayOf(20, 13);
  const forger = overlays[3]!;
  const victim = forger.active()[0]!;
  const victimIndex = [...Array(20).keys()].find(
    (i) => identity(i).publicKey.toString() === victim.id,
  )!;
  // Node 3 signs a message as itself, then swaps the payload: the signature no longer holds.
  const good = signEnvelope(identity(3), SIM_EPOCH_MS + w.sim.now, 'test', Buffer.from('real'));
  const forged = decodeEnvelope(
    Buffer.from(good.encoded.toString('latin1').replace('4:real', '4:fake'), 'latin1'),
  );
  const { type, payload } = encodeBroadcast({ type: 'gossip', envelope: forged, round: 0 });
  w.net.node(3).send(victim, GOSSIP_PROTOCOL, type, payload);
  await w.sim.run(w.sim.now + 5_000);
  assert.ok(
    delivered.every((d) => !d.has('fake')),
    'nobody delivered it',
  );
  assert.equal(overlays[victimIndex]!.broadcast!.counters.invalid, 1);
  assert.ok(
    !overlays[victimIndex]!.active().some((p) => p.id === identity(3).publicKey.toString()),
    'the forger lost its link to the victim',
  );
});
