import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { x25519KeyPair } from '../../../src/crypto/noise/dh.js';
import { NoiseError } from '../../../src/crypto/noise/errors.js';
import { HandshakeState } from '../../../src/crypto/noise/handshake-state.js';
import { NOISE_IK, NOISE_XX, type NoiseProtocol } from '../../../src/crypto/noise/protocols.js';
import { SeededRandom } from '../../../src/runtime/seeded-random.js';
import { FUZZ_RUNS, mutated } from '../../support/fuzz.js';

/** Each case builds key pairs and runs DH, so fewer cases than a plain decoder gets. */
const RUNS = Math.min(FUZZ_RUNS, 5_000);

const initiatorStatic = x25519KeyPair(new SeededRandom(10).bytes(32));
const responderStatic = x25519KeyPair(new SeededRandom(11).bytes(32));
const prologue = Buffer.from('fuzz');

/** Both sides of a fresh handshake, with fixed randomness so every case starts alike. */
function pair(protocol: NoiseProtocol) {
  const make = (initiator: boolean) =>
    new HandshakeState({
      protocol,
      initiator,
      prologue,
      staticKeyPair: initiator ? initiatorStatic : responderStatic,
      ...(initiator && protocol === NOISE_IK && { remoteStaticKey: responderStatic.publicKey }),
      random: new SeededRandom(initiator ? 20 : 21),
    });
  return [make(true), make(false)] as const;
}

/** The messages of a clean run, and states advanced to just before reading message `i`. */
function reference(protocol: NoiseProtocol) {
  const [a, b] = pair(protocol);
  const messages: Buffer[] = [];
  while (!a.isComplete) {
    const [w, r] = a.isMyTurn ? [a, b] : [b, a];
    const m = w.writeMessage(Buffer.from(`payload ${messages.length}`));
    r.readMessage(m);
    messages.push(m);
  }
  const readerAt = (i: number): HandshakeState => {
    const [x, y] = pair(protocol);
    for (let k = 0; k < i; k++) {
      const [w, r] = k % 2 === 0 ? [x, y] : [y, x];
      r.readMessage(w.writeMessage(Buffer.from(`payload ${k}`)));
    }
    if (i % 2 === 0) x.writeMessage(Buffer.from(`payload ${i}`));
    else y.writeMessage(Buffer.from(`payload ${i}`));
    return i % 2 === 0 ? y : x;
  };
  return { messages, readerAt };
}

for (const protocol of [NOISE_XX, NOISE_IK]) {
  const { messages, readerAt } = reference(protocol);
  messages.forEach((message, i) => {
    test(`${protocol.pattern.name} message ${i}: mutated or random bytes only raise NoiseError`, () => {
      const inputs = fc.oneof(mutated(message), fc.uint8Array({ maxLength: 200 }));
      let accepted = 0;
      fc.assert(
        fc.property(inputs, (bytes) => {
          if (Buffer.from(bytes).equals(message)) return; // an edit that changed nothing
          const reader = readerAt(i);
          try {
            reader.readMessage(bytes);
            accepted++;
            // Only a message's unauthenticated plaintext part may change undetected: message
            // 0 of XX is an ephemeral key and an empty payload in clear.
            assert.ok(protocol === NOISE_XX && i === 0, 'a tampered message was accepted');
          } catch (error) {
            if (!(error instanceof NoiseError)) throw error;
            assert.throws(() => reader.readMessage(message), { code: 'NOISE_STATE' });
          }
        }),
        { numRuns: RUNS },
      );
      assert.ok(accepted < RUNS, 'most tampered messages are refused');
    });
  });
}

test('messages out of turn are refused with NOISE_STATE', () => {
  const [a, b] = pair(NOISE_XX);
  assert.throws(() => b.writeMessage(), { code: 'NOISE_STATE' });
  assert.throws(() => a.readMessage(Buffer.alloc(32)), { code: 'NOISE_STATE' });
  b.readMessage(a.writeMessage());
  assert.throws(() => a.writeMessage(), { code: 'NOISE_STATE' });
});

test('a small-order public key is refused with NOISE_BAD_KEY', () => {
  const [, b] = pair(NOISE_XX);
  b.readMessage(Buffer.alloc(32)); // message 0 is only the ephemeral key: accepted as bytes
  assert.throws(() => b.writeMessage(), { code: 'NOISE_BAD_KEY' });
});
