import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { CipherState } from '../../../src/crypto/noise/cipher-state.js';
import { x25519KeyPair } from '../../../src/crypto/noise/dh.js';
import { HandshakeState } from '../../../src/crypto/noise/handshake-state.js';
import { noiseProtocol } from '../../../src/crypto/noise/protocols.js';
import { sharedSpec } from '../../support/shared-specs.js';

interface Vector {
  protocol_name: string;
  init_prologue: string;
  init_static?: string;
  init_ephemeral: string;
  init_remote_static?: string;
  resp_prologue: string;
  resp_static?: string;
  resp_ephemeral: string;
  handshake_hash: string;
  messages: { payload: string; ciphertext: string }[];
}

const vectors = (
  JSON.parse(readFileSync(sharedSpec('specs/noise/vectors.json'), 'utf8')) as {
    vectors: Vector[];
  }
).vectors;

const hex = (s: string) => Buffer.from(s, 'hex');

/** A random source that hands out one fixed ephemeral key, once. */
function fixed(key: string) {
  let used = false;
  return {
    bytes(length: number): Buffer {
      assert.equal(length, 32);
      assert.ok(!used, 'one ephemeral key per handshake');
      used = true;
      return hex(key);
    },
  };
}

test('the vectors file covers shoal’s two suites', () => {
  const names = vectors.map((v) => v.protocol_name);
  assert.ok(names.includes('Noise_XX_25519_ChaChaPoly_BLAKE2b'));
  assert.ok(names.includes('Noise_IK_25519_ChaChaPoly_BLAKE2b'));
});

for (const v of vectors) {
  test(`vector ${v.protocol_name}`, () => {
    const protocol = noiseProtocol(v.protocol_name);
    const initiator = new HandshakeState({
      protocol,
      initiator: true,
      prologue: hex(v.init_prologue),
      ...(v.init_static !== undefined && { staticKeyPair: x25519KeyPair(hex(v.init_static)) }),
      ...(v.init_remote_static !== undefined && { remoteStaticKey: hex(v.init_remote_static) }),
      random: fixed(v.init_ephemeral),
    });
    const responder = new HandshakeState({
      protocol,
      initiator: false,
      prologue: hex(v.resp_prologue),
      ...(v.resp_static !== undefined && { staticKeyPair: x25519KeyPair(hex(v.resp_static)) }),
      random: fixed(v.resp_ephemeral),
    });
    let i = 0;
    for (; !initiator.isComplete; i++) {
      const message = v.messages[i]!;
      const [writer, reader] = i % 2 === 0 ? [initiator, responder] : [responder, initiator];
      const sent = writer.writeMessage(hex(message.payload));
      assert.equal(sent.toString('hex'), message.ciphertext, `handshake message ${i}`);
      assert.equal(reader.readMessage(sent).toString('hex'), message.payload);
    }
    assert.ok(responder.isComplete);
    const a = initiator.result();
    const b = responder.result();
    assert.equal(a.handshakeHash.toString('hex'), v.handshake_hash);
    assert.equal(b.handshakeHash.toString('hex'), v.handshake_hash);
    for (; i < v.messages.length; i++) {
      const message = v.messages[i]!;
      const [send, receive]: CipherState[] =
        i % 2 === 0 ? [a.send, b.receive] : [b.send, a.receive];
      const sent = send!.encryptWithAd(Buffer.alloc(0), hex(message.payload));
      assert.equal(sent.toString('hex'), message.ciphertext, `transport message ${i}`);
      assert.equal(receive!.decryptWithAd(Buffer.alloc(0), sent).toString('hex'), message.payload);
    }
    assert.ok(i > 3, 'the vector has transport messages');
  });
}
