import { ipFamily, ipv4Number, ipv6Bytes } from '../codec/compact.js';
import type { RandomSource } from '../runtime/runtime.js';
import { crc32c } from './crc32c.js';

/** Bytes in a node id, an info-hash or a BEP 44 target. */
export const ID_BYTES = 20;

const V4_MASK = [0x03, 0x0f, 0x3f, 0xff];
const V6_MASK = [0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff];

/** Scratch for an IPv4 address's masked bytes (hot: every contact a reply names is checked). */
const V4_SCRATCH = new Uint8Array(4);

function idPrefix(ip: string, r: number): number | undefined {
  const v4 = ipv4Number(ip);
  if (v4 >= 0) {
    for (let i = 0; i < 4; i++) V4_SCRATCH[i] = (v4 >>> (24 - 8 * i)) & V4_MASK[i]!;
    V4_SCRATCH[0]! |= (r & 7) << 5;
    return crc32c(V4_SCRATCH);
  }
  if (ipFamily(ip) !== 6) return undefined;
  const masked = Uint8Array.from(ipv6Bytes(ip).subarray(0, 8), (b, i) => b & V6_MASK[i]!);
  masked[0]! |= (r & 7) << 5;
  return crc32c(masked);
}

/** A BEP 42 node id for external address `ip`: 21 bits from CRC32C(ip, r), r in the last byte. */
export function nodeIdForIp(ip: string, random: RandomSource): Buffer {
  const id = random.bytes(ID_BYTES);
  const r = id[19]! & 7;
  const crc = idPrefix(ip, r);
  if (crc === undefined) return id;
  id[0] = (crc >>> 24) & 0xff;
  id[1] = (crc >>> 16) & 0xff;
  id[2] = ((crc >>> 8) & 0xf8) | (id[2]! & 7);
  return id;
}

/** True when `id` is a valid BEP 42 id for `ip` (addresses exempt by the BEP always pass). */
export function idMatchesIp(id: Uint8Array, ip: string): boolean {
  if (isExemptAddress(ip)) return true;
  const crc = idPrefix(ip, id[19]! & 7);
  if (crc === undefined) return false;
  return (
    id[0] === ((crc >>> 24) & 0xff) &&
    id[1] === ((crc >>> 16) & 0xff) &&
    (id[2]! & 0xf8) === ((crc >>> 8) & 0xf8)
  );
}

/** Local and private addresses, which BEP 42 exempts from id checks. */
export function isExemptAddress(ip: string): boolean {
  const a = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  const v4 = ipv4Number(a);
  if (v4 >= 0) return isExemptIpv4(v4);
  const lower = a.toLowerCase();
  return (
    lower === '::1' || lower.startsWith('fc') || lower.startsWith('fd') || lower.startsWith('fe80')
  );
}

/**
 * {@link isExemptAddress} for an IPv4 address as a number: 10/8, 127/8, 172.16/12,
 * 192.168/16, 169.254/16.
 */
export function isExemptIpv4(ip: number): boolean {
  const b0 = ip >>> 24;
  const b01 = ip >>> 16;
  return b0 === 10 || b0 === 127 || ip >>> 20 === 0xac1 || b01 === 0xc0a8 || b01 === 0xa9fe;
}

/** XOR distance between two ids, as a comparable buffer. */
export function distance(a: Uint8Array, b: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(ID_BYTES);
  for (let i = 0; i < ID_BYTES; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** Negative when `a` is closer to `target` than `b`. */
export function compareDistance(target: Uint8Array, a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < ID_BYTES; i++) {
    const da = a[i]! ^ target[i]!;
    const db = b[i]! ^ target[i]!;
    if (da !== db) return da - db;
  }
  return 0;
}

/** Number of leading bits `a` and `b` share (0..160). */
export function commonPrefixBits(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < ID_BYTES; i++) {
    const x = a[i]! ^ b[i]!;
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return ID_BYTES * 8;
}
