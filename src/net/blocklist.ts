import { ShoalError } from '../errors.js';
import { normalizeHost } from './connection-manager.js';

/** Bounds on a blocklist, so a hostile or mistaken list cannot take the node's memory. */
export interface BlocklistLimits {
  /** Bytes of text read at most. */
  readonly maxBytes: number;
  /** Lines read at most (comments and blank lines included). */
  readonly maxLines: number;
}

/**
 * 64 MiB and 4 million lines: the biggest public lists (level1, about 240,000 ranges in 12 MB
 * of text) fit several times over.
 */
export const DEFAULT_BLOCKLIST_LIMITS: BlocklistLimits = {
  maxBytes: 64 * 1024 * 1024,
  maxLines: 4_000_000,
};

/** A blocklist that cannot be used: over a limit, or with no range in it. */
export class BlocklistError extends ShoalError {
  constructor(message: string) {
    super('BLOCKLIST_INVALID', message);
  }
}

/** What a parse found: the list, and how many lines were not ranges (and were skipped). */
export interface ParsedBlocklist {
  readonly list: IpBlocklist;
  readonly skipped: number;
}

/**
 * A set of IPv4 address ranges no connection may be made with, in either direction (the
 * "blocklist" of Transmission and qBittorrent). Ranges are merged and kept sorted in two typed
 * arrays, so a list of a few hundred thousand ranges takes a few MB and a lookup is a binary
 * search. IPv6 addresses are never blocked (the lists name IPv4 ranges); IPv4-mapped IPv6
 * addresses count as their IPv4 address.
 */
export class IpBlocklist {
  private readonly starts: Uint32Array;
  private readonly ends: Uint32Array;

  /** `ranges`: inclusive [first, last] pairs of IPv4 addresses as unsigned 32-bit numbers. */
  constructor(ranges: readonly (readonly [number, number])[]) {
    const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
    const starts: number[] = [];
    const ends: number[] = [];
    for (const [first, last] of sorted) {
      const i = ends.length - 1;
      if (i >= 0 && first <= ends[i]! + 1) ends[i] = Math.max(ends[i]!, last);
      else {
        starts.push(first);
        ends.push(last);
      }
    }
    this.starts = Uint32Array.from(starts);
    this.ends = Uint32Array.from(ends);
  }

  /** Ranges after merging overlapping and adjacent ones. */
  get size(): number {
    return this.starts.length;
  }

  /** The merged ranges, lowest first. */
  ranges(): [number, number][] {
    return [...this.starts].map((s, i) => [s, this.ends[i]!]);
  }

  /** True when `host` (an IP address) falls in a range. */
  has(host: string): boolean {
    const n = ipv4Number(normalizeHost(host));
    if (n === undefined) return false;
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid]! > n) hi = mid - 1;
      else if (this.ends[mid]! < n) lo = mid + 1;
      else return true;
    }
    return false;
  }
}

/**
 * Parses a blocklist in the P2P text format: one range per line, `description:first-last`
 * (`Some ISP:1.2.3.0-1.2.3.255`; the description may itself hold colons), or a bare
 * `first-last`, or a CIDR block `1.2.3.0/24`. Blank lines and comments (`#` or `//`) are
 * ignored; a line that is none of these is skipped and counted, as other clients do, so one
 * bad line does not throw away a list.
 * @throws {BlocklistError} when the text is over `limits`
 */
export function parseBlocklist(
  text: string,
  limits: BlocklistLimits = DEFAULT_BLOCKLIST_LIMITS,
): ParsedBlocklist {
  if (text.length > limits.maxBytes)
    throw new BlocklistError(
      `the blocklist is over ${limits.maxBytes} bytes; shoal reads lists up to that size`,
    );
  const ranges: [number, number][] = [];
  let skipped = 0;
  let lines = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    if (++lines > limits.maxLines)
      throw new BlocklistError(
        `the blocklist has over ${limits.maxLines} lines; shoal reads lists up to that size`,
      );
    const line = text.slice(start, end).trim();
    start = end + 1;
    if (line === '' || line.startsWith('#') || line.startsWith('//')) continue;
    const range = parseRangeLine(line);
    if (range) ranges.push(range);
    else skipped++;
  }
  return { list: new IpBlocklist(ranges), skipped };
}

/** Writes ranges in the P2P text format (what {@link parseBlocklist} reads). */
export function formatBlocklist(ranges: readonly (readonly [number, number])[]): string {
  return ranges.map(([a, b]) => `range:${ipv4Text(a)}-${ipv4Text(b)}\n`).join('');
}

/** One line's range, or undefined when the line is not one. */
function parseRangeLine(line: string): [number, number] | undefined {
  const cidr = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(line);
  if (cidr) {
    const base = ipv4Number(cidr[1]!);
    const bits = Number(cidr[2]);
    if (base === undefined || bits > 32) return undefined;
    const size = 2 ** (32 - bits);
    const first = Math.floor(base / size) * size;
    return [first, first + size - 1];
  }
  // The range is after the last colon (descriptions may contain colons, addresses do not).
  const colon = line.lastIndexOf(':');
  const m = /^\s*(\d{1,3}(?:\.\d{1,3}){3})\s*-\s*(\d{1,3}(?:\.\d{1,3}){3})\s*$/.exec(
    line.slice(colon + 1),
  );
  if (!m) return undefined;
  const first = ipv4Number(m[1]!);
  const last = ipv4Number(m[2]!);
  if (first === undefined || last === undefined || first > last) return undefined;
  return [first, last];
}

/** An IPv4 address as an unsigned 32-bit number (leading zeros allowed, as lists write them). */
function ipv4Number(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

function ipv4Text(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}
