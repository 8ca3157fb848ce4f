import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeBroadcast, encodeBroadcast } from '../../src/overlay/broadcast-messages.js';
import { OverlayMessageError } from '../../src/overlay/errors.js';
import { decodeEnvelope, signEnvelope, verifyEnvelope } from '../../src/overlay/gossip-envelope.js';
import {
  decodeMembership,
  encodeMembership,
  type MembershipMessage,
} from '../../src/overlay/membership-messages.js';
import { assertDecoderSafe, mutated } from '../support/fuzz.js';
import { contact, identity } from './helpers.js';

const contacts = [0, 1, 2, 3, 4, 5].map((i) => contact(i, i % 2));
const aContact = fc.constantFrom(...contacts);

const membershipMessage: fc.Arbitrary<MembershipMessage> = fc.oneof(
  aContact.map((c) => ({ type: 'join' as const, contact: c })),
  fc.tuple(aContact, fc.integer({ min: 0, max: 16 })).map(([c, ttl]) => ({
    type: 'forward-join' as const,
    contact: c,
    ttl,
  })),
  aContact.map((c) => ({ type: 'connect' as const, contact: c })),
  fc
    .tuple(aContact, fc.boolean())
    .map(([c, high]) => ({ type: 'neighbor' as const, contact: c, high })),
  fc.tuple(aContact, fc.boolean()).map(([c, accepted]) => ({
    type: 'neighbor-reply' as const,
    contact: c,
    accepted,
  })),
  fc.boolean().map((leaving) => ({ type: 'disconnect' as const, leaving })),
  fc
    .tuple(
      fc.nat(),
      aContact,
      fc.array(aContact, { maxLength: 8 }),
      fc.integer({ min: 0, max: 16 }),
    )
    .map(([id, origin, list, ttl]) => ({
      type: 'shuffle' as const,
      id: id >>> 0,
      origin,
      contacts: list,
      ttl,
    })),
  fc.tuple(fc.nat(), fc.array(aContact, { maxLength: 8 })).map(([id, list]) => ({
    type: 'shuffle-reply' as const,
    id: id >>> 0,
    contacts: list,
  })),
);

test('membership messages round-trip', () => {
  fc.assert(
    fc.property(membershipMessage, (m) => {
      const { type, payload } = encodeMembership(m);
      const back = decodeMembership(type, payload);
      assert.deepEqual(encodeMembership(back), { type, payload });
    }),
    { numRuns: 2000 },
  );
});

test('membership decoding of random and mutated bytes throws only OverlayMessageError', () => {
  const samples = fc.sample(membershipMessage, 20).map((m) => encodeMembership(m));
  assertDecoderSafe(
    fc.oneof(
      fc.tuple(fc.integer({ min: 0, max: 12 }), fc.uint8Array({ maxLength: 600 })),
      fc
        .constantFrom(...samples)
        .chain((s) => mutated(s.payload).map((p) => [s.type, p] as [number, Uint8Array])),
    ),
    ([type, payload]) => decodeMembership(type, payload),
    OverlayMessageError,
  );
});

test('gossip envelopes: signed, verified, any change breaks them; broadcast messages round-trip', () => {
  const e = signEnvelope(identity(1), 1_700_000_000_000, 'rooms/x', Buffer.from('hello'));
  const back = decodeEnvelope(e.encoded);
  assert.ok(verifyEnvelope(back));
  assert.equal(back.idHex, e.idHex);
  const changed = decodeEnvelope(
    Buffer.from(e.encoded.toString('latin1').replace('hello', 'jello'), 'latin1'),
  );
  assert.ok(!verifyEnvelope(changed));
  assert.notEqual(changed.idHex, e.idHex, 'the id covers the content');
  for (const m of [
    { type: 'gossip' as const, envelope: e, round: 3 },
    { type: 'ihave' as const, announcements: [{ id: e.id, round: 2 }] },
    { type: 'graft' as const, id: e.id, round: 1 },
    { type: 'graft' as const, id: undefined, round: 0 },
    { type: 'prune' as const },
  ]) {
    const { type, payload } = encodeBroadcast(m);
    assert.deepEqual(encodeBroadcast(decodeBroadcast(type, payload)), { type, payload });
  }
});

test('gossip decoding of random and mutated bytes throws only OverlayMessageError', () => {
  const e = signEnvelope(identity(2), 1_700_000_000_000, 't', Buffer.from('payload'));
  const samples = [
    encodeBroadcast({ type: 'gossip', envelope: e, round: 3 }),
    encodeBroadcast({ type: 'ihave', announcements: [{ id: e.id, round: 2 }] }),
    encodeBroadcast({ type: 'graft', id: e.id, round: 1 }),
  ];
  assertDecoderSafe(
    fc.oneof(
      fc.tuple(fc.integer({ min: 0, max: 6 }), fc.uint8Array({ maxLength: 400 })),
      fc
        .constantFrom(...samples)
        .chain((s) => mutated(s.payload).map((p) => [s.type, p] as [number, Uint8Array])),
    ),
    ([type, payload]) => decodeBroadcast(type, payload),
    OverlayMessageError,
  );
});
