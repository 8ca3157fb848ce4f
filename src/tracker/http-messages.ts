import { type BDict, type BValue, decode, type Encodable, encode } from '../codec/bencode.js';
import {
  decodeCompactPeers,
  encodeCompactPeers,
  ipFamily,
  type PeerEndpoint,
} from '../codec/compact.js';
import { ShoalError } from '../errors.js';
import type { AnnounceEvent } from './udp-messages.js';

/** An announce, as both the HTTP and the UDP protocol carry it. */
export interface AnnounceRequest {
  readonly infoHash: Uint8Array;
  readonly peerId: Uint8Array;
  readonly port: number;
  readonly uploaded: number;
  readonly downloaded: number;
  readonly left: number;
  readonly event: AnnounceEvent;
  readonly numWant: number;
  /** HTTP only: the client accepts compact peer lists (BEP 23). */
  readonly compact: boolean;
  readonly noPeerId: boolean;
  readonly key?: string;
  /** An address the client asks to be listed under (trackers may ignore it). */
  readonly ip?: string;
}

/** What a tracker answers to an announce. */
export interface AnnounceResponse {
  readonly interval: number;
  readonly minInterval?: number;
  readonly complete: number;
  readonly incomplete: number;
  readonly peers: readonly PeerEndpoint[];
  readonly warning?: string;
  readonly trackerId?: string;
}

/** One torrent's counts in a scrape (BEP 48). */
export interface ScrapeCounts {
  readonly complete: number;
  readonly downloaded: number;
  readonly incomplete: number;
}

/** An announce or scrape query, or a tracker reply, is malformed. */
export class TrackerProtocolError extends ShoalError {
  constructor(message: string) {
    super('TRACKER_PROTOCOL', message);
  }
}

/** A tracker said no (`failure reason`). */
export class TrackerFailure extends ShoalError {
  constructor(reason: string) {
    super('TRACKER_FAILURE', `tracker refused: ${reason}`);
  }
}

/** Percent-encodes raw bytes for a query string (every byte but unreserved ASCII). */
export function percentEncodeBytes(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9.\-_~]/.test(c) ? c : `%${b.toString(16).padStart(2, '0').toUpperCase()}`;
  }
  return out;
}

/** The announce URL for `r` on tracker `base` (which may already carry a query). */
export function announceUrl(base: string, r: AnnounceRequest): string {
  const params = [
    `info_hash=${percentEncodeBytes(r.infoHash)}`,
    `peer_id=${percentEncodeBytes(r.peerId)}`,
    `port=${r.port}`,
    `uploaded=${r.uploaded}`,
    `downloaded=${r.downloaded}`,
    `left=${r.left}`,
    `compact=${r.compact ? 1 : 0}`,
    `numwant=${r.numWant}`,
    ...(r.noPeerId ? ['no_peer_id=1'] : []),
    ...(r.event !== 'none' ? [`event=${r.event}`] : []),
    ...(r.key !== undefined ? [`key=${encodeURIComponent(r.key)}`] : []),
    ...(r.ip !== undefined ? [`ip=${encodeURIComponent(r.ip)}`] : []),
  ];
  return `${base}${base.includes('?') ? '&' : '?'}${params.join('&')}`;
}

/** The scrape URL of an announce URL (BEP 48): the last `announce` path part becomes `scrape`. */
export function scrapeUrl(announce: string, infoHashes: readonly Uint8Array[]): string | undefined {
  const q = announce.indexOf('?');
  const path = q < 0 ? announce : announce.slice(0, q);
  const slash = path.lastIndexOf('/');
  if (!path.slice(slash + 1).startsWith('announce')) return undefined;
  const base = `${path.slice(0, slash + 1)}scrape${path.slice(slash + 1 + 'announce'.length)}`;
  const query = [
    q < 0 ? '' : announce.slice(q + 1),
    ...infoHashes.map((h) => `info_hash=${percentEncodeBytes(h)}`),
  ]
    .filter((s) => s !== '')
    .join('&');
  return `${base}?${query}`;
}

/** Splits a query string into raw (percent-decoded, binary-safe) values by key. */
export function parseQuery(query: string, maxParams = 64): Map<string, Buffer[]> {
  const out = new Map<string, Buffer[]>();
  const parts = query.split('&');
  if (parts.length > maxParams) throw new TrackerProtocolError('too many query parameters');
  for (const part of parts) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = percentDecodeBytes(eq < 0 ? '' : part.slice(eq + 1));
    const list = out.get(key) ?? [];
    list.push(value);
    out.set(key, list);
  }
  return out;
}

function percentDecodeBytes(text: string): Buffer {
  const out = Buffer.alloc(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25) {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new TrackerProtocolError('bad percent-encoding');
      out[n++] = Number.parseInt(hex, 16);
      i += 2;
    } else if (c === 0x2b) {
      out[n++] = 0x20;
    } else if (c < 0x80) {
      out[n++] = c;
    } else {
      throw new TrackerProtocolError('non-ASCII character in query');
    }
  }
  return out.subarray(0, n);
}

const EVENTS: readonly AnnounceEvent[] = ['none', 'completed', 'started', 'stopped'];

/** Limits a tracker applies to announces. */
export interface AnnounceLimits {
  readonly maxNumWant: number;
  readonly defaultNumWant: number;
}

/** Parses and validates an HTTP announce query (tracker side). @throws {TrackerProtocolError} */
export function parseAnnounceQuery(query: string, limits: AnnounceLimits): AnnounceRequest {
  const q = parseQuery(query);
  const one = (key: string): Buffer | undefined => q.get(key)?.[0];
  const bytes20 = (key: string): Buffer => {
    const v = one(key);
    if (v === undefined) throw new TrackerProtocolError(`missing ${key}`);
    if (v.length !== 20) throw new TrackerProtocolError(`${key} must be 20 bytes, got ${v.length}`);
    return v;
  };
  const int = (key: string, fallback: number | undefined, max: number): number => {
    const v = one(key)?.toString('latin1');
    if (v === undefined || v === '') {
      if (fallback === undefined) throw new TrackerProtocolError(`missing ${key}`);
      return fallback;
    }
    if (!/^-?\d{1,16}$/.test(v)) throw new TrackerProtocolError(`${key} must be a number`);
    const n = Number(v);
    if (n < 0 || n > max) throw new TrackerProtocolError(`${key} out of range`);
    return n;
  };
  const port = int('port', undefined, 65535);
  if (port === 0) throw new TrackerProtocolError('port must not be 0');
  const eventText = one('event')?.toString('latin1') ?? '';
  const event = eventText === '' || eventText === 'empty' ? 'none' : (eventText as AnnounceEvent);
  if (!EVENTS.includes(event))
    throw new TrackerProtocolError(`unknown event "${eventText.slice(0, 20)}"`);
  const numWantRaw = one('numwant')?.toString('latin1');
  const numWant =
    numWantRaw === undefined || numWantRaw === '' || numWantRaw === '-1'
      ? limits.defaultNumWant
      : Math.min(limits.maxNumWant, int('numwant', limits.defaultNumWant, 1_000_000_000));
  const key = one('key')?.toString('latin1');
  const ip = one('ip')?.toString('latin1');
  return {
    infoHash: bytes20('info_hash'),
    peerId: bytes20('peer_id'),
    port,
    uploaded: int('uploaded', 0, Number.MAX_SAFE_INTEGER),
    downloaded: int('downloaded', 0, Number.MAX_SAFE_INTEGER),
    left: int('left', 0, Number.MAX_SAFE_INTEGER),
    event,
    numWant,
    compact: one('compact')?.toString('latin1') !== '0',
    noPeerId: one('no_peer_id')?.toString('latin1') === '1',
    ...(key !== undefined && key.length <= 64 && { key }),
    ...(ip !== undefined && ipFamily(ip) !== 0 && { ip }),
  };
}

/** The info-hashes of a scrape query (tracker side). */
export function parseScrapeQuery(query: string, maxHashes: number): Buffer[] {
  const hashes = parseQuery(query, maxHashes + 8).get('info_hash') ?? [];
  if (hashes.length > maxHashes) throw new TrackerProtocolError('scrape of too many info-hashes');
  for (const h of hashes)
    if (h.length !== 20) throw new TrackerProtocolError('info_hash must be 20 bytes');
  return hashes;
}

/** Encodes an announce reply; compact unless the client asked otherwise (BEP 23, BEP 7). */
export function encodeAnnounceResponse(
  r: AnnounceResponse,
  compact: boolean,
  peerIds?: ReadonlyMap<string, Uint8Array>,
  /** The peers already in compact form (a tracker keeps them so), to skip re-encoding. */
  precomputed?: { v4: Buffer; v6: Buffer },
): Buffer {
  const dict: { [k: string]: Encodable | undefined } = {
    complete: r.complete,
    incomplete: r.incomplete,
    interval: r.interval,
    'min interval': r.minInterval,
    'warning message': r.warning,
  };
  if (compact) {
    dict.peers = precomputed?.v4 ?? encodeCompactPeers(r.peers, 4);
    const v6 = precomputed?.v6 ?? encodeCompactPeers(r.peers, 6);
    if (v6.length > 0) dict.peers6 = v6;
  } else {
    dict.peers = r.peers.map((p) => {
      const id = peerIds?.get(`${p.host}:${p.port}`);
      return { ip: p.host, port: p.port, ...(id && { 'peer id': id }) };
    });
  }
  return encode(dict);
}

/** A `failure reason` reply. */
export function encodeFailure(reason: string): Buffer {
  return encode({ 'failure reason': reason });
}

/** Decodes an announce reply (client side). @throws {TrackerFailure | TrackerProtocolError} */
export function decodeAnnounceResponse(body: Uint8Array): AnnounceResponse {
  const d = decodeDict(body);
  const failure = d.get('failure reason');
  if (failure instanceof Uint8Array)
    throw new TrackerFailure(Buffer.from(failure).toString('utf8').slice(0, 500));
  const num = (key: string, fallback: number) => {
    const v = d.get(key);
    return typeof v === 'number' && v >= 0 ? v : fallback;
  };
  const peers: PeerEndpoint[] = [];
  const raw = d.get('peers');
  if (raw instanceof Uint8Array) peers.push(...decodeCompactPeers(raw, 4));
  else if (Array.isArray(raw)) peers.push(...dictPeers(raw));
  const raw6 = d.get('peers6');
  if (raw6 instanceof Uint8Array) peers.push(...decodeCompactPeers(raw6, 6));
  const warning = d.get('warning message');
  const trackerId = d.get('tracker id');
  const minInterval = d.get('min interval');
  return {
    interval: Math.max(1, num('interval', 1800)),
    ...(typeof minInterval === 'number' && minInterval >= 0 && { minInterval }),
    complete: num('complete', 0),
    incomplete: num('incomplete', 0),
    peers,
    ...(warning instanceof Uint8Array && {
      warning: Buffer.from(warning).toString('utf8').slice(0, 500),
    }),
    ...(trackerId instanceof Uint8Array && {
      trackerId: Buffer.from(trackerId).toString('latin1'),
    }),
  };
}

/** Decodes a scrape reply (client side): counts by info-hash (hex). */
export function decodeScrapeResponse(body: Uint8Array): Map<string, ScrapeCounts> {
  const d = decodeDict(body);
  const failure = d.get('failure reason');
  if (failure instanceof Uint8Array)
    throw new TrackerFailure(Buffer.from(failure).toString('utf8').slice(0, 500));
  const files = d.get('files');
  const out = new Map<string, ScrapeCounts>();
  if (!(files instanceof Map)) return out;
  for (const [key, v] of files as BDict) {
    if (!(v instanceof Map) || key.length !== 20) continue;
    const n = (k: string) => {
      const x = v.get(k);
      return typeof x === 'number' && x >= 0 ? x : 0;
    };
    out.set(Buffer.from(key, 'latin1').toString('hex'), {
      complete: n('complete'),
      downloaded: n('downloaded'),
      incomplete: n('incomplete'),
    });
  }
  return out;
}

/** Encodes a scrape reply (tracker side). */
export function encodeScrapeResponse(files: ReadonlyMap<string, ScrapeCounts>): Buffer {
  const out = new Map<string, Encodable>();
  for (const [hex, c] of files) out.set(Buffer.from(hex, 'hex').toString('latin1'), { ...c });
  return encode({ files: out });
}

function decodeDict(body: Uint8Array): BDict {
  let v: BValue;
  try {
    v = decode(body, { limits: { maxDepth: 8, maxValues: 100_000 }, unsortedKeys: true });
  } catch (error) {
    throw new TrackerProtocolError(
      `tracker reply is not valid bencode: ${(error as Error).message}`,
    );
  }
  if (!(v instanceof Map)) throw new TrackerProtocolError('tracker reply is not a dictionary');
  return v;
}

function dictPeers(list: BValue[]): PeerEndpoint[] {
  const out: PeerEndpoint[] = [];
  for (const p of list) {
    if (!(p instanceof Map)) continue;
    const ip = p.get('ip');
    const port = p.get('port');
    if (!(ip instanceof Uint8Array) || typeof port !== 'number' || port <= 0 || port > 65535)
      continue;
    const host = Buffer.from(ip).toString('utf8');
    if (ipFamily(host) !== 0) out.push({ host, port });
  }
  return out;
}
