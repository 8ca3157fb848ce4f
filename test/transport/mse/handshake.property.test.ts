import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MseHandshakeError } from '../../../src/transport/mse/errors.js';
import { FUZZ_RUNS, mutated } from '../../support/fuzz.js';
import { feedCut, initiatorWith, responderWith, runMachines } from './support.js';

// Every run that gets past 96 bytes costs a Diffie-Hellman computation (~0.1 ms) and two RC4
// key schedules, so these run at most 20,000 cases each.
const RUNS = Math.min(FUZZ_RUNS, 20_000);

/** The most a responder reads before it must have failed or finished (IA at its longest). */
const RESPONDER_MAX = 96 + 512 + 20 + 20 + 8 + 4 + 2 + 512 + 2 + 65535;

/** Splits `bytes` at the given fractions, for streaming from any split points. */
const chunksOf = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 });
const cutsFor = (length: number, fractions: readonly number[]) =>
  [...new Set(fractions.map((f) => Math.floor(f * length)))].sort((x, y) => x - y);

/** Feeds `bytes` to a fresh machine; returns how it ended. Only MseHandshakeError may be thrown. */
function survive(feed: (c: Uint8Array) => { outcome: unknown }, bytes: Buffer, cuts: number[]) {
  try {
    return feedCut((c) => ({ send: [], ...feed(c) }), bytes, cuts).outcome !== undefined
      ? 'done'
      : 'waiting';
  } catch (error) {
    if (!(error instanceof MseHandshakeError)) throw error;
    return 'failed';
  }
}

test('random bytes never make the responder throw anything but MseHandshakeError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 1400, size: 'max' }), chunksOf, (bytes, fractions) => {
      const r = responderWith();
      const b = Buffer.from(bytes);
      const end = survive((c) => r.receive(c), b, cutsFor(b.length, fractions));
      // noise never completes a handshake, and past the sync window it has failed
      assert.notEqual(end, 'done');
      if (b.length >= 96 + 532) assert.equal(end, 'failed');
    }),
    { numRuns: RUNS },
  );
});

test('mutated handshakes never make the responder throw anything but MseHandshakeError', () => {
  const t = runMachines(initiatorWith({ initialPayload: Buffer.from('hello') }), responderWith());
  fc.assert(
    fc.property(mutated(t.aToB), chunksOf, (bytes, fractions) => {
      const r = responderWith();
      const b = Buffer.from(bytes);
      survive((c) => r.receive(c), b, cutsFor(b.length, fractions));
    }),
    { numRuns: RUNS },
  );
});

test('mutated answers never make the initiator throw anything but MseHandshakeError', () => {
  const t = runMachines(initiatorWith(), responderWith());
  fc.assert(
    fc.property(mutated(t.bToA), chunksOf, (bytes, fractions) => {
      const i = initiatorWith();
      i.start();
      const b = Buffer.from(bytes);
      survive((c) => i.receive(c), b, cutsFor(b.length, fractions));
    }),
    { numRuns: RUNS },
  );
});

test('random bytes never make the initiator throw anything but MseHandshakeError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 1400, size: 'max' }), chunksOf, (bytes, fractions) => {
      const i = initiatorWith();
      i.start();
      const b = Buffer.from(bytes);
      const end = survive((c) => i.receive(c), b, cutsFor(b.length, fractions));
      assert.notEqual(end, 'done');
      if (b.length >= 96 + 520) assert.equal(end, 'failed');
    }),
    { numRuns: RUNS },
  );
});

test('the responder decides within its bound however the bytes go on', () => {
  // after any prefix, more noise eventually fails it: it never waits for more than the bound
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 96, maxLength: 700 }), (start) => {
      const r = responderWith();
      const noise = Buffer.alloc(RESPONDER_MAX, 0x41);
      assert.equal(
        survive((c) => r.receive(c), Buffer.concat([start, noise]), [start.length]),
        'failed',
      );
    }),
    { numRuns: Math.min(RUNS, 2000) },
  );
});
