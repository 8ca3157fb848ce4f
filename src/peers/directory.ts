import { createHash } from 'node:crypto';
import type { Encodable } from '../codec/bencode.js';
import type { PeerEndpoint } from '../codec/compact.js';
import type { Identity, IdentityKey } from '../crypto/identity.js';
import {
  ADDRESS_RECORD_SALT,
  type AddressRecord,
  addressRecordValue,
  decodeAddressRecord,
} from './address-record.js';

/** The part of the DHT the directory uses (the node's `Dht`; a fake in tests). */
export interface DhtAccess {
  putMutable(
    keys: { readonly publicKey: Buffer; readonly seed: Buffer },
    value: Encodable,
    options: { seq?: number; salt?: Buffer },
  ): Promise<{ stored: number }>;
  getItem(
    target: Buffer,
    salt?: Buffer,
  ): Promise<{ readonly v: Buffer; readonly seq?: number } | undefined>;
  announce(infoHash: Buffer, port: number): Promise<unknown>;
  getPeers(infoHash: Buffer): Promise<{ readonly peers: readonly PeerEndpoint[] }>;
}

/**
 * The info-hash under which nodes that relay and introduce for others announce themselves
 * (BEP 5 `announce_peer`), so a node behind a NAT can find some without knowing any key.
 */
export const RELAY_DIRECTORY_HASH = createHash('sha1').update('shoal relays v1').digest();

/**
 * Where keys are found: each node publishes its {@link AddressRecord} as a BEP 44 mutable item
 * signed by its identity (k = the identity's ed25519 key, salt `shoal/addr/1`, seq = the
 * record's time), and anyone who knows a key fetches it from SHA-1(key ‖ salt). The DHT nodes
 * that store it check the signature, so only the key's owner can say where it is; a higher
 * sequence number replaces an older record everywhere.
 */
export class KeyDirectory {
  private lastSeq = 0;
  private synced = false;
  /** Where our own record lives. */
  private readonly target: Buffer;

  constructor(
    private readonly dht: DhtAccess,
    private readonly identity: Identity,
  ) {
    this.target = recordTarget(identity.publicKey);
  }

  /** Publishes our record; resolves with how many DHT nodes stored it. */
  async publish(record: AddressRecord): Promise<number> {
    // The record's time is its sequence number; never reuse or go back, not even past a
    // restart with a clock that stepped back: the first time, start above what the DHT holds.
    if (!this.synced) {
      const current = await this.dht.getItem(this.target, ADDRESS_RECORD_SALT);
      this.lastSeq = Math.max(this.lastSeq, current?.seq ?? 0);
      this.synced = true;
    }
    const seq = Math.max(record.time, this.lastSeq + 1);
    this.lastSeq = seq;
    const keys = { publicKey: this.identity.publicKey.bytes, seed: this.identity.exportSeed() };
    const { stored } = await this.dht.putMutable(
      keys,
      addressRecordValue({ ...record, time: seq }),
      { seq, salt: ADDRESS_RECORD_SALT },
    );
    return stored;
  }

  /**
   * The record of `key`, or undefined when the DHT has none (or only a malformed one: a signed
   * record is its owner's word, but a broken one is no use).
   */
  async lookup(key: IdentityKey): Promise<AddressRecord | undefined> {
    const item = await this.dht.getItem(recordTarget(key), ADDRESS_RECORD_SALT);
    if (item === undefined) return undefined;
    try {
      return decodeAddressRecord(item.v);
    } catch {
      return undefined;
    }
  }

  /** Announces us as a relay and rendezvous on `port`. */
  announceRelay(port: number): Promise<unknown> {
    return this.dht.announce(RELAY_DIRECTORY_HASH, port);
  }

  /** Nodes that announced themselves as relays. */
  async findRelays(): Promise<readonly PeerEndpoint[]> {
    return (await this.dht.getPeers(RELAY_DIRECTORY_HASH)).peers;
  }
}

/** The DHT target of a key's record: SHA-1(key ‖ salt), as BEP 44 defines for mutable items. */
function recordTarget(key: IdentityKey): Buffer {
  return createHash('sha1').update(key.bytes).update(ADDRESS_RECORD_SALT).digest();
}
