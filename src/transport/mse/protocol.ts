import { createHash } from 'node:crypto';
import { Rc4 } from './rc4.js';

/**
 * Constants and derivations of Message Stream Encryption (the Azureus/Vuze "Message Stream
 * Encryption" text, kept as extras/encryption.txt in Transmission's tree), shared by both roles.
 */

/** PadA, PadB, PadC and PadD are each at most 512 bytes. */
export const MAX_PAD_BYTES = 512;
/** The verification constant: eight zero bytes, sent encrypted. */
export const VC_BYTES = 8;
/** HASH() is SHA-1. */
export const HASH_BYTES = 20;
/** len(IA) is a 16-bit field. */
export const MAX_INITIAL_PAYLOAD_BYTES = 0xffff;
/** Keystream bytes discarded after keying each RC4 direction. */
export const RC4_DISCARD_BYTES = 1024;

/** crypto_provide / crypto_select bits. */
export const CRYPTO_PLAINTEXT = 0x01;
export const CRYPTO_RC4 = 0x02;

/** What follows the handshake: RC4 over everything, or plaintext after the handshake. */
export type MseCipher = 'rc4' | 'plaintext';
/** Which of the two a side accepts. */
export type MseAllow = MseCipher | 'both';

/** The crypto_provide bits for `allow`. */
export function cryptoBits(allow: MseAllow): number {
  if (allow === 'both') return CRYPTO_PLAINTEXT | CRYPTO_RC4;
  return allow === 'rc4' ? CRYPTO_RC4 : CRYPTO_PLAINTEXT;
}

/** SHA-1 over the concatenation of `parts` (strings as ASCII). */
export function mseHash(...parts: (string | Uint8Array)[]): Buffer {
  const h = createHash('sha1');
  for (const p of parts) h.update(typeof p === 'string' ? Buffer.from(p, 'latin1') : p);
  return h.digest();
}

/**
 * HASH('req2', SKEY): what a responder looks torrents up by. A node computes it once per
 * torrent it serves (for a hybrid torrent, once for the v1 info-hash and once for the v2
 * info-hash truncated to 20 bytes), so that finding the torrent is a map lookup.
 */
export function skeyHash(infoHash: Uint8Array): Buffer {
  return mseHash('req2', infoHash);
}

/** An RC4 direction keyed with HASH(`label`, S, SKEY), the first 1024 keystream bytes gone. */
export function mseRc4(label: 'keyA' | 'keyB', secret: Uint8Array, skey: Uint8Array): Rc4 {
  const rc4 = new Rc4(mseHash(label, secret, skey));
  rc4.discard(RC4_DISCARD_BYTES);
  return rc4;
}

/** The two RC4 directions of a connection, as each side uses them. */
export interface MseCiphers {
  readonly encrypt: Rc4;
  readonly decrypt: Rc4;
}

/** The initiator (A) sends with keyA and receives with keyB; the responder (B) the reverse. */
export function mseCiphers(
  role: 'initiator' | 'responder',
  secret: Uint8Array,
  skey: Uint8Array,
): MseCiphers {
  const a = mseRc4('keyA', secret, skey);
  const b = mseRc4('keyB', secret, skey);
  return role === 'initiator' ? { encrypt: a, decrypt: b } : { encrypt: b, decrypt: a };
}

/** What one call of a handshake's `receive` produced. */
export interface MseStep<Outcome> {
  /** Bytes to send to the peer now, in order. */
  readonly send: readonly Buffer[];
  /** Set once the handshake is complete; nothing more is sent or received by the machine. */
  readonly outcome: Outcome | undefined;
}

/** A completed handshake, seen from either side. */
export interface MseOutcome {
  readonly cipher: MseCipher;
  /** The RC4 directions to continue with when `cipher` is `rc4`. */
  readonly ciphers: MseCiphers | undefined;
  /**
   * Bytes of the payload stream that came in the same chunk as the end of the handshake,
   * already decrypted when `cipher` is `rc4`.
   */
  readonly leftover: Buffer;
}

/** `a` xor `b` (both 20 bytes). */
export function xor20(a: Uint8Array, b: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HASH_BYTES);
  for (let n = 0; n < HASH_BYTES; n++) out[n] = a[n]! ^ b[n]!;
  return out;
}

/**
 * Finds the torrent whose HASH('req2', info-hash) a responder received. Owners keep one up to
 * date with the torrents they serve.
 */
export class SkeyTable {
  private readonly byHash = new Map<string, Buffer>();

  /** Makes `infoHash` (20 bytes) reachable over MSE. */
  add(infoHash: Uint8Array): void {
    this.byHash.set(skeyHash(infoHash).toString('latin1'), Buffer.from(infoHash));
  }

  delete(infoHash: Uint8Array): void {
    this.byHash.delete(skeyHash(infoHash).toString('latin1'));
  }

  /** The info-hash whose HASH('req2', info-hash) is `hash`, if served. */
  readonly lookup = (hash: Uint8Array): Buffer | undefined =>
    this.byHash.get(Buffer.from(hash.buffer, hash.byteOffset, hash.length).toString('latin1'));
}
