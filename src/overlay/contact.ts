import type { BValue, Encodable } from '../codec/bencode.js';
import { IdentityError, IdentityKey } from '../crypto/identity.js';
import { type PeerAddress, parsePeer } from '../metainfo/magnet.js';
import { OverlayMessageError } from './errors.js';

/** A contact's flags: what the peer said it is. */
export const ContactFlag = {
  /** The peer is an ultrapeer (routes search queries for leaves). */
  ULTRAPEER: 1,
} as const;

/** Addresses a contact may carry (a node rarely has more than an IPv4 and an IPv6 one). */
export const MAX_CONTACT_ADDRESSES = 4;

/**
 * A peer of the overlay: its key (its name; the secure channel proves it), a few addresses
 * where it was last reachable (hints: the key is the truth, an address may be stale), and
 * flags such as "ultrapeer". `id` is the key's text form, computed once, for map keys.
 */
export interface PeerContact {
  readonly id: string;
  readonly key: IdentityKey;
  readonly addresses: readonly PeerAddress[];
  readonly flags: number;
}

/** Checked keys by raw bytes (hex): checking a key costs ~80 µs, a lookup well under 1. */
const checkedKeys = new Map<string, { key: IdentityKey; id: string }>();
const MAX_CHECKED_KEYS = 1 << 16;

/**
 * The identity of 32 key bytes from the network, checked once and remembered (a bounded
 * cache, oldest forgotten first): the same few thousand keys arrive over and over in views,
 * shuffles and answers. Throws {@link OverlayMessageError} for bytes that are no key.
 */
export function peerKey(bytes: Uint8Array): { key: IdentityKey; id: string } {
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
  const known = checkedKeys.get(hex);
  if (known !== undefined) return known;
  let key: IdentityKey;
  try {
    key = IdentityKey.fromBytes(bytes);
  } catch (error) {
    if (error instanceof IdentityError) throw new OverlayMessageError(error.message);
    throw error;
  }
  const entry = { key, id: key.toString() };
  if (checkedKeys.size >= MAX_CHECKED_KEYS) {
    const oldest = checkedKeys.keys().next().value;
    if (oldest !== undefined) checkedKeys.delete(oldest);
  }
  checkedKeys.set(hex, entry);
  return entry;
}

/** A contact for `key`. */
export function contactOf(
  key: IdentityKey,
  addresses: readonly PeerAddress[] = [],
  flags = 0,
): PeerContact {
  const { id } = peerKey(key.bytes);
  return { id, key, addresses: addresses.slice(0, MAX_CONTACT_ADDRESSES), flags };
}

/** The same contact with other flags. */
export function withFlags(contact: PeerContact, flags: number): PeerContact {
  return flags === contact.flags ? contact : { ...contact, flags };
}

/** A contact as a bencode list: `[key, flags, ["host:port", …]]`. */
export function encodeContact(contact: PeerContact): Encodable {
  return [
    contact.key.bytes,
    contact.flags,
    contact.addresses.map((a) =>
      a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`,
    ),
  ];
}

/** Reads a contact written by {@link encodeContact}; throws {@link OverlayMessageError}. */
export function decodeContact(value: BValue | undefined, what: string): PeerContact {
  if (!Array.isArray(value) || value.length !== 3)
    throw new OverlayMessageError(`${what} must be a contact [key, flags, addresses]`);
  const [keyBytes, flags, addresses] = value;
  if (!(keyBytes instanceof Uint8Array) || keyBytes.length !== 32)
    throw new OverlayMessageError(`${what}: a key is 32 bytes`);
  if (typeof flags !== 'number' || flags < 0 || flags > 0xffff)
    throw new OverlayMessageError(`${what}: flags must be an integer in 0..65535`);
  if (!Array.isArray(addresses) || addresses.length > MAX_CONTACT_ADDRESSES)
    throw new OverlayMessageError(`${what}: at most ${MAX_CONTACT_ADDRESSES} addresses`);
  const parsed = addresses.map((a) => {
    if (!(a instanceof Uint8Array) || a.length > 64)
      throw new OverlayMessageError(`${what}: an address is "host:port" text`);
    try {
      return parsePeer(Buffer.from(a).toString('latin1'));
    } catch {
      throw new OverlayMessageError(`${what}: an address is "host:port" text`);
    }
  });
  const { key, id } = peerKey(keyBytes);
  return { id, key, addresses: parsed, flags };
}

/** Reads a list of contacts (at most `max`). */
export function decodeContacts(
  value: BValue | undefined,
  max: number,
  what: string,
): PeerContact[] {
  if (!Array.isArray(value) || value.length > max)
    throw new OverlayMessageError(`${what} must be a list of at most ${max} contacts`);
  return value.map((v, i) => decodeContact(v, `${what}[${i}]`));
}
