import { createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';
import { NoiseError } from './errors.js';

/** DHLEN for X25519 (§12.1). */
export const DH_LENGTH = 32;

/** An X25519 key pair: the private key as a node:crypto KeyObject, the public key raw. */
export interface DhKeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: Buffer;
}

/** A remote X25519 public key, raw and as the KeyObject node:crypto needs for DH. */
export interface DhPublicKey {
  readonly raw: Buffer;
  readonly key: KeyObject;
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

/**
 * The X25519 key pair of a 32-byte private key (clamped by X25519 itself). Keys go in as JWK:
 * node:crypto imports JWK about ten times faster than DER here, and the import already computes
 * the public key, which the JWK export then hands back.
 */
export function x25519KeyPair(privateKey: Uint8Array): DhKeyPair {
  if (privateKey.length !== DH_LENGTH) {
    throw new NoiseError('NOISE_BAD_KEY', 'an X25519 private key is 32 bytes');
  }
  const key = createPrivateKey({
    key: { kty: 'OKP', crv: 'X25519', d: b64(privateKey), x: '' },
    format: 'jwk',
  });
  const x = key.export({ format: 'jwk' }).x;
  if (x === undefined) throw new NoiseError('NOISE_BAD_KEY', 'no public key for an X25519 key');
  return { privateKey: key, publicKey: Buffer.from(x, 'base64url') };
}

/** Imports a peer's raw 32-byte X25519 public key; throws `NOISE_BAD_KEY` if it is not one. */
export function x25519PublicKey(raw: Uint8Array): DhPublicKey {
  if (raw.length !== DH_LENGTH) {
    throw new NoiseError('NOISE_BAD_KEY', 'an X25519 public key is 32 bytes');
  }
  try {
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64(raw) }, format: 'jwk' });
    return { raw: Buffer.from(raw), key };
  } catch (error) {
    throw new NoiseError('NOISE_BAD_KEY', 'not an X25519 public key', { cause: error });
  }
}

/**
 * DH(private, public) of §4.1. A public key of small order gives an all-zero secret, which
 * OpenSSL refuses; that surfaces as `NOISE_BAD_KEY` (the "signal an error" choice of §4.1).
 */
export function x25519(privateKey: KeyObject, publicKey: DhPublicKey): Buffer {
  try {
    return diffieHellman({ privateKey, publicKey: publicKey.key });
  } catch (error) {
    throw new NoiseError('NOISE_BAD_KEY', 'the peer sent a weak X25519 public key', {
      cause: error,
    });
  }
}
