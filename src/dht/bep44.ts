import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { type Encodable, encode } from '../codec/bencode.js';

/** BEP 44 limits: a value of at most 1000 bytes bencoded, a salt of at most 64 bytes. */
export const MAX_VALUE_BYTES = 1000;
export const MAX_SALT_BYTES = 64;

const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

/** An item stored in the DHT: immutable (keyed by its hash) or mutable (keyed by key + salt). */
export interface DhtItem {
  /** The bencoded value. */
  readonly v: Buffer;
  /** Mutable items: the ed25519 public key, signature, sequence number and optional salt. */
  readonly k?: Buffer;
  readonly sig?: Buffer;
  readonly seq?: number;
  readonly salt?: Buffer;
}

/** Target of an immutable item: SHA-1 of its bencoded value. */
export function immutableTarget(v: Uint8Array): Buffer {
  return createHash('sha1').update(v).digest();
}

/** Target of a mutable item: SHA-1 of the public key followed by the salt. */
export function mutableTarget(k: Uint8Array, salt?: Uint8Array): Buffer {
  return createHash('sha1')
    .update(k)
    .update(salt ?? Buffer.alloc(0))
    .digest();
}

/** The bytes a mutable item's signature covers (BEP 44). */
export function signedBytes(v: Uint8Array, seq: number, salt?: Uint8Array): Buffer {
  const parts: Buffer[] = [];
  if (salt && salt.length > 0) parts.push(Buffer.from(`4:salt${salt.length}:`), Buffer.from(salt));
  parts.push(Buffer.from(`3:seqi${seq}e1:v`), Buffer.from(v));
  return Buffer.concat(parts);
}

/** True when `sig` is `k`'s ed25519 signature over the item. */
export function verifyMutable(item: DhtItem): boolean {
  if (
    !item.k ||
    !item.sig ||
    item.seq === undefined ||
    item.k.length !== 32 ||
    item.sig.length !== 64
  )
    return false;
  try {
    const key = createPublicKey({
      key: Buffer.concat([SPKI_ED25519, item.k]),
      format: 'der',
      type: 'spki',
    });
    return verify(null, signedBytes(item.v, item.seq, item.salt), key, item.sig);
  } catch {
    return false;
  }
}

/** An ed25519 key pair from a 32-byte seed, for publishing mutable items. */
export interface Ed25519Keys {
  readonly publicKey: Buffer;
  readonly seed: Buffer;
}

/** The public key of a 32-byte ed25519 seed. */
export function keysFromSeed(seed: Buffer): Ed25519Keys {
  const priv = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' });
  return { publicKey: Buffer.from(spki.subarray(spki.length - 32)), seed };
}

/** Signs a mutable item value. */
export function signMutable(
  keys: Ed25519Keys,
  value: Encodable,
  seq: number,
  salt?: Buffer,
): DhtItem {
  const v = encode(value);
  const priv = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519, keys.seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const sig = sign(null, signedBytes(v, seq, salt), priv);
  return { v, k: keys.publicKey, sig, seq, ...(salt && salt.length > 0 && { salt }) };
}

/**
 * BEP 44 items held for others, bounded in count; an item lives for `ttlMs` after its last put.
 */
export class ItemStore {
  private readonly items = new Map<string, { item: DhtItem; at: number }>();

  constructor(
    private readonly maxItems: number,
    private readonly ttlMs: number,
  ) {}

  get(target: Uint8Array, now: number): DhtItem | undefined {
    const e = this.items.get(Buffer.from(target).toString('hex'));
    return e && now - e.at < this.ttlMs ? e.item : undefined;
  }

  set(target: Uint8Array, item: DhtItem, now: number): void {
    const key = Buffer.from(target).toString('hex');
    this.items.delete(key);
    this.items.set(key, { item, at: now });
    while (this.items.size > this.maxItems) this.items.delete(this.items.keys().next().value!);
  }

  get size(): number {
    return this.items.size;
  }
}
