import { createHash } from 'node:crypto';
import { type Encodable, encode } from '../../codec/bencode.js';
import type { Identity, IdentityKey } from '../../crypto/identity.js';
import { type PeerAddress, parsePeer } from '../../metainfo/magnet.js';
import { decodeContact, encodeContact, type PeerContact, peerKey } from '../../overlay/contact.js';
import { OverlayMessageError } from '../../overlay/errors.js';
import { MessageFields } from '../../overlay/fields.js';
import { KeywordFilter } from './keyword-filter.js';
import { decodeRecord, type SearchRecord } from './record.js';

/** The search protocol's channel name. */
export const SEARCH_PROTOCOL = 'shoal/search';

/** Bytes of a query id. */
export const QUERY_ID_BYTES = 16;
/** Keywords one query may carry. */
export const MAX_QUERY_WORDS = 8;
/** Records one hit may carry. */
export const MAX_HIT_RECORDS = 20;
/** Longest walk or flood a query may ask for, in hops. */
export const MAX_QUERY_TTL = 1024;
/** Ultrapeer contacts one list carries. */
export const MAX_ULTRAPEER_LIST = 16;
/** BitTorrent addresses a hit may name. */
const MAX_HIT_PEERS = 4;

/** How a query travels (one strategy each). */
export const QueryMode = { flood: 0, walk: 1, ultrapeer: 2 } as const;
/** A query's routing strategy. */
export type QueryMode = (typeof QueryMode)[keyof typeof QueryMode];

/**
 * How far an ultrapeer query has come: from the origin to its ultrapeer (`entry`), from the
 * entry ultrapeer to a neighbour ultrapeer whose summary matched (`neighbor`) or to a random
 * one when nothing matched (`expand`, which looks one ultrapeer further), from an ultrapeer to
 * a leaf whose summary matched (`leaf`, answered, never forwarded).
 */
export const Scope = { entry: 0, neighbor: 1, expand: 2, leaf: 3 } as const;
/** An ultrapeer query's scope. */
export type Scope = (typeof Scope)[keyof typeof Scope];

/** A query as it travels. */
export interface QueryMessage {
  readonly type: 'query';
  readonly id: Buffer;
  /** Normalised keywords. */
  readonly words: readonly string[];
  readonly mode: QueryMode;
  /** Hops it may still take (flooding, walks). */
  readonly ttl: number;
  /** Hops taken. */
  readonly hops: number;
  /** Ultrapeer routing: how far it has come. */
  readonly scope: Scope;
  /** Walks: which walker. */
  readonly walker: number;
  /** The origin, for answers sent straight to it (walks). */
  readonly origin: PeerContact | undefined;
}

/** An answer: the responder's records, signed by the responder for this query. */
export interface HitMessage {
  readonly type: 'hit';
  readonly id: Buffer;
  readonly responder: IdentityKey;
  readonly responderId: string;
  readonly peers: readonly PeerAddress[];
  readonly records: readonly SearchRecord[];
  readonly signature: Buffer;
  /** The hit as received (relays pass it on unchanged). */
  readonly encoded: Buffer;
}

/** The other messages: walk check-backs, ultrapeer attachment, summaries, ultrapeer lists. */
export type SearchMessage =
  | QueryMessage
  | HitMessage
  | { readonly type: 'check'; readonly id: Buffer; readonly walker: number; readonly hops: number }
  | {
      readonly type: 'check-reply';
      readonly id: Buffer;
      readonly walker: number;
      readonly go: boolean;
    }
  | { readonly type: 'attach'; readonly contact: PeerContact; readonly filter: KeywordFilter }
  | {
      readonly type: 'attach-reply';
      readonly accepted: boolean;
      readonly ultrapeers: readonly UltrapeerInfo[];
    }
  | { readonly type: 'filter'; readonly filter: KeywordFilter }
  | { readonly type: 'detach'; readonly ultrapeers: readonly UltrapeerInfo[] }
  | { readonly type: 'ultrapeer-request' }
  | { readonly type: 'ultrapeer-list'; readonly ultrapeers: readonly UltrapeerInfo[] };

/** An ultrapeer someone knows of, with how full it said it was (percent of its leaf slots). */
export interface UltrapeerInfo {
  readonly contact: PeerContact;
  readonly load: number;
}

const TYPES = [
  'query',
  'hit',
  'check',
  'check-reply',
  'attach',
  'attach-reply',
  'filter',
  'detach',
  'ultrapeer-request',
  'ultrapeer-list',
] as const;

/** The channel message type of a hit (relays pass hits on without re-encoding them). */
export const HIT_TYPE = TYPES.indexOf('hit') + 1;

const HIT_DOMAIN = Buffer.from('shoal/search/hit/1\0', 'latin1');

function peerText(p: PeerAddress): string {
  return p.host.includes(':') ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`;
}

function hitSignedBytes(
  id: Buffer,
  responder: IdentityKey,
  peers: readonly PeerAddress[],
  records: readonly Uint8Array[],
): Buffer {
  const h = createHash('sha256');
  for (const r of records) h.update(r);
  return Buffer.concat([
    HIT_DOMAIN,
    id,
    responder.bytes,
    Buffer.from(peers.map(peerText).join(','), 'latin1'),
    h.digest(),
  ]);
}

/** Signs and encodes the hit of `identity` for query `id`. */
export function makeHit(
  identity: Identity,
  id: Buffer,
  peers: readonly PeerAddress[],
  records: readonly SearchRecord[],
): { type: number; payload: Buffer } {
  const list = records.slice(0, MAX_HIT_RECORDS).map((r) => r.encoded);
  const shown = peers.slice(0, MAX_HIT_PEERS);
  const signature = identity.sign(hitSignedBytes(id, identity.publicKey, shown, list));
  return {
    type: HIT_TYPE,
    payload: encode({
      a: shown.map(peerText),
      p: identity.publicKey.bytes,
      q: id,
      r: list,
      s: signature,
    }),
  };
}

/** Whether the responder signed this hit (the records' own signatures are checked apart). */
export function verifyHit(hit: HitMessage): boolean {
  return hit.responder.verify(
    hitSignedBytes(
      hit.id,
      hit.responder,
      hit.peers,
      hit.records.map((r) => r.encoded),
    ),
    hit.signature,
  );
}

function ultrapeerList(list: readonly UltrapeerInfo[]): Encodable {
  return list.slice(0, MAX_ULTRAPEER_LIST).map((u) => [encodeContact(u.contact), u.load]);
}

/** Encodes any search message but a hit (see {@link makeHit}). */
export function encodeSearch(m: Exclude<SearchMessage, HitMessage>): {
  type: number;
  payload: Buffer;
} {
  const type = TYPES.indexOf(m.type) + 1;
  let body: { readonly [key: string]: Encodable | undefined };
  switch (m.type) {
    case 'query':
      body = {
        h: m.hops,
        k: m.walker,
        m: m.mode,
        o: m.origin === undefined ? undefined : encodeContact(m.origin),
        q: m.id,
        s: m.scope,
        t: m.ttl,
        w: [...m.words],
      };
      break;
    case 'check':
      body = { h: m.hops, k: m.walker, q: m.id };
      break;
    case 'check-reply':
      body = { c: m.go ? 1 : 0, k: m.walker, q: m.id };
      break;
    case 'attach':
      body = { c: encodeContact(m.contact), f: m.filter.encode() };
      break;
    case 'attach-reply':
      body = { a: m.accepted ? 1 : 0, u: ultrapeerList(m.ultrapeers) };
      break;
    case 'filter':
      body = { f: m.filter.encode() };
      break;
    case 'detach':
    case 'ultrapeer-list':
      body = { u: ultrapeerList(m.ultrapeers) };
      break;
    case 'ultrapeer-request':
      body = {};
      break;
  }
  return { type, payload: encode(body) };
}

function decodeUltrapeers(f: MessageFields): UltrapeerInfo[] {
  return f.list('u', MAX_ULTRAPEER_LIST).map((entry, i) => {
    if (!Array.isArray(entry) || entry.length !== 2)
      throw f.fail(`u[${i}] must be [contact, load]`);
    const load = entry[1];
    if (typeof load !== 'number' || load < 0 || load > 100) throw f.fail(`u[${i}] load is 0..100`);
    return { contact: decodeContact(entry[0], `u[${i}]`), load };
  });
}

/**
 * Decodes a search message; throws {@link OverlayMessageError} for anything malformed.
 * Signatures (hit and records) are not checked here: the origin checks what it keeps.
 */
export function decodeSearch(type: number, payload: Uint8Array): SearchMessage {
  const name = TYPES[type - 1];
  if (name === undefined) throw new OverlayMessageError(`unknown search message type ${type}`);
  const f = MessageFields.decode(payload, `search ${name}`);
  const id = () => f.bytes('q', QUERY_ID_BYTES);
  switch (name) {
    case 'query': {
      const words = f.texts('w', MAX_QUERY_WORDS, 200);
      if (words.length === 0) throw f.fail('a query has at least one keyword');
      const mode = f.int('m', 0, 2) as QueryMode;
      return {
        type: name,
        id: id(),
        words,
        mode,
        ttl: f.int('t', 0, MAX_QUERY_TTL),
        hops: f.int('h', 0, MAX_QUERY_TTL),
        scope: f.int('s', 0, 3) as Scope,
        walker: f.int('k', 0, 255),
        origin: f.has('o') ? decodeContact(f.list('o', 3), 'query.o') : undefined,
      };
    }
    case 'hit': {
      const { key, id: responderId } = peerKey(f.bytes('p', 32));
      const peers = f.texts('a', MAX_HIT_PEERS, 64).map((text) => {
        try {
          return parsePeer(text);
        } catch {
          throw f.fail('a peer is "host:port"');
        }
      });
      return {
        type: name,
        id: id(),
        responder: key,
        responderId,
        peers,
        records: f.list('r', MAX_HIT_RECORDS).map((r) => {
          if (!(r instanceof Uint8Array)) throw f.fail('a record is a byte string');
          return decodeRecord(r);
        }),
        signature: f.bytes('s', 64),
        encoded: Buffer.from(payload),
      };
    }
    case 'check':
      return {
        type: name,
        id: id(),
        walker: f.int('k', 0, 255),
        hops: f.int('h', 0, MAX_QUERY_TTL),
      };
    case 'check-reply':
      return { type: name, id: id(), walker: f.int('k', 0, 255), go: f.int('c', 0, 1) === 1 };
    case 'attach':
      return {
        type: name,
        contact: decodeContact(f.list('c', 3), 'attach.c'),
        filter: KeywordFilter.decode(f.bytes('f', 8193, false)),
      };
    case 'attach-reply':
      return { type: name, accepted: f.int('a', 0, 1) === 1, ultrapeers: decodeUltrapeers(f) };
    case 'filter':
      return { type: name, filter: KeywordFilter.decode(f.bytes('f', 8193, false)) };
    case 'detach':
    case 'ultrapeer-list':
      return { type: name, ultrapeers: decodeUltrapeers(f) };
    case 'ultrapeer-request':
      return { type: name };
  }
}
