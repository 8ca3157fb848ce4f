import assert from 'node:assert/strict';
import { test } from 'node:test';
import NoiseHandshake from 'noise-handshake';
import Cipher from 'noise-handshake/cipher.js';
import { generateKeyPair } from 'noise-handshake/dh.js';
import sodium from 'sodium-native';
import { CHACHA_POLY, CipherState } from '../../../src/crypto/noise/cipher-state.js';
import { x25519KeyPair } from '../../../src/crypto/noise/dh.js';
import { type HandshakeResult, HandshakeState } from '../../../src/crypto/noise/handshake-state.js';
import { NOISE_IK, NOISE_XX } from '../../../src/crypto/noise/protocols.js';
import { SeededRandom } from '../../../src/runtime/seeded-random.js';

/**
 * shoal's Noise against Holepunch's `noise-handshake` (libsodium underneath), in both roles,
 * for both of shoal's handshakes, followed by transport messages both ways.
 */

const EMPTY = Buffer.alloc(0);

function transportBothWays(ours: HandshakeResult, theirs: NoiseHandshake): void {
  assert.ok(theirs.complete && theirs.tx && theirs.rx);
  assert.deepEqual(ours.handshakeHash, theirs.hash);
  const toThem = new Cipher(theirs.rx);
  const fromThem = new Cipher(theirs.tx);
  for (let i = 0; i < 5; i++) {
    const a = Buffer.from(`to oracle ${i} `.repeat(i * 100));
    assert.deepEqual(toThem.decrypt(ours.send.encryptWithAd(EMPTY, a)), a);
    const b = Buffer.from(`from oracle ${i} `.repeat(i * 50 + 1));
    assert.deepEqual(ours.receive.decryptWithAd(EMPTY, fromThem.encrypt(b)), b);
  }
}

for (const protocol of [NOISE_XX, NOISE_IK] as const) {
  const pattern = protocol.pattern.name as 'XX' | 'IK';

  test(`${pattern}: shoal initiator, noise-handshake responder`, () => {
    const random = new SeededRandom(1);
    const prologue = Buffer.from('shoal oracle test');
    const theirStatic = generateKeyPair(random.bytes(32));
    const ourStatic = x25519KeyPair(random.bytes(32));
    const them = new NoiseHandshake(pattern, false, theirStatic);
    them.initialise(prologue);
    const us = new HandshakeState({
      protocol,
      initiator: true,
      prologue,
      staticKeyPair: ourStatic,
      ...(pattern === 'IK' && { remoteStaticKey: theirStatic.publicKey }),
      random,
    });
    let turn = 0;
    while (!us.isComplete) {
      const payload = Buffer.from(`payload ${turn++}`);
      if (us.isMyTurn) assert.deepEqual(them.recv(us.writeMessage(payload)), payload);
      else assert.deepEqual(us.readMessage(them.send(payload)), payload);
    }
    const result = us.result();
    assert.deepEqual(result.remoteStaticKey, theirStatic.publicKey);
    assert.deepEqual(them.rs, ourStatic.publicKey);
    transportBothWays(result, them);
  });

  test(`${pattern}: noise-handshake initiator, shoal responder`, () => {
    const random = new SeededRandom(2);
    const prologue = Buffer.from('another prologue');
    const theirStatic = generateKeyPair(random.bytes(32));
    const ourStatic = x25519KeyPair(random.bytes(32));
    const them = new NoiseHandshake(pattern, true, theirStatic);
    them.initialise(prologue, pattern === 'IK' ? ourStatic.publicKey : undefined);
    const us = new HandshakeState({
      protocol,
      initiator: false,
      prologue,
      staticKeyPair: ourStatic,
      random,
    });
    let turn = 0;
    while (!us.isComplete) {
      const payload = Buffer.from(`payload ${turn++}`.repeat(turn));
      if (us.isMyTurn) assert.deepEqual(them.recv(us.writeMessage(payload)), payload);
      else assert.deepEqual(us.readMessage(them.send(payload)), payload);
    }
    assert.deepEqual(us.result().remoteStaticKey, theirStatic.publicKey);
    transportBothWays(us.result(), them);
  });
}

test('a different prologue makes the handshake fail against the oracle', () => {
  const random = new SeededRandom(3);
  const them = new NoiseHandshake('XX', false, generateKeyPair(random.bytes(32)));
  them.initialise(Buffer.from('one'));
  const us = new HandshakeState({
    protocol: NOISE_XX,
    initiator: true,
    prologue: Buffer.from('two'),
    staticKeyPair: x25519KeyPair(random.bytes(32)),
    random,
  });
  them.recv(us.writeMessage());
  assert.throws(() => us.readMessage(them.send()), { code: 'NOISE_DECRYPT' });
});

test('rekey matches libsodium: ChaChaPoly under nonce 2^64 − 1 over 32 zero bytes', () => {
  const key = new SeededRandom(4).bytes(32);
  const expected = Buffer.alloc(48);
  const nonce = Buffer.alloc(12, 0xff);
  nonce.fill(0, 0, 4);
  sodium.crypto_aead_chacha20poly1305_ietf_encrypt(
    expected,
    Buffer.alloc(32),
    null,
    null,
    nonce,
    key,
  );
  const rekeyed = new CipherState(CHACHA_POLY, key);
  rekeyed.rekey();
  const plain = new CipherState(CHACHA_POLY, expected.subarray(0, 32));
  const message = Buffer.from('after rekey');
  assert.deepEqual(rekeyed.encryptWithAd(EMPTY, message), plain.encryptWithAd(EMPTY, message));
  assert.notDeepEqual(
    new CipherState(CHACHA_POLY, key).encryptWithAd(EMPTY, message),
    plain.encryptWithAd(EMPTY, message),
  );
});
