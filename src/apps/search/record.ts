import { type Encodable, encode } from '../../codec/bencode.js';
import type { Identity, IdentityKey } from '../../crypto/identity.js';
import { ShoalError } from '../../errors.js';
import { formatMagnet, type PeerAddress } from '../../metainfo/magnet.js';
import { peerKey } from '../../overlay/contact.js';
import { OverlayMessageError } from '../../overlay/errors.js';
import { MessageFields } from '../../overlay/fields.js';

/** Longest name in a record, bytes of UTF-8. */
export const MAX_RECORD_NAME_BYTES = 512;
/** Tags a record may carry, and the longest, in bytes. */
export const MAX_RECORD_TAGS = 8;
export const MAX_TAG_BYTES = 32;
/** Largest encoded record. */
export const MAX_RECORD_BYTES = 1024;

const DOMAIN = Buffer.from('shoal/search/record/1\0', 'latin1');

/** A search record's content, before it is signed. */
export interface RecordFields {
  readonly infoHashV1?: Buffer;
  readonly infoHashV2?: Buffer;
  readonly name: string;
  /** Total bytes of the torrent's files. */
  readonly size: number;
  readonly files: number;
  /** Seeders the publisher has seen lately (its own claim: shown, never ranked on). */
  readonly seeders: number;
  /** When the publisher signed it, Unix seconds. */
  readonly timestamp: number;
  readonly tags: readonly string[];
}

/**
 * "I share this": a torrent described by its publisher (the node that shares it) and signed
 * with its key, so a record can be relayed, cached and merged without anyone being able to
 * change it or pass it off as another node's. It becomes a magnet link.
 */
export interface SearchRecord extends RecordFields {
  readonly publisher: IdentityKey;
  readonly publisherId: string;
  readonly signature: Buffer;
  /** The record as sent. */
  readonly encoded: Buffer;
  /** What identifies the torrent: its info-hashes, hex, "v1/v2" (either may be empty). */
  readonly torrentKey: string;
}

/** A record that is malformed or whose signature does not hold. */
export class SearchRecordError extends ShoalError {
  constructor(message: string) {
    super('SEARCH_RECORD_INVALID', message);
  }
}

function body(
  publisher: IdentityKey,
  f: RecordFields,
): { readonly [key: string]: Encodable | undefined } {
  return {
    f: f.files,
    g: [...f.tags],
    h: f.infoHashV1,
    h2: f.infoHashV2,
    n: f.name,
    p: publisher.bytes,
    s: f.size,
    sd: f.seeders,
    t: f.timestamp,
  };
}

function signedBytes(publisher: IdentityKey, f: RecordFields): Buffer {
  return Buffer.concat([DOMAIN, encode(body(publisher, f))]);
}

function checkFields(f: RecordFields): void {
  if (f.infoHashV1 === undefined && f.infoHashV2 === undefined)
    throw new SearchRecordError('a record names at least one info-hash');
  if (f.infoHashV1 !== undefined && f.infoHashV1.length !== 20)
    throw new SearchRecordError('a v1 info-hash is 20 bytes');
  if (f.infoHashV2 !== undefined && f.infoHashV2.length !== 32)
    throw new SearchRecordError('a v2 info-hash is 32 bytes');
  if (Buffer.byteLength(f.name) > MAX_RECORD_NAME_BYTES)
    throw new SearchRecordError(`a record name is at most ${MAX_RECORD_NAME_BYTES} bytes`);
  if (f.tags.length > MAX_RECORD_TAGS || f.tags.some((t) => Buffer.byteLength(t) > MAX_TAG_BYTES))
    throw new SearchRecordError(`at most ${MAX_RECORD_TAGS} tags of ${MAX_TAG_BYTES} bytes`);
  for (const [what, v] of [
    ['size', f.size],
    ['files', f.files],
    ['seeders', f.seeders],
    ['timestamp', f.timestamp],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new SearchRecordError(`${what} must be ≥ 0`);
  }
}

function torrentKeyOf(f: RecordFields): string {
  return `${f.infoHashV1?.toString('hex') ?? ''}/${f.infoHashV2?.toString('hex') ?? ''}`;
}

/** Signs a record as `identity`; throws {@link SearchRecordError} for fields out of bounds. */
export function signRecord(identity: Identity, fields: RecordFields): SearchRecord {
  checkFields(fields);
  const publisher = identity.publicKey;
  const signature = identity.sign(signedBytes(publisher, fields));
  const encoded = encode({ ...body(publisher, fields), sig: signature });
  if (encoded.length > MAX_RECORD_BYTES)
    throw new SearchRecordError(`a record is at most ${MAX_RECORD_BYTES} bytes encoded`);
  return {
    ...fields,
    tags: [...fields.tags],
    publisher,
    publisherId: peerKey(publisher.bytes).id,
    signature,
    encoded,
    torrentKey: torrentKeyOf(fields),
  };
}

/**
 * Reads a record's structure (throws `OverlayMessageError`); {@link verifyRecord} checks the
 * signature, which costs ~130 µs, so callers check only records they keep.
 */
export function decodeRecord(bytes: Uint8Array): SearchRecord {
  if (bytes.length > MAX_RECORD_BYTES)
    throw new OverlayMessageError(`a record is at most ${MAX_RECORD_BYTES} bytes`);
  const f = MessageFields.decode(bytes, 'search record');
  const infoHashV1 = f.optionalBytes('h', 20);
  const infoHashV2 = f.optionalBytes('h2', 32);
  if (infoHashV1 === undefined && infoHashV2 === undefined)
    throw f.fail('a record names at least one info-hash');
  const fields: RecordFields = {
    ...(infoHashV1 !== undefined && { infoHashV1 }),
    ...(infoHashV2 !== undefined && { infoHashV2 }),
    name: f.text('n', MAX_RECORD_NAME_BYTES),
    size: f.int('s', 0, Number.MAX_SAFE_INTEGER),
    files: f.int('f', 0, 10_000_000),
    seeders: f.int('sd', 0, 0xffffffff),
    timestamp: f.int('t', 0, Number.MAX_SAFE_INTEGER),
    tags: f.texts('g', MAX_RECORD_TAGS, MAX_TAG_BYTES),
  };
  const { key, id } = peerKey(f.bytes('p', 32));
  return {
    ...fields,
    publisher: key,
    publisherId: id,
    signature: f.bytes('sig', 64),
    encoded: Buffer.from(bytes),
    torrentKey: torrentKeyOf(fields),
  };
}

/** Whether the publisher signed the record. */
export function verifyRecord(r: SearchRecord): boolean {
  return r.publisher.verify(signedBytes(r.publisher, r), r.signature);
}

/** The magnet link of a record, with peers to try first (the nodes that answered with it). */
export function recordMagnet(r: RecordFields, peers: readonly PeerAddress[] = []): string {
  return formatMagnet({
    ...(r.infoHashV1 !== undefined && { infoHashV1: r.infoHashV1 }),
    ...(r.infoHashV2 !== undefined && { infoHashV2: r.infoHashV2 }),
    name: r.name,
    trackers: [],
    webSeeds: [],
    peers,
  });
}
