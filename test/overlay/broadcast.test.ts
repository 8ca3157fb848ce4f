import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Plumtree } from '../../src/overlay/broadcast.js';
import type { BroadcastMessage } from '../../src/overlay/broadcast-messages.js';
import { type GossipEnvelope, signEnvelope } from '../../src/overlay/gossip-envelope.js';
import { ManualClock } from '../../src/runtime/manual-clock.js';
import { contact, identity } from './helpers.js';

const [a, b, c] = [contact(1), contact(2), contact(3)];
const envelope = (n: number): GossipEnvelope =>
  signEnvelope(identity(5), 1_700_000_000_000 + n, 'topic', Buffer.from(`m${n}`));

function core() {
  const clock = new ManualClock();
  const sent: { to: string; m: BroadcastMessage }[] = [];
  const delivered: string[] = [];
  const penalised: string[] = [];
  const p = new Plumtree(
    {
      send: (to, m) => sent.push({ to: to.id, m }),
      deliver: (e) => delivered.push(e.payload.toString()),
      penalise: (id) => penalised.push(id),
    },
    (e) => !e.payload.toString().startsWith('bad'),
    { missingTimeoutMs: 1000, graftTimeoutMs: 500 },
  );
  for (const peer of [a, b, c]) p.neighborUp(peer);
  const take = () =>
    sent.splice(0).map((s) => `${s.to === a.id ? 'a' : s.to === b.id ? 'b' : 'c'}:${s.m.type}`);
  return { p, clock, take, delivered, penalised };
}

test('eager push along new links, a duplicate prunes its link, lazy peers get IHAVE', () => {
  const { p, clock, take, delivered } = core();
  p.receive(a, { type: 'gossip', envelope: envelope(1), round: 0 }, clock.now());
  assert.deepEqual(delivered, ['m1']);
  assert.deepEqual(take().sort(), ['b:gossip', 'c:gossip']);
  p.receive(b, { type: 'gossip', envelope: envelope(1), round: 2 }, clock.now());
  assert.deepEqual(take(), ['b:prune'], 'the duplicate link leaves the tree');
  assert.deepEqual(delivered, ['m1'], 'delivered once');
  assert.deepEqual(p.lazyPeers(), [b.id]);
  p.receive(a, { type: 'gossip', envelope: envelope(2), round: 0 }, clock.now());
  assert.deepEqual(take().sort(), ['b:ihave', 'c:gossip']);
});

test('an announced message that does not arrive is grafted from the announcer, then the next', () => {
  const { p, clock, take, delivered } = core();
  const e = envelope(3);
  p.receive(b, { type: 'prune' }, clock.now());
  p.receive(c, { type: 'prune' }, clock.now());
  p.receive(b, { type: 'ihave', announcements: [{ id: e.id, round: 1 }] }, clock.now());
  p.receive(c, { type: 'ihave', announcements: [{ id: e.id, round: 2 }] }, clock.now());
  assert.equal(p.nextWake(), 1000);
  clock.advance(999);
  p.tick(clock.now());
  assert.deepEqual(take(), []);
  clock.advance(1);
  p.tick(clock.now());
  assert.deepEqual(take(), ['b:graft'], 'first announcer first');
  assert.ok(p.eagerPeers().includes(b.id), 'the grafted link joins the tree');
  clock.advance(500);
  p.tick(clock.now());
  assert.deepEqual(take(), ['c:graft'], 'no answer: the next announcer');
  p.receive(c, { type: 'gossip', envelope: e, round: 2 }, clock.now());
  assert.deepEqual(delivered, ['m3']);
  assert.equal(p.nextWake(), Number.POSITIVE_INFINITY, 'nothing missing');
});

test('a GRAFT is answered with the message; a forged message is dropped and its sender penalised', () => {
  const { p, clock, take, delivered, penalised } = core();
  const e = envelope(4);
  p.publish(e, clock.now());
  take();
  p.receive(c, { type: 'prune' }, clock.now());
  p.receive(c, { type: 'graft', id: e.id, round: 1 }, clock.now());
  assert.deepEqual(take(), ['c:gossip']);
  const bad = signEnvelope(identity(5), 1, 'topic', Buffer.from('bad'));
  p.receive(a, { type: 'gossip', envelope: bad, round: 0 }, clock.now());
  assert.deepEqual(penalised, [a.id]);
  assert.deepEqual(delivered, ['m4']);
  assert.deepEqual(take(), [], 'not forwarded');
});

test('ids are remembered for a bounded time and number', () => {
  let deliveries = 0;
  const q = new Plumtree(
    { send: () => {}, deliver: () => deliveries++, penalise: () => {} },
    () => true,
    { seenEntries: 3, seenMs: 1000 },
  );
  for (let i = 0; i < 5; i++)
    q.receive(a, { type: 'gossip', envelope: envelope(10 + i), round: 0 }, 0);
  q.receive(a, { type: 'gossip', envelope: envelope(14), round: 0 }, 0);
  assert.equal(deliveries, 5, 'a recent id is remembered');
  q.receive(a, { type: 'gossip', envelope: envelope(10), round: 0 }, 0);
  assert.equal(deliveries, 6, 'the oldest was forgotten (bounded)');
  q.receive(a, { type: 'gossip', envelope: envelope(14), round: 0 }, 2000);
  assert.equal(deliveries, 7, 'and ids expire');
});
