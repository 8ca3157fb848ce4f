import { type BValue, decode, type Encodable, encode } from '../codec/bencode.js';
import type { PeerEndpoint } from '../codec/compact.js';
import { IdentityKey } from '../crypto/identity.js';
import { decodeEndpoint, encodeEndpoint } from './endpoint.js';
import { PeerProtocolError } from './errors.js';

/**
 * The BEP 44 salt of a node's address record: the item lives at SHA-1(key ‖ salt), so the same
 * identity can publish other items under other salts.
 */
export const ADDRESS_RECORD_SALT = Buffer.from('shoal/addr/1', 'latin1');

/** Most direct addresses and rendezvous a record carries (and a decoder accepts). */
export const MAX_RECORD_ADDRESSES = 8;
export const MAX_RECORD_RENDEZVOUS = 4;

/** A node that relays introductions (and, failing a punch, bytes) for the record's owner. */
export interface RendezvousPoint {
  readonly key: IdentityKey;
  readonly address: PeerEndpoint;
}

/**
 * Where a key can be reached, as its owner publishes it in the DHT: addresses that accept
 * connections directly (none when it is behind a NAT), and rendezvous nodes it keeps a
 * connection to, through which it can be asked to punch a hole or take a relayed connection.
 * `time` (Unix seconds) says how fresh it is; it is also the BEP 44 sequence number.
 */
export interface AddressRecord {
  readonly addresses: readonly PeerEndpoint[];
  readonly rendezvous: readonly RendezvousPoint[];
  readonly time: number;
}

/**
 * The record as a BEP 44 value: `{a: [compact endpoint…], r: [key ‖ compact endpoint…],
 * t: seconds}`, well under BEP 44's 1000 bytes at the limits above. Endpoints that are not IP
 * literals are left out.
 */
export function addressRecordValue(record: AddressRecord): Encodable {
  const a = record.addresses
    .slice(0, MAX_RECORD_ADDRESSES)
    .map(encodeEndpoint)
    .filter((e) => e !== undefined);
  const r: Buffer[] = [];
  for (const point of record.rendezvous.slice(0, MAX_RECORD_RENDEZVOUS)) {
    const endpoint = encodeEndpoint(point.address);
    if (endpoint !== undefined) r.push(Buffer.concat([point.key.bytes, endpoint]));
  }
  return { a, r, t: record.time };
}

/** The record's bencoded bytes (what the DHT stores as the item's `v`). */
export function encodeAddressRecord(record: AddressRecord): Buffer {
  return encode(addressRecordValue(record));
}

/**
 * Reads a record from the DHT (anyone's bytes, though signed by the key): strict types, at most
 * the limits above, each rendezvous key a valid identity; unknown keys are ignored so later
 * versions can add fields. Throws `PEER_RECORD_INVALID` (a `PeerProtocolError`) otherwise.
 */
export function decodeAddressRecord(value: Uint8Array): AddressRecord {
  let root: BValue;
  try {
    root = decode(value, { limits: { maxDepth: 3, maxValues: 64, maxStringBytes: 64 } });
  } catch (error) {
    throw invalid(`not bencode: ${(error as Error).message}`);
  }
  if (!(root instanceof Map)) throw invalid('not a dictionary');
  const time = root.get('t');
  if (typeof time !== 'number' || time < 0) throw invalid('no time');
  const addresses = list(root.get('a'), 'a', MAX_RECORD_ADDRESSES).map((bytes) => {
    const endpoint = decodeEndpoint(bytes);
    if (endpoint === undefined) throw invalid('an address is not a compact endpoint');
    return endpoint;
  });
  const rendezvous = list(root.get('r'), 'r', MAX_RECORD_RENDEZVOUS).map((bytes) => {
    const address = decodeEndpoint(bytes.subarray(32));
    if (bytes.length < 32 || address === undefined)
      throw invalid('a rendezvous is not a key and a compact endpoint');
    let key: IdentityKey;
    try {
      key = IdentityKey.fromBytes(bytes.subarray(0, 32));
    } catch {
      throw invalid('a rendezvous key is not an identity');
    }
    return { key, address };
  });
  return { addresses, rendezvous, time };
}

function list(value: BValue | undefined, name: string, max: number): Uint8Array[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid(`"${name}" is not a list`);
  if (value.length > max) throw invalid(`"${name}" has ${value.length} entries, at most ${max}`);
  return value.map((entry) => {
    if (!(entry instanceof Uint8Array)) throw invalid(`"${name}" holds something not bytes`);
    return entry;
  });
}

function invalid(message: string): PeerProtocolError {
  return new PeerProtocolError('PEER_RECORD_INVALID', `invalid address record: ${message}`);
}
