import { MagnetError } from './errors.js';
import type { Metainfo } from './types.js';

/** A peer address given in a magnet link (`x.pe`). */
export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

/** An inclusive range of file indices (BEP 53 `so`). */
export interface IndexRange {
  readonly first: number;
  readonly last: number;
}

/** What a magnet link says: at least one info-hash, and hints for finding the torrent. */
export interface MagnetLink {
  readonly infoHashV1?: Buffer;
  readonly infoHashV2?: Buffer;
  readonly name?: string;
  readonly trackers: readonly string[];
  readonly webSeeds: readonly string[];
  readonly peers: readonly PeerAddress[];
  /** Files to download (BEP 53); absent means all. */
  readonly selectOnly?: readonly IndexRange[];
}

const MAX_MAGNET_CHARS = 64 * 1024;
const MAX_PARAMS = 1000;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Parses a `magnet:?` URI (BEP 9, BEP 52 `btmh`, BEP 53 `so`). @throws {MagnetError} */
export function parseMagnet(uri: string): MagnetLink {
  if (uri.length > MAX_MAGNET_CHARS) throw new MagnetError('longer than 64 KiB');
  if (!uri.toLowerCase().startsWith('magnet:?'))
    throw new MagnetError('must start with "magnet:?"');
  const params = uri.slice('magnet:?'.length).split('&');
  if (params.length > MAX_PARAMS) throw new MagnetError('too many parameters');
  let infoHashV1: Buffer | undefined;
  let infoHashV2: Buffer | undefined;
  let name: string | undefined;
  const trackers: string[] = [];
  const webSeeds: string[] = [];
  const peers: PeerAddress[] = [];
  let selectOnly: IndexRange[] | undefined;
  for (const param of params) {
    if (param === '') continue;
    const eq = param.indexOf('=');
    const rawKey = eq < 0 ? param : param.slice(0, eq);
    const key = rawKey.replace(/\.\d+$/, '').toLowerCase(); // xt.1, tr.2 …
    const value = percentDecode(eq < 0 ? '' : param.slice(eq + 1), key === 'dn');
    switch (key) {
      case 'xt': {
        const v = value.toLowerCase();
        if (v.startsWith('urn:btih:')) infoHashV1 = parseBtih(value.slice(9));
        else if (v.startsWith('urn:btmh:')) infoHashV2 = parseBtmh(value.slice(9));
        break; // other URNs (ed2k, …) are ignored
      }
      case 'dn':
        name = value;
        break;
      case 'tr':
        trackers.push(value);
        break;
      case 'ws':
        webSeeds.push(value);
        break;
      case 'x.pe':
        peers.push(parsePeer(value));
        break;
      case 'so':
        selectOnly = parseSelectOnly(value);
        break;
      default:
        break; // unknown parameters are allowed by BEP 9
    }
  }
  if (!infoHashV1 && !infoHashV2) throw new MagnetError('no urn:btih or urn:btmh exact topic (xt)');
  return {
    ...(infoHashV1 && { infoHashV1 }),
    ...(infoHashV2 && { infoHashV2 }),
    ...(name !== undefined && { name }),
    trackers,
    webSeeds,
    peers,
    ...(selectOnly && { selectOnly }),
  };
}

function percentDecode(value: string, plusIsSpace: boolean): string {
  try {
    return decodeURIComponent(plusIsSpace ? value.replace(/\+/g, ' ') : value);
  } catch {
    throw new MagnetError(`bad percent-encoding in "${value.slice(0, 80)}"`);
  }
}

function parseBtih(text: string): Buffer {
  if (/^[0-9a-fA-F]{40}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z2-7]{32}$/.test(text)) return base32Decode(text.toUpperCase());
  throw new MagnetError(
    `urn:btih must be 40 hex or 32 base32 characters, got "${text.slice(0, 80)}"`,
  );
}

function parseBtmh(text: string): Buffer {
  // A multihash: 0x12 (sha2-256), 0x20 (32 bytes), then the digest.
  if (!/^1220[0-9a-fA-F]{64}$/.test(text)) {
    throw new MagnetError(
      `urn:btmh must be "1220" and 64 hex characters, got "${text.slice(0, 80)}"`,
    );
  }
  return Buffer.from(text.slice(4), 'hex');
}

function base32Decode(text: string): Buffer {
  const out = Buffer.alloc(20);
  let bits = 0;
  let acc = 0;
  let i = 0;
  for (const ch of text) {
    acc = (acc << 5) | BASE32.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[i++] = (acc >>> bits) & 0xff;
    }
  }
  return out;
}

function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const b of bytes) {
    acc = ((acc << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32[(acc >>> bits) & 31];
    }
  }
  if (bits > 0) out += BASE32[(acc << (5 - bits)) & 31];
  return out;
}

/** Parses `host:port` or `[v6]:port`. @throws {MagnetError} */
export function parsePeer(text: string): PeerAddress {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : 0;
  if (!m || port < 1 || port > 65535)
    throw new MagnetError(`peer "${text.slice(0, 80)}" is not HOST:PORT`);
  return { host: m[1]!, port };
}

function parseSelectOnly(text: string): IndexRange[] {
  const ranges: IndexRange[] = [];
  for (const part of text.split(',')) {
    const m = /^(\d{1,9})(?:-(\d{1,9}))?$/.exec(part);
    if (!m)
      throw new MagnetError(`so must list file indices and ranges, got "${text.slice(0, 80)}"`);
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (last < first) throw new MagnetError(`so range ${part} runs backwards`);
    ranges.push({ first, last });
  }
  return ranges;
}

/** Options for {@link formatMagnet}. */
export interface FormatMagnetOptions {
  /** Write the v1 hash in base32 rather than hex. */
  readonly base32?: boolean;
}

/** Writes a magnet link; the info-hashes come first, then name, trackers, seeds, peers, `so`. */
export function formatMagnet(link: MagnetLink, options: FormatMagnetOptions = {}): string {
  const parts: string[] = [];
  if (link.infoHashV1) {
    parts.push(
      `xt=urn:btih:${options.base32 ? base32Encode(link.infoHashV1) : link.infoHashV1.toString('hex')}`,
    );
  }
  if (link.infoHashV2) parts.push(`xt=urn:btmh:1220${link.infoHashV2.toString('hex')}`);
  if (link.name !== undefined) parts.push(`dn=${encodeURIComponent(link.name)}`);
  for (const t of link.trackers) parts.push(`tr=${encodeURIComponent(t)}`);
  for (const w of link.webSeeds) parts.push(`ws=${encodeURIComponent(w)}`);
  for (const p of link.peers)
    parts.push(`x.pe=${p.host.includes(':') ? `[${p.host}]` : p.host}:${p.port}`);
  if (link.selectOnly) {
    parts.push(
      `so=${link.selectOnly.map((r) => (r.first === r.last ? `${r.first}` : `${r.first}-${r.last}`)).join(',')}`,
    );
  }
  return `magnet:?${parts.join('&')}`;
}

/** The magnet link for a torrent: both hashes (if it has them), its name and trackers. */
export function magnetFromMetainfo(meta: Metainfo): MagnetLink {
  return {
    ...(meta.infoHashV1 && { infoHashV1: meta.infoHashV1 }),
    ...(meta.infoHashV2 && { infoHashV2: meta.infoHashV2 }),
    name: meta.name,
    trackers: meta.announce.flat(),
    webSeeds: meta.webSeeds,
    peers: [],
  };
}
