import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { BITTORRENT_PROTOCOL_PREFIX, sniffInbound } from '../../../src/transport/mse/sniff.js';
import { FUZZ_RUNS } from '../../support/fuzz.js';
import { initiatorWith } from './support.js';

test('a plaintext BitTorrent handshake is recognised after its 20-byte prefix', () => {
  const handshake = Buffer.concat([BITTORRENT_PROTOCOL_PREFIX, Buffer.alloc(48, 1)]);
  assert.equal(sniffInbound(handshake), 'bittorrent');
  assert.equal(sniffInbound(handshake.subarray(0, 20)), 'bittorrent');
  for (let n = 0; n < 20; n++) assert.equal(sniffInbound(handshake.subarray(0, n)), 'undecided');
});

test('anything else is MSE, decided at the first byte that differs', () => {
  assert.equal(sniffInbound(Buffer.from([0x14])), 'mse');
  const almost = Buffer.from(BITTORRENT_PROTOCOL_PREFIX);
  almost[10] = 0;
  assert.equal(sniffInbound(almost.subarray(0, 11)), 'mse');
  assert.equal(sniffInbound(almost.subarray(0, 10)), 'undecided');
  for (let seed = 1; seed <= 50; seed++) {
    const ya = initiatorWith({}, seed).start();
    assert.equal(sniffInbound(ya), 'mse', `seed ${seed}`);
  }
});

test('the answer only ever moves from undecided to a verdict as bytes arrive', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.boolean(), (tail, prefixed) => {
      const bytes = prefixed
        ? Buffer.concat([BITTORRENT_PROTOCOL_PREFIX.subarray(0, tail.length % 21), tail])
        : Buffer.from(tail);
      let verdict = 'undecided';
      for (let n = 0; n <= bytes.length; n++) {
        const now = sniffInbound(bytes.subarray(0, n));
        if (verdict !== 'undecided') assert.equal(now, verdict);
        verdict = now;
      }
    }),
    { numRuns: Math.min(FUZZ_RUNS, 10_000) },
  );
});
