import assert from 'node:assert/strict';
import { diffieHellman } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import sodium from 'sodium-native';
import {
  IDENTITY_PREFIX,
  IDENTITY_TEXT_LENGTH,
  Identity,
  IdentityError,
  IdentityKey,
  x25519PrivateKey,
} from '../../src/crypto/identity.js';
import { x25519KeyPair, x25519PublicKey } from '../../src/crypto/noise/dh.js';
import { SeededRandom } from '../../src/runtime/seeded-random.js';
import { assertDecoderSafe, FUZZ_RUNS, mutated } from '../support/fuzz.js';

const identities = (() => {
  const random = new SeededRandom(7);
  return Array.from({ length: 40 }, () => Identity.generate(random));
})();

test('the X25519 key converted from an identity is the one node:crypto derives from the converted secret', () => {
  for (const identity of identities) {
    const derived = x25519KeyPair(x25519PrivateKey(identity.exportSeed())).publicKey;
    const converted = IdentityKey.fromBytes(identity.publicKey.bytes).noiseKey();
    assert.deepEqual(converted, derived);
    assert.deepEqual(identity.noiseKeyPair.publicKey, derived);
  }
});

test('conversion agrees with libsodium (crypto_sign_ed25519_{pk,sk}_to_curve25519)', () => {
  for (const identity of identities) {
    const pk = Buffer.alloc(32);
    const sk = Buffer.alloc(64);
    sodium.crypto_sign_seed_keypair(pk, sk, identity.exportSeed());
    assert.deepEqual(identity.publicKey.bytes, pk);
    const curvePk = Buffer.alloc(32);
    sodium.crypto_sign_ed25519_pk_to_curve25519(curvePk, pk);
    assert.deepEqual(IdentityKey.fromBytes(pk).noiseKey(), curvePk);
    const curveSk = Buffer.alloc(32);
    sodium.crypto_sign_ed25519_sk_to_curve25519(curveSk, sk);
    assert.deepEqual(x25519PrivateKey(identity.exportSeed()), curveSk);
  }
});

test('two identities agree on a DH secret through their converted keys', () => {
  const [a, b] = identities as [Identity, Identity];
  const ab = diffieHellman({
    privateKey: a.noiseKeyPair.privateKey,
    publicKey: x25519PublicKey(b.publicKey.noiseKey()).key,
  });
  const ba = diffieHellman({
    privateKey: b.noiseKeyPair.privateKey,
    publicKey: x25519PublicKey(a.publicKey.noiseKey()).key,
  });
  assert.deepEqual(ab, ba);
});

test('matchingNoiseKey accepts the identity of a proven X25519 key and nothing else', () => {
  const [a, b] = identities as [Identity, Identity];
  const noiseKey = a.noiseKeyPair.publicKey;
  assert.ok(IdentityKey.matchingNoiseKey(a.publicKey.bytes, noiseKey)?.equals(a.publicKey));
  assert.equal(IdentityKey.matchingNoiseKey(b.publicKey.bytes, noiseKey), undefined);
  const flipped = Buffer.from(a.publicKey.bytes);
  flipped[3]! ^= 1;
  assert.equal(IdentityKey.matchingNoiseKey(flipped, noiseKey), undefined);
  // The sign of x is not part of u: the owner of A may also present −A (see identity.ts).
  const negated = Buffer.from(a.publicKey.bytes);
  negated[31]! ^= 0x80;
  assert.ok(IdentityKey.matchingNoiseKey(negated, noiseKey));
});

test('sign and verify', () => {
  const [a, b] = identities as [Identity, Identity];
  const message = Buffer.from('hello');
  const signature = a.sign(message);
  assert.equal(signature.length, 64);
  assert.ok(a.publicKey.verify(message, signature));
  assert.ok(IdentityKey.parse(a.publicKey.toString()).verify(message, signature));
  assert.ok(!a.publicKey.verify(Buffer.from('hellO'), signature));
  assert.ok(!b.publicKey.verify(message, signature));
  assert.ok(!a.publicKey.verify(message, signature.subarray(0, 63)));
  const bad = Buffer.from(signature);
  bad[10]! ^= 4;
  assert.ok(!a.publicKey.verify(message, bad));
});

test('the same seed is the same identity', () => {
  const seed = identities[0]!.exportSeed();
  const again = Identity.fromSeed(seed);
  assert.ok(again.publicKey.equals(identities[0]!.publicKey));
  assert.throws(() => Identity.fromSeed(seed.subarray(1)), IdentityError);
});

test('the text form: prefix, 52 lower-case base32 characters, parsed back', () => {
  for (const identity of identities) {
    const text = identity.publicKey.toString();
    assert.equal(text.length, IDENTITY_TEXT_LENGTH);
    assert.match(text, /^shoal_[a-z2-7]{52}$/);
    assert.ok(IdentityKey.parse(text).equals(identity.publicKey));
    assert.ok(IdentityKey.parse(` ${text.toUpperCase()}\n`).equals(identity.publicKey));
  }
});

test('parse says what is wrong', () => {
  const text = identities[0]!.publicKey.toString();
  const body = text.slice(IDENTITY_PREFIX.length);
  const cases: [string, RegExp][] = [
    [body, /starts with shoal_/],
    [`shoal-${body}`, /starts with shoal_/],
    [text.slice(0, -1), /58 characters, this has 57/],
    [`${text}a`, /58 characters, this has 59/],
    [`${text.slice(0, 20)}1${text.slice(21)}`, /"1" is not one of a–z and 2–7/],
    [`${text.slice(0, -1)}b`, /last character/],
  ];
  for (const [input, message] of cases) {
    assert.throws(
      () => IdentityKey.parse(input),
      (e: unknown) => {
        assert.ok(e instanceof IdentityError);
        assert.equal(e.code, 'IDENTITY_INVALID');
        assert.match(e.message, message);
        return true;
      },
    );
  }
});

const keyOf = (n: bigint): Buffer => Buffer.from(n.toString(16).padStart(64, '0'), 'hex').reverse();

test('keys that are no usable point are refused', () => {
  const p = 2n ** 255n - 19n;
  // y = 2 is not on the curve; y = p is not reduced; y = 1 is the neutral point, y = p − 1 and
  // y = 0 are of order 2 and 4.
  for (const y of [2n, p, p + 3n, 1n, p - 1n, 0n]) {
    assert.throws(() => IdentityKey.fromBytes(keyOf(y)), IdentityError, `y = ${y}`);
  }
  assert.throws(() => IdentityKey.fromBytes(Buffer.alloc(31)), /32 bytes/);
  assert.throws(
    () => IdentityKey.parse(`shoal_${'a'.repeat(51)}q`),
    /not a usable identity key|last character/,
  );
});

test('the small-order u values the identity check refuses are ones X25519 refuses too', () => {
  const small = [
    325606250916557431795983626356110631294008115727848805560023387167927233504n,
    39382357235489614581723060781553021112529911719440698176882885853963445705823n,
  ];
  const ours = identities[0]!.noiseKeyPair.privateKey;
  for (const u of small) {
    assert.throws(() =>
      diffieHellman({ privateKey: ours, publicKey: x25519PublicKey(keyOf(u)).key }),
    );
  }
});

test('random and mutated text only raises IdentityError', () => {
  const text = identities[1]!.publicKey.toString();
  assertDecoderSafe(
    fc.oneof(
      fc.string({ maxLength: 70 }),
      mutated(Buffer.from(text)).map((b) => Buffer.from(b).toString('latin1')),
    ),
    (input) => IdentityKey.parse(input),
    IdentityError,
  );
});

test('random 32-byte keys are either usable or refused with IdentityError', () => {
  let usable = 0;
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
      try {
        const key = IdentityKey.fromBytes(bytes);
        assert.equal(key.noiseKey().length, 32);
        assert.ok(IdentityKey.parse(key.toString()).equals(key));
        usable++;
      } catch (error) {
        if (!(error instanceof IdentityError)) throw error;
      }
    }),
    { numRuns: Math.min(FUZZ_RUNS, 2_000) },
  );
  assert.ok(usable > 0, 'about half of all y values are on the curve');
});
