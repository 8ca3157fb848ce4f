import { createDiffieHellman, type DiffieHellman } from 'node:crypto';
import type { RandomSource } from '../../runtime/runtime.js';
import { MseHandshakeError } from './errors.js';

/** The 768-bit safe prime P of Message Stream Encryption (the generator is 2). */
export const MSE_PRIME = Buffer.from(
  'FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404' +
    'DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563',
  'hex',
);

/** Bytes of P, of each public key (Ya, Yb) and of the shared secret S, big-endian. */
export const DH_KEY_BYTES = 96;

/** P - 1: a public key must lie strictly between 1 and this (OpenSSL lets some larger ones by). */
const PRIME_MINUS_ONE = Buffer.from(MSE_PRIME);
PRIME_MINUS_ONE[DH_KEY_BYTES - 1] = PRIME_MINUS_ONE[DH_KEY_BYTES - 1]! - 1;

/** True for a 96-byte big-endian value in (1, P - 1). */
function inRange(key: Uint8Array): boolean {
  if (key.length !== DH_KEY_BYTES) return false;
  if (Buffer.compare(key, PRIME_MINUS_ONE) >= 0) return false;
  for (let n = 0; n < DH_KEY_BYTES - 1; n++) if (key[n] !== 0) return true;
  return key[DH_KEY_BYTES - 1]! > 1;
}

/**
 * True when S begins with a zero byte (1 in 256 handshakes). libtorrent 1.1 to 2.0 (Debian's
 * 2.0.8 among them) hash S for HASH('req3', S) without its leading zero bytes and a stray byte
 * in their place, so with such an S its obfuscated info-hash is wrong and the handshake fails.
 * A responder sees Ya before it picks its key and can pick again; an initiator can only dial
 * again.
 */
export function trippedByUnpaddedSecret(secret: Uint8Array): boolean {
  return secret[0] === 0;
}

/** Private keys are 160 bits, the length the spec recommends. */
const PRIVATE_KEY_BYTES = 20;

// Creating the group checks that P is a safe prime, which costs ~20 ms; one group object serves
// every handshake (each use sets its private key first, and JavaScript runs them one at a time).
// Reusing it, a key pair costs ~0.07 ms and a shared secret ~0.05 ms, against ~0.3 ms each for
// a bigint square-and-multiply.
let group: DiffieHellman | undefined;
const mseGroup = (): DiffieHellman => {
  group ??= createDiffieHellman(MSE_PRIME, 2);
  return group;
};

/** `value` left-padded with zeros to the 96 bytes every MSE key and secret takes on the wire. */
const pad = (value: Buffer): Buffer => {
  if (value.length === DH_KEY_BYTES) return value;
  const out = Buffer.alloc(DH_KEY_BYTES);
  value.copy(out, DH_KEY_BYTES - value.length);
  return out;
};

/**
 * One side's Diffie-Hellman key pair for one MSE handshake: the private key comes from the
 * runtime's random source (so simulations replay), the public key is what goes on the wire.
 */
export class MseKeyPair {
  /** Our public key Y = 2^X mod P, 96 bytes. */
  readonly publicKey: Buffer;
  private readonly privateKey: Buffer;

  constructor(random: RandomSource) {
    this.privateKey = random.bytes(PRIVATE_KEY_BYTES);
    this.privateKey[0] = this.privateKey[0]! | 0x80; // a full 160 bits, never a trivial key
    const dh = mseGroup();
    dh.setPrivateKey(this.privateKey);
    this.publicKey = pad(dh.generateKeys());
  }

  /**
   * The shared secret S from the peer's 96-byte public key. @throws {MseHandshakeError} for
   * keys outside (1, P - 1), which no honest peer sends (they would force a known secret).
   */
  sharedSecret(peerPublicKey: Uint8Array): Buffer {
    if (!inRange(peerPublicKey)) {
      throw new MseHandshakeError('bad-key', "the peer's public key is not in (1, P - 1)");
    }
    const dh = mseGroup();
    dh.setPrivateKey(this.privateKey);
    try {
      return pad(dh.computeSecret(peerPublicKey));
    } catch (error) {
      throw new MseHandshakeError(
        'bad-key',
        `the peer's public key is not a valid group element (${(error as Error).message})`,
      );
    }
  }
}
