import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { KeywordFilter } from '../../../src/apps/search/keyword-filter.js';
import { signRecord } from '../../../src/apps/search/record.js';
import {
  decodeSearch,
  encodeSearch,
  makeHit,
  type SearchMessage,
  verifyHit,
} from '../../../src/apps/search/search-messages.js';
import { OverlayMessageError } from '../../../src/overlay/errors.js';
import { contact, identity } from '../../overlay/helpers.js';
import { assertDecoderSafe, mutated } from '../../support/fuzz.js';

const record = signRecord(identity(3), {
  infoHashV1: Buffer.alloc(20, 1),
  infoHashV2: Buffer.alloc(32, 2),
  name: 'Field Recordings Vol 3.flac',
  size: 1234,
  files: 2,
  seeders: 5,
  timestamp: 1_700_000_000,
  tags: ['audio', 'ambient'],
});
const id = Buffer.alloc(16, 9);

const samples: { type: number; payload: Buffer }[] = [
  encodeSearch({
    type: 'query',
    id,
    words: ['field', 'recordings'],
    mode: 2,
    ttl: 5,
    hops: 1,
    scope: 1,
    walker: 3,
    origin: contact(1),
  }),
  makeHit(identity(3), id, [{ host: '10.0.0.1', port: 6881 }], [record]),
  encodeSearch({ type: 'check', id, walker: 1, hops: 8 }),
  encodeSearch({ type: 'check-reply', id, walker: 1, go: true }),
  encodeSearch({ type: 'attach', contact: contact(2), filter: KeywordFilter.of(['a', 'b']) }),
  encodeSearch({
    type: 'attach-reply',
    accepted: true,
    ultrapeers: [{ contact: contact(4, 1), load: 40 }],
  }),
  encodeSearch({ type: 'filter', filter: KeywordFilter.of(['x']) }),
  encodeSearch({ type: 'detach', ultrapeers: [] }),
  encodeSearch({ type: 'ultrapeer-request' }),
  encodeSearch({ type: 'ultrapeer-list', ultrapeers: [{ contact: contact(5, 1), load: 100 }] }),
];

test('every search message round-trips; a hit is signed by its responder', () => {
  for (const s of samples) {
    const m = decodeSearch(s.type, s.payload);
    if (m.type === 'hit') {
      assert.ok(verifyHit(m));
      assert.equal(m.records[0]!.name, 'Field Recordings Vol 3.flac');
      const again = makeHit(identity(3), m.id, m.peers, m.records);
      assert.deepEqual(again.payload, s.payload);
    } else {
      assert.deepEqual(encodeSearch(m as Exclude<SearchMessage, { type: 'hit' }>), s);
    }
  }
  const hit = decodeSearch(samples[1]!.type, samples[1]!.payload) as Extract<
    SearchMessage,
    { type: 'hit' }
  >;
  const other = { ...hit, id: Buffer.alloc(16, 8) };
  assert.ok(!verifyHit(other), 'a hit is bound to its query');
});

test('search decoding of random and mutated bytes throws only OverlayMessageError', () => {
  assertDecoderSafe(
    fc.oneof(
      fc.tuple(fc.integer({ min: 0, max: 12 }), fc.uint8Array({ maxLength: 1200 })),
      fc
        .constantFrom(...samples)
        .chain((s) => mutated(s.payload).map((p) => [s.type, p] as [number, Uint8Array])),
    ),
    ([type, payload]) => decodeSearch(type, payload),
    OverlayMessageError,
  );
});
