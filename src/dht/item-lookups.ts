import { type BDict, decode, type Encodable, encode } from '../codec/bencode.js';
import type { NodeContact } from '../codec/compact.js';
import {
  type DhtItem,
  type Ed25519Keys,
  type ItemStore,
  immutableTarget,
  MAX_SALT_BYTES,
  MAX_VALUE_BYTES,
  mutableTarget,
  signMutable,
  verifyMutable,
} from './bep44.js';
import { DhtError } from './errors.js';
import type { LookupReply, LookupResult } from './lookup.js';

/**
 * What BEP 44 puts and gets need of the DHT node: its own item store, its clock, a `get`
 * lookup towards a target and single queries. The node supplies these, so the item logic
 * stays apart from the routing and transaction machinery.
 */
export interface ItemLookupHost {
  readonly items: ItemStore;
  now(): number;
  /** An iterative `get` lookup towards `target`; `onReply` sees every answer. */
  lookupGet(
    target: Buffer,
    args: () => Record<string, Encodable | undefined>,
    onReply?: (reply: LookupReply) => void,
  ): Promise<LookupResult>;
  query(to: NodeContact, q: string, a: Record<string, Encodable | undefined>): Promise<BDict>;
}

/**
 * BEP 44 storage over the network: storing immutable and signed mutable items on the nodes
 * closest to their target (get, then put with each node's token) and fetching them back,
 * keeping only items that verify against the target. Kept out of `Dht`, which stays the
 * facade over lookups, routing and announces.
 */
export class ItemLookups {
  constructor(private readonly host: ItemLookupHost) {}

  /** Stores an immutable value (BEP 44); resolves with its target and how many nodes took it. */
  async putImmutable(value: Encodable): Promise<{ target: Buffer; stored: number }> {
    const v = encode(value);
    if (v.length > MAX_VALUE_BYTES)
      throw new DhtError(`value is ${v.length} bytes; BEP 44 allows ${MAX_VALUE_BYTES}`);
    const target = immutableTarget(v);
    const stored = await this.put(target, { v }, () => ({ v: decode(v) as Encodable }));
    return { target, stored };
  }

  /** Stores a mutable value signed with `keys` (BEP 44); seq defaults to one above what is found. */
  async putMutable(
    keys: Ed25519Keys,
    value: Encodable,
    options: { seq?: number; salt?: Buffer } = {},
  ): Promise<{ target: Buffer; seq: number; stored: number }> {
    const salt = options.salt;
    if (salt && salt.length > MAX_SALT_BYTES) throw new DhtError('salt longer than 64 bytes');
    const target = mutableTarget(keys.publicKey, salt);
    let seq = options.seq;
    if (seq === undefined) {
      const current = await this.getItem(target, salt);
      seq = (current?.seq ?? -1) + 1;
    }
    const item = signMutable(keys, value, seq, salt);
    if (item.v.length > MAX_VALUE_BYTES)
      throw new DhtError(`value is ${item.v.length} bytes; BEP 44 allows ${MAX_VALUE_BYTES}`);
    const stored = await this.put(target, item, () => ({
      v: decode(item.v) as Encodable,
      k: item.k,
      sig: item.sig,
      seq: item.seq,
      ...(salt && salt.length > 0 && { salt }),
    }));
    return { target, seq, stored };
  }

  /** Fetches an item by target: immutable (verified by hash) or mutable (signature, highest seq). */
  async getItem(target: Buffer, salt?: Buffer): Promise<DhtItem | undefined> {
    const local = this.host.items.get(target, this.host.now());
    let best: DhtItem | undefined = local;
    await this.host.lookupGet(
      target,
      () => ({ target }),
      (reply) => {
        const item = itemFromReply(reply.r, salt);
        if (!item || !validItem(target, item)) return;
        if (!best || (item.seq !== undefined && (best.seq ?? -1) < item.seq)) best = item;
      },
    );
    return best;
  }

  private async put(
    target: Buffer,
    item: DhtItem,
    args: () => Record<string, Encodable | undefined>,
  ): Promise<number> {
    this.host.items.set(target, item, this.host.now());
    const r = await this.host.lookupGet(target, () => ({ target }));
    const results = await Promise.all(
      r.closest.map(({ contact, r: reply }) => {
        const token = reply.get('token');
        if (!(token instanceof Uint8Array)) return Promise.resolve(false);
        return this.host.query(contact, 'put', { ...args(), token }).then(
          () => true,
          () => false,
        );
      }),
    );
    return results.filter(Boolean).length;
  }
}

function itemFromReply(r: BDict, salt?: Buffer): DhtItem | undefined {
  const v = r.get('v');
  if (v === undefined) return undefined;
  const k = r.get('k');
  const sig = r.get('sig');
  const seq = r.get('seq');
  return {
    v: encode(v as Encodable),
    ...(k instanceof Uint8Array && { k: Buffer.from(k) }),
    ...(sig instanceof Uint8Array && { sig: Buffer.from(sig) }),
    ...(typeof seq === 'number' && { seq }),
    ...(salt && salt.length > 0 && { salt }),
  };
}

function validItem(target: Buffer, item: DhtItem): boolean {
  if (!item.k) return immutableTarget(item.v).equals(target);
  return mutableTarget(item.k, item.salt).equals(target) && verifyMutable(item);
}
