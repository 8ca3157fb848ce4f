import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRandom } from '../../../src/runtime/seeded-random.js';
import {
  BIGINT_KEY_OPERATIONS,
  DH_KEY_BYTES,
  MSE_PRIME,
  MseKeyPair,
} from '../../../src/transport/mse/dh.js';
import { MseHandshakeError } from '../../../src/transport/mse/errors.js';

const P = BigInt(`0x${MSE_PRIME.toString('hex')}`);
const toBig = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).toString('hex') || '0'}`);
const toBytes = (n: bigint) => Buffer.from(n.toString(16).padStart(2 * DH_KEY_BYTES, '0'), 'hex');

/** Square-and-multiply, the reference the node:crypto group is checked against. */
function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
  }
  return result;
}

test('key operations agree with the reference before and after the node:crypto group takes over', () => {
  // Runs first in this process: the first BIGINT_KEY_OPERATIONS use bigint arithmetic.
  const peer = toBytes(modPow(2n, 0xc0ffeen, P));
  for (let n = 0; n < BIGINT_KEY_OPERATIONS; n++) {
    const random = new SeededRandom(500 + n);
    const x = random.bytes(20);
    x[0] = x[0]! | 0x80;
    const pair = new MseKeyPair(new SeededRandom(500 + n));
    assert.ok(pair.publicKey.equals(toBytes(modPow(2n, toBig(x), P))), `Y, operation ${2 * n}`);
    const secret = pair.sharedSecret(peer);
    assert.ok(
      secret.equals(toBytes(modPow(toBig(peer), toBig(x), P))),
      `S, operation ${2 * n + 1}`,
    );
  }
});

test('the prime is the 768-bit one of the spec', () => {
  assert.equal(MSE_PRIME.length, 96);
  assert.equal(P.toString(2).length, 768);
  assert.equal(MSE_PRIME.subarray(-4).toString('hex'), '00090563');
});

test('both sides reach the same 96-byte secret, and the keys are 2^x mod P', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const ra = new SeededRandom(seed);
    const rb = new SeededRandom(1000 + seed);
    // the same private keys as the key pairs draw (top bit set)
    const xa = ra.bytes(20);
    xa[0] = xa[0]! | 0x80;
    const a = new MseKeyPair(new SeededRandom(seed));
    const b = new MseKeyPair(rb);
    assert.equal(a.publicKey.length, DH_KEY_BYTES);
    assert.ok(a.publicKey.equals(toBytes(modPow(2n, toBig(xa), P))), `Ya for seed ${seed}`);
    const sa = a.sharedSecret(b.publicKey);
    const sb = b.sharedSecret(a.publicKey);
    assert.equal(sa.length, DH_KEY_BYTES);
    assert.ok(sa.equals(sb));
    assert.ok(sa.equals(toBytes(modPow(toBig(b.publicKey), toBig(xa), P))));
  }
});

test('secrets and keys with leading zero bytes are padded to 96 bytes', () => {
  // Y = 2 gives S = 2^x mod P: search for a private key whose public key is short.
  let found = false;
  for (let seed = 1; seed < 4000 && !found; seed++) {
    const pair = new MseKeyPair(new SeededRandom(seed));
    if (pair.publicKey[0] !== 0) continue;
    found = true;
    assert.equal(pair.publicKey.length, DH_KEY_BYTES);
    const other = new MseKeyPair(new SeededRandom(-seed));
    assert.ok(other.sharedSecret(pair.publicKey).equals(pair.sharedSecret(other.publicKey)));
  }
  assert.ok(found, 'one key in 256 starts with a zero byte');
});

test('a key pair uses the random source it is given and nothing else', () => {
  const one = new MseKeyPair(new SeededRandom(7));
  const two = new MseKeyPair(new SeededRandom(7));
  assert.ok(one.publicKey.equals(two.publicKey));
  assert.ok(!one.publicKey.equals(new MseKeyPair(new SeededRandom(8)).publicKey));
});

test('public keys outside (1, P - 1) are refused with a typed error', () => {
  const pair = new MseKeyPair(new SeededRandom(3));
  for (const bad of [0n, 1n, P - 1n, P, P + 1n, 2n ** 768n - 1n]) {
    assert.throws(
      () => pair.sharedSecret(toBytes(bad)),
      (e) => e instanceof MseHandshakeError && e.code === 'MSE_HANDSHAKE' && e.reason === 'bad-key',
      `key ${bad.toString(16).slice(0, 8)}`,
    );
  }
});
