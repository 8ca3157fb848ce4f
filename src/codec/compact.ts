/** A peer's transport address. */
export interface PeerEndpoint {
  readonly host: string;
  readonly port: number;
}

/**
 * BEP 23 / BEP 7 compact peer lists: 6 bytes per IPv4 peer (address, port), 18 per IPv6 peer.
 * Entries with port 0 are skipped when decoding; a trailing partial entry is ignored.
 */
export function decodeCompactPeers(bytes: Uint8Array, family: 4 | 6): PeerEndpoint[] {
  const size = family === 4 ? 6 : 18;
  const out: PeerEndpoint[] = [];
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at + size <= view.length; at += size) {
    const port = view.readUInt16BE(at + size - 2);
    if (port === 0) continue;
    out.push({ host: family === 4 ? ipv4ToString(view, at) : ipv6ToString(view, at), port });
  }
  return out;
}

/** Encodes peers of one family compactly; peers of the other family are left out. */
export function encodeCompactPeers(peers: readonly PeerEndpoint[], family: 4 | 6): Buffer {
  const size = family === 4 ? 6 : 18;
  const chosen = peers.filter((p) => ipFamily(p.host) === family);
  // Every byte is written below: from Node's pool, neither zeroed nor a backing store of its own.
  const out = Buffer.allocUnsafe(chosen.length * size);
  chosen.forEach((p, i) => {
    if (family === 4) out.writeUInt32BE(Math.max(0, ipv4Number(p.host)), i * size);
    else ipv6Bytes(p.host).copy(out, i * size);
    out.writeUInt16BE(p.port, i * size + size - 2);
  });
  return out;
}

/**
 * The text of recently decoded IPv4 addresses, direct-mapped by address (bounded: 65,536 of
 * them). A DHT decodes the same few thousand contacts over and over, and every routing-table
 * entry keeps its host: one shared string per address instead of one per decode (in a
 * 100,000-node simulation, tens of millions of strings).
 */
const V4_TEXT_SLOTS = 1 << 16;
const v4TextKeys = new Float64Array(V4_TEXT_SLOTS).fill(-1);
const v4Texts: string[] = new Array<string>(V4_TEXT_SLOTS).fill('');

function ipv4ToString(b: Buffer, at: number): string {
  const address = b.readUInt32BE(at);
  const slot = (address ^ (address >>> 16)) & (V4_TEXT_SLOTS - 1);
  if (v4TextKeys[slot] === address) return v4Texts[slot]!;
  const text = `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
  v4TextKeys[slot] = address;
  v4Texts[slot] = text;
  return text;
}

function ipv6ToString(b: Buffer, at: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(at + 2 * i).toString(16));
  return compressIpv6(groups);
}

function compressIpv6(groups: string[]): string {
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLen).join(':')}`;
}

/**
 * A dotted-quad IPv4 address as an unsigned 32-bit number, or −1 for anything else. A hand
 * parser: hot paths (a tracker's announces) read an address per packet.
 */
export function ipv4Number(host: string): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      part = part * 10 + (c - 48);
      digits++;
      if (part > 255) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + part;
}

/** The 4 bytes of a dotted IPv4 address. */
export function ipv4Bytes(host: string): Buffer {
  const out = Buffer.alloc(4);
  const value = ipv4Number(host);
  if (value >= 0) out.writeUInt32BE(value);
  return out;
}

/** The 16 bytes of an IPv6 address (any textual form, including embedded IPv4). */
export function ipv6Bytes(host: string): Buffer {
  let text = host;
  const out = Buffer.alloc(16);
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    ipv4Bytes(v4[1]!).copy(out, 12);
    text = `${text.slice(0, -v4[1]!.length)}0:0`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':').filter((g) => g !== '') : [];
  const t = tail ? tail.split(':').filter((g) => g !== '') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  groups.slice(0, 8).forEach((g, i) => {
    if (!(v4 && i >= 6)) out.writeUInt16BE(Number.parseInt(g, 16) || 0, i * 2);
  });
  return out;
}

/** 4 for a dotted IPv4 address, 6 for an IPv6 address, 0 for anything else (a host name). */
export function ipFamily(host: string): 0 | 4 | 6 {
  if (ipv4Number(host) >= 0) return 4;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (v4) return v4.slice(1).every((o) => Number(o) <= 255) ? 4 : 0;
  if (/^[0-9a-fA-F:.]+$/.test(host) && host.includes(':') && (host.match(/::/g) ?? []).length <= 1)
    return 6;
  return 0;
}

/** A DHT contact: node id and address (BEP 5 "compact node info"). */
export interface NodeContact {
  readonly id: Buffer;
  readonly host: string;
  readonly port: number;
}

/** Decodes compact node info: 26 bytes per IPv4 node, 38 per IPv6 node (BEP 5, BEP 32). */
export function decodeCompactNodes(bytes: Uint8Array, family: 4 | 6): NodeContact[] {
  const size = family === 4 ? 26 : 38;
  const out: NodeContact[] = [];
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at + size <= view.length; at += size) {
    const port = view.readUInt16BE(at + size - 2);
    if (port === 0) continue;
    const host = family === 4 ? ipv4ToString(view, at + 20) : ipv6ToString(view, at + 20);
    const id = Buffer.allocUnsafe(20);
    view.copy(id, 0, at, at + 20);
    out.push({ id, host, port });
  }
  return out;
}

/**
 * A contact that keeps its 20-byte id as a latin1 string (routing tables do): encoded without
 * first decoding the id into a buffer of its own.
 */
export interface KeyedContact {
  readonly key: string;
  readonly host: string;
  readonly port: number;
}

/** Encodes contacts of one family as compact node info. */
export function encodeCompactNodes(
  nodes: readonly (NodeContact | KeyedContact)[],
  family: 4 | 6,
): Buffer {
  const chosen = nodes.filter((n) => ipFamily(n.host) === family);
  const size = family === 4 ? 26 : 38;
  const out = Buffer.allocUnsafe(chosen.length * size); // every byte is written below
  chosen.forEach((n, i) => {
    if ('key' in n) writeLatin1Id(n.key, out, i * size);
    else n.id.copy(out, i * size);
    if (family === 4) out.writeUInt32BE(ipv4Number(n.host), i * size + 20);
    else ipv6Bytes(n.host).copy(out, i * size + 20);
    out.writeUInt16BE(n.port, i * size + size - 2);
  });
  return out;
}

/** Writes a 20-character latin1 id at `at` (a plain loop: `Buffer#write` costs a native call). */
function writeLatin1Id(key: string, out: Buffer, at: number): void {
  for (let i = 0; i < 20; i++) out[at + i] = key.charCodeAt(i);
}

/** A peer or node address in compact form: 6 bytes (IPv4) or 18 (IPv6). */
export function encodeCompactAddress(host: string, port: number): Buffer {
  return encodeCompactPeers([{ host, port }], ipFamily(host) === 6 ? 6 : 4);
}
