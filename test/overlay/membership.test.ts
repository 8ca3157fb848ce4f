import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PeerContact } from '../../src/overlay/contact.js';
import { Membership, type MembershipOptions } from '../../src/overlay/membership.js';
import {
  decodeMembership,
  encodeMembership,
  type MembershipMessage,
} from '../../src/overlay/membership-messages.js';
import { ManualClock } from '../../src/runtime/manual-clock.js';
import { SeededRandom } from '../../src/runtime/seeded-random.js';
import { contact } from './helpers.js';

interface Sent {
  to: string;
  message: MembershipMessage;
}

/** A membership core for contact 0 with a recording sink and a manual clock. */
function core(options: Partial<MembershipOptions> = {}) {
  const clock = new ManualClock();
  const sent: Sent[] = [];
  const ups: string[] = [];
  const downs: string[] = [];
  const me = contact(0);
  const m = new Membership(
    () => me,
    new SeededRandom(7),
    {
      send: (to, message) => {
        // Every message survives its codec.
        const { type, payload } = encodeMembership(message);
        sent.push({ to: to.id, message: decodeMembership(type, payload) });
      },
      up: (p) => ups.push(p.id),
      down: (p) => downs.push(p.id),
    },
    clock.now(),
    options,
  );
  const take = () => sent.splice(0, sent.length);
  return { m, clock, sent, ups, downs, take, me };
}

const ids = (list: readonly PeerContact[]) => list.map((c) => c.id).sort();

/** A message as [type, the contact's id, its flag or TTL], for comparisons. */
function brief(m: MembershipMessage): unknown[] {
  switch (m.type) {
    case 'forward-join':
      return [m.type, m.contact.id, m.ttl];
    case 'neighbor':
      return [m.type, m.contact.id, m.high];
    case 'neighbor-reply':
      return [m.type, m.contact.id, m.accepted];
    case 'disconnect':
      return [m.type, m.leaving];
    case 'join':
    case 'connect':
      return [m.type, m.contact.id];
    default:
      return [m.type, m.id];
  }
}

test('joining sends JOIN to a contact and counts it as a neighbour', () => {
  const { m, take, ups } = core();
  m.join([contact(1)], 0);
  const out = take();
  assert.equal(out.length, 1);
  assert.equal(out[0]!.to, contact(1).id);
  assert.equal(out[0]!.message.type, 'join');
  assert.deepEqual(ups, [contact(1).id]);
});

test('a contact accepts a JOIN and starts a walk through each other neighbour', () => {
  const { m, take } = core();
  for (const i of [1, 2, 3]) m.receive(contact(i), { type: 'connect', contact: contact(i) }, 0);
  take();
  m.receive(contact(9), { type: 'join', contact: contact(9) }, 0);
  const out = take();
  assert.ok(m.isActive(contact(9).id));
  const walks = out.filter((s) => s.message.type === 'forward-join');
  assert.deepEqual(walks.map((s) => s.to).sort(), ids([contact(1), contact(2), contact(3)]));
  for (const w of walks) assert.equal((w.message as { ttl: number }).ttl, 6);
});

test('a JOIN naming someone else is ignored', () => {
  const { m, take } = core();
  m.receive(contact(1), { type: 'join', contact: contact(2) }, 0);
  assert.equal(m.active().length, 0);
  assert.equal(take().filter((s) => s.message.type !== 'neighbor').length, 0);
});

test('a forward-join walks on while its TTL lasts, keeps the newcomer passive at PRWL, ends in CONNECT', () => {
  const { m, take } = core({ activeSize: 2 });
  for (const i of [1, 2]) m.receive(contact(i), { type: 'connect', contact: contact(i) }, 0);
  take();
  m.receive(contact(1), { type: 'forward-join', contact: contact(9), ttl: 3 }, 0);
  let out = take();
  assert.equal(out.length, 1);
  assert.equal(out[0]!.to, contact(2).id, 'forwarded to a neighbour other than the sender');
  assert.deepEqual(brief(out[0]!.message), ['forward-join', contact(9).id, 2]);
  assert.ok(ids(m.passive()).includes(contact(9).id), 'kept as passive at TTL = PRWL');
  m.receive(contact(1), { type: 'forward-join', contact: contact(8), ttl: 0 }, 0);
  out = take();
  assert.ok(m.isActive(contact(8).id));
  assert.deepEqual(
    out.filter((s) => s.message.type === 'connect').map((s) => s.to),
    [contact(8).id],
  );
});

test('a full active view drops a random neighbour (DISCONNECT, kept passive) to take a newcomer', () => {
  const { m, take, downs } = core({ activeSize: 3 });
  for (const i of [1, 2, 3]) m.receive(contact(i), { type: 'connect', contact: contact(i) }, 0);
  take();
  m.receive(contact(4), { type: 'connect', contact: contact(4) }, 0);
  assert.equal(m.active().length, 3);
  assert.ok(m.isActive(contact(4).id));
  const out = take();
  const bye = out.find((s) => s.message.type === 'disconnect');
  assert.ok(bye);
  assert.deepEqual(downs, [bye.to]);
  assert.ok(ids(m.passive()).includes(bye.to));
});

test('NEIGHBOR: low priority is refused when full, high priority never', () => {
  const { m, take } = core({ activeSize: 2 });
  for (const i of [1, 2]) m.receive(contact(i), { type: 'connect', contact: contact(i) }, 0);
  take();
  m.receive(contact(5), { type: 'neighbor', contact: contact(5), high: false }, 0);
  let out = take();
  assert.deepEqual(brief(out[0]!.message), ['neighbor-reply', contact(0).id, false]);
  assert.ok(!m.isActive(contact(5).id));
  m.receive(contact(5), { type: 'neighbor', contact: contact(5), high: true }, 0);
  out = take();
  assert.ok(m.isActive(contact(5).id));
  assert.ok(
    out.some((s) => s.message.type === 'neighbor-reply' && s.message.accepted),
    'accepted',
  );
  assert.equal(m.active().length, 2);
});

test('a failed neighbour is replaced from the passive view (high priority when alone)', () => {
  const { m, take, clock } = core({ activeSize: 2 });
  m.receive(contact(1), { type: 'connect', contact: contact(1) }, 0);
  m.learn([contact(7)]);
  m.tick(0);
  const out = take();
  // One free slot: the passive peer is asked at once, low priority (we still have a neighbour).
  assert.deepEqual(
    out.map((s) => [s.to, s.message.type, (s.message as { high?: boolean }).high]),
    [[contact(7).id, 'neighbor', false]],
  );
  m.receive(contact(7), { type: 'neighbor-reply', contact: contact(7), accepted: true }, 0);
  assert.ok(m.isActive(contact(7).id));
  m.learn([contact(8), contact(9)]);
  m.tick(0);
  take();
  m.linkDown(contact(1).id, 'lost', clock.now());
  m.linkDown(contact(7).id, 'lost', clock.now());
  const asks = take().filter((s) => s.message.type === 'neighbor');
  assert.equal(asks.length, 2);
  assert.ok(
    asks.some((s) => (s.message as { high: boolean }).high),
    'the first ask after losing every neighbour is high priority',
  );
  assert.ok(!ids(m.passive()).includes(contact(1).id), 'a failed peer is not kept');
});

test('an unanswered NEIGHBOR times out and the peer rests before it is asked again', () => {
  const { m, take, clock } = core({ activeSize: 1, neighborTimeoutMs: 1000, retryAfterMs: 5000 });
  m.learn([contact(3)]);
  m.tick(0);
  assert.equal(take().length, 1);
  clock.advance(1000);
  m.tick(clock.now());
  assert.equal(take().length, 0, 'resting');
  assert.equal(m.nextWake() <= 6000, true);
  clock.advance(5000);
  m.tick(clock.now());
  assert.deepEqual(
    take().map((s) => s.message.type),
    ['neighbor'],
  );
});

test('a shuffle samples both views, walks, and the reply replaces what we sent first', () => {
  const { m, take, clock } = core({ activeSize: 3, passiveSize: 6, shuffleIntervalMs: 1000 });
  for (const i of [1, 2, 3]) m.receive(contact(i), { type: 'connect', contact: contact(i) }, 0);
  m.learn([10, 11, 12, 13, 14, 15].map((i) => contact(i)));
  take();
  clock.advance(1500);
  m.tick(clock.now());
  const shuffle = take().find((s) => s.message.type === 'shuffle');
  assert.ok(shuffle);
  const msg = shuffle.message as Extract<MembershipMessage, { type: 'shuffle' }>;
  assert.equal(msg.origin.id, contact(0).id);
  assert.equal(msg.ttl, 6);
  assert.equal(msg.contacts.length, 2 + 4, 'k_a (all but the target) + k_p');
  const sentPassive = msg.contacts.filter((c) => Number(c.addresses[0]!.host.split('.')[3]) >= 10);
  // The reply brings four new peers: they replace the passive peers we sent away.
  const fresh = [20, 21, 22, 23].map((i) => contact(i));
  m.receive(contact(30), { type: 'shuffle-reply', id: msg.id, contacts: fresh }, clock.now());
  const passive = ids(m.passive());
  for (const c of fresh) assert.ok(passive.includes(c.id));
  for (const c of sentPassive) assert.ok(!passive.includes(c.id), 'sent entries evicted first');
  assert.equal(passive.length, 6);
});

test('a shuffle that ends here is answered with our passive sample and merged', () => {
  const { m, take } = core({ activeSize: 3, passiveSize: 10 });
  m.receive(contact(1), { type: 'connect', contact: contact(1) }, 0);
  m.learn([10, 11, 12].map((i) => contact(i)));
  take();
  // Only one neighbour (the sender): the walk ends here.
  m.receive(
    contact(1),
    { type: 'shuffle', id: 5, origin: contact(40), contacts: [contact(41), contact(42)], ttl: 4 },
    0,
  );
  const out = take().filter((s) => s.message.type === 'shuffle-reply');
  assert.equal(out.length, 1);
  assert.equal(out[0]!.to, contact(40).id);
  const passive = ids(m.passive());
  for (const i of [40, 41, 42]) assert.ok(passive.includes(contact(i).id));
});

test('leaving tells every neighbour, who will not keep us', () => {
  const a = core();
  a.m.receive(contact(1), { type: 'connect', contact: contact(1) }, 0);
  a.take();
  a.m.leave();
  assert.deepEqual(
    a.take().map((s) => [s.to, ...brief(s.message)]),
    [[contact(1).id, 'disconnect', true]],
  );
  const b = core();
  b.m.receive(contact(1), { type: 'connect', contact: contact(1) }, 0);
  b.m.receive(contact(1), { type: 'disconnect', leaving: true }, 0);
  assert.equal(b.m.active().length, 0);
  assert.ok(!ids(b.m.passive()).includes(contact(1).id));
});
