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

/**
 * True when a public key begins with 19, the first byte of a plaintext BitTorrent handshake:
 * Transmission 3.00 decides an incoming connection is plaintext from that byte alone and drops
 * the key exchange (1 dial in 256). An initiator picks another key.
 */
export function passesForPlaintext(publicKey: Uint8Array): boolean {
  return publicKey[0] === 19;
}

/** Private keys are 160 bits, the length the spec recommends. */
const PRIVATE_KEY_BYTES = 20;

// Creating a node:crypto group checks that P is a safe prime, which costs ~20 ms: a CLI `get`
// dialling one peer spent more on that than on its key exchange. So the first key operations of
// a process use bigint square-and-multiply (~0.23 ms each), and only a process that goes on
// making handshakes builds the group, which then serves every handshake (each use sets its
// private key first, and JavaScript runs them one at a time) at ~0.05 ms an operation.
/** Key operations done in bigint arithmetic before the node:crypto group is built. */
export const BIGINT_KEY_OPERATIONS = 32;
let bigintOperations = 0;
let group: DiffieHellman | undefined;
const P = BigInt(`0x${MSE_PRIME.toString('hex')}`);
const toBigint = (bytes: Uint8Array): bigint => BigInt(`0x${Buffer.from(bytes).toString('hex')}`);

/** `base`^`exponent` mod P, 96 bytes; `base` 2 when absent (a public key). */
function power(exponent: Buffer, base?: Uint8Array): Buffer {
  if (group === undefined && bigintOperations < BIGINT_KEY_OPERATIONS) {
    bigintOperations++;
    let result = 1n;
    let b = base === undefined ? 2n : toBigint(base) % P;
    for (let e = toBigint(exponent); e > 0n; e >>= 1n) {
      if (e & 1n) result = (result * b) % P;
      b = (b * b) % P;
    }
    return Buffer.from(result.toString(16).padStart(2 * DH_KEY_BYTES, '0'), 'hex');
  }
  group ??= createDiffieHellman(MSE_PRIME, 2);
  group.setPrivateKey(exponent);
  return pad(base === undefined ? group.generateKeys() : group.computeSecret(base));
}

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
    this.publicKey = power(this.privateKey);
  }

  /**
   * The shared secret S from the peer's 96-byte public key. @throws {MseHandshakeError} for
   * keys outside (1, P - 1), which no honest peer sends (they would force a known secret).
   */
  sharedSecret(peerPublicKey: Uint8Array): Buffer {
    if (!inRange(peerPublicKey)) {
      throw new MseHandshakeError('bad-key', "the peer's public key is not in (1, P - 1)");
    }
    try {
      return power(this.privateKey, peerPublicKey);
    } catch (error) {
      throw new MseHandshakeError(
        'bad-key',
        `the peer's public key is not a valid group element (${(error as Error).message})`,
      );
    }
  }
}
