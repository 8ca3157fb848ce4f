import { ShoalError } from '../errors.js';

/**
 * A decoded bencode value. Byte strings stay bytes (`Uint8Array`, sliced from the input
 * without copying); dictionary keys are latin1 strings so that every byte survives and
 * JavaScript string order equals the canonical raw-byte order. Integers are `number` when
 * they fit in 2^53 and `bigint` otherwise.
 */
export type BValue = number | bigint | Uint8Array | BList | BDict;
/** A bencode list. */
export type BList = BValue[];
/** A bencode dictionary keyed by latin1 strings (one char per raw byte). */
export type BDict = Map<string, BValue>;

/** Byte offsets `[start, end)` of a value inside the buffer it was decoded from. */
export interface Span {
  readonly start: number;
  readonly end: number;
}

/** Bounds a decoder enforces so that hostile input costs bounded memory and time. */
export interface BencodeLimits {
  /** Deepest nesting of lists and dictionaries. */
  readonly maxDepth: number;
  /** Longest single byte string. */
  readonly maxStringBytes: number;
  /** Most values (of any kind) in one document. */
  readonly maxValues: number;
}

/** Defaults generous enough for any real torrent, tight enough that garbage fails fast. */
export const DEFAULT_BENCODE_LIMITS: BencodeLimits = {
  maxDepth: 64,
  maxStringBytes: 64 * 1024 * 1024,
  maxValues: 4_000_000,
};

/** Why a bencode document was refused; `offset` points at the offending byte. */
export class BencodeError extends ShoalError {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super('BENCODE_INVALID', `invalid bencode at byte ${offset}: ${message}`);
    this.offset = offset;
  }
}

/** Options for {@link decode}. */
export interface DecodeOptions {
  readonly limits?: Partial<BencodeLimits>;
  /** When set, the span of every list and dictionary is recorded here. */
  readonly spans?: WeakMap<object, Span>;
  /**
   * Accept dictionary keys out of order (duplicates are still refused), for replies from
   * software that writes non-canonical bencode, such as some trackers. Never for info-hashes.
   */
  readonly unsortedKeys?: boolean;
}

/** The outcome of {@link tryDecode}: a value, or the typed error explaining why not. */
export type DecodeResult<T> = { ok: true; value: T } | { ok: false; error: BencodeError };

const CH_D = 0x64; // d
const CH_E = 0x65; // e
const CH_I = 0x69; // i
const CH_L = 0x6c; // l
const CH_COLON = 0x3a;
const CH_MINUS = 0x2d;
const CH_0 = 0x30;
const CH_9 = 0x39;

/**
 * Dictionary keys recently decoded, by a hash of their bytes. Messages repeat a few keys (`t`,
 * `y`, `id`, `nodes`…): a key found here is not allocated again (allocating them was a tenth of
 * the simulator's garbage). A miss just replaces the slot, so hostile keys cost nothing extra.
 */
const KEY_SLOTS = 509;
const MAX_INTERNED_KEY = 24;
const keySlots: (string | undefined)[] = new Array<string | undefined>(KEY_SLOTS).fill(undefined);

function latin1(buf: Uint8Array, start: number, end: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1');
}

/** True when the latin1 string `s` is exactly `buf[start, end)`. */
function spells(s: string, buf: Uint8Array, start: number, end: number): boolean {
  if (s.length !== end - start) return false;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== buf[start + i]) return false;
  return true;
}

class Decoder {
  pos = 0;
  values = 0;
  constructor(
    readonly buf: Uint8Array,
    readonly limits: BencodeLimits,
    readonly spans: WeakMap<object, Span> | undefined,
    readonly unsortedKeys: boolean,
  ) {}

  fail(message: string, at = this.pos): never {
    throw new BencodeError(message, at);
  }

  value(depth: number): BValue {
    if (++this.values > this.limits.maxValues) this.fail('too many values');
    const c = this.buf[this.pos];
    if (c === undefined) this.fail('unexpected end of input');
    if (c >= CH_0 && c <= CH_9) return this.bytes();
    if (c === CH_I) return this.integer();
    if (c === CH_L) return this.list(depth + 1);
    if (c === CH_D) return this.dict(depth + 1);
    return this.fail(`unexpected byte 0x${c.toString(16).padStart(2, '0')}`);
  }

  /** Reads unsigned decimal digits up to `terminator`; canonical (no leading zeros). */
  digits(terminator: number, what: string): number {
    const start = this.pos;
    const buf = this.buf;
    let n = 0;
    for (;;) {
      const c = buf[this.pos];
      if (c === undefined) this.fail(`unterminated ${what}`);
      if (c === terminator) break;
      if (c < CH_0 || c > CH_9) this.fail(`bad digit in ${what}`);
      n = n * 10 + (c - CH_0);
      this.pos++;
      if (this.pos - start > 16) this.fail(`${what} too long`, start);
    }
    const len = this.pos - start;
    if (len === 0) this.fail(`empty ${what}`, start);
    if (len > 1 && buf[start] === CH_0) this.fail(`leading zero in ${what}`, start);
    this.pos++; // terminator
    return n;
  }

  bytes(): Uint8Array {
    const start = this.string();
    return this.buf.subarray(start, this.pos);
  }

  /** Reads a string's length prefix and skips its bytes; returns where they start. */
  private string(): number {
    const at = this.pos;
    const len = this.digits(CH_COLON, 'string length');
    if (len > this.limits.maxStringBytes) this.fail(`string of ${len} bytes exceeds limit`, at);
    const start = this.pos;
    if (start + len > this.buf.length) this.fail('string runs past end of input', at);
    this.pos = start + len;
    return start;
  }

  /** A dictionary key as latin1; short ones come from {@link keySlots} when seen before. */
  key(): string {
    const start = this.string();
    const end = this.pos;
    const buf = this.buf;
    if (end - start > MAX_INTERNED_KEY) return latin1(buf, start, end);
    let h = end - start;
    for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    const slot = (h >>> 0) % KEY_SLOTS;
    const cached = keySlots[slot];
    if (cached !== undefined && spells(cached, buf, start, end)) return cached;
    const k = latin1(buf, start, end);
    keySlots[slot] = k;
    return k;
  }

  integer(): number | bigint {
    const at = this.pos;
    this.pos++; // 'i'
    let negative = false;
    if (this.buf[this.pos] === CH_MINUS) {
      negative = true;
      this.pos++;
    }
    const start = this.pos;
    const buf = this.buf;
    for (;;) {
      const c = buf[this.pos];
      if (c === undefined) this.fail('unterminated integer', at);
      if (c === CH_E) break;
      if (c < CH_0 || c > CH_9) this.fail('bad digit in integer');
      this.pos++;
      if (this.pos - start > 64) this.fail('integer too long', at);
    }
    const len = this.pos - start;
    if (len === 0) this.fail('empty integer', at);
    if (len > 1 && buf[start] === CH_0) this.fail('leading zero in integer', at);
    if (negative && buf[start] === CH_0) this.fail('negative zero', at);
    this.pos++; // 'e'
    if (len <= 15) {
      let n = 0;
      for (let i = start; i < start + len; i++) n = n * 10 + (buf[i]! - CH_0);
      return negative ? -n : n;
    }
    const text = latin1(buf, start, start + len);
    const big = BigInt(negative ? `-${text}` : text);
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(big)
      : big;
  }

  list(depth: number): BList {
    if (depth > this.limits.maxDepth) this.fail('nesting too deep');
    const start = this.pos;
    this.pos++; // 'l'
    const out: BList = [];
    while (this.buf[this.pos] !== CH_E) {
      if (this.pos >= this.buf.length) this.fail('unterminated list', start);
      out.push(this.value(depth));
    }
    this.pos++;
    this.spans?.set(out, { start, end: this.pos });
    return out;
  }

  dict(depth: number): BDict {
    if (depth > this.limits.maxDepth) this.fail('nesting too deep');
    const start = this.pos;
    this.pos++; // 'd'
    const out: BDict = new Map();
    let previous: string | undefined;
    while (this.buf[this.pos] !== CH_E) {
      const at = this.pos;
      if (at >= this.buf.length) this.fail('unterminated dictionary', start);
      const c = this.buf[at]!;
      if (c < CH_0 || c > CH_9) this.fail('dictionary key is not a string');
      if (++this.values > this.limits.maxValues) this.fail('too many values');
      const k = this.key();
      if (this.unsortedKeys) {
        if (out.has(k)) this.fail('duplicate dictionary key', at);
      } else if (previous !== undefined && k <= previous) {
        this.fail(k === previous ? 'duplicate dictionary key' : 'dictionary keys not sorted', at);
      }
      previous = k;
      out.set(k, this.value(depth));
    }
    this.pos++;
    this.spans?.set(out, { start, end: this.pos });
    return out;
  }
}

function makeDecoder(buf: Uint8Array, options: DecodeOptions | undefined, offset: number): Decoder {
  const limits = { ...DEFAULT_BENCODE_LIMITS, ...options?.limits };
  const d = new Decoder(buf, limits, options?.spans, options?.unsortedKeys === true);
  d.pos = offset;
  return d;
}

/**
 * Decodes exactly one canonical bencode value filling all of `buf`.
 * @throws {BencodeError} on any malformed, non-canonical or over-limit input.
 */
export function decode(buf: Uint8Array, options?: DecodeOptions): BValue {
  const d = makeDecoder(buf, options, 0);
  const value = d.value(0);
  if (d.pos !== buf.length) d.fail('trailing bytes after value');
  return value;
}

/**
 * Decodes one value starting at `offset` and reports where it ended, for protocols that put
 * raw bytes after a bencoded header (BEP 9 metadata pieces).
 * @throws {BencodeError}
 */
export function decodePrefix(
  buf: Uint8Array,
  offset = 0,
  options?: DecodeOptions,
): { value: BValue; end: number } {
  const d = makeDecoder(buf, options, offset);
  const value = d.value(0);
  return { value, end: d.pos };
}

/** Like {@link decode} but returns the error instead of throwing it. */
export function tryDecode(buf: Uint8Array, options?: DecodeOptions): DecodeResult<BValue> {
  try {
    return { ok: true, value: decode(buf, options) };
  } catch (error) {
    if (error instanceof BencodeError) return { ok: false, error };
    throw error;
  }
}

/** A value the encoder accepts: decoded values plus plain strings and objects for convenience. */
export type Encodable =
  | number
  | bigint
  | string
  | Uint8Array
  | readonly Encodable[]
  | ReadonlyMap<string, Encodable>
  | { readonly [key: string]: Encodable | undefined };

/**
 * Encodes a value canonically (dictionary keys sorted by raw bytes). Strings are written as
 * UTF-8; map keys are read as latin1 (as {@link decode} produces them), object keys as UTF-8.
 * Entries whose value is `undefined` are left out.
 */
export function encode(value: Encodable): Buffer {
  const w = new ByteWriter();
  encodeInto(value, w);
  return w.take();
}

/** Messages for sending are carved from slabs this big. */
const SEND_SLAB_BYTES = 64 * 1024;
let sendSlab = Buffer.allocUnsafeSlow(SEND_SLAB_BYTES);
let sendSlabUsed = 0;

/**
 * Encodes like {@link encode}, into a slab shared by many messages rather than a buffer of
 * its own: for a datagram handed to a socket at once (the DHT's queries and replies). Node's
 * buffer pool is 8 KiB, so at a few hundred bytes a message it made a new pool every few dozen
 * messages, which a 100,000-node simulation profiled at 5 % of its time. Keeping the result
 * would keep its whole slab alive: copy it first.
 */
export function encodeToSend(value: Encodable): Buffer {
  const w = new ByteWriter();
  encodeInto(value, w);
  const n = w.size;
  if (n > SEND_SLAB_BYTES / 8) return w.take();
  if (sendSlabUsed + n > SEND_SLAB_BYTES) {
    sendSlab = Buffer.allocUnsafeSlow(SEND_SLAB_BYTES);
    sendSlabUsed = 0;
  }
  const out = w.takeInto(sendSlab, sendSlabUsed);
  sendSlabUsed += (n + 7) & ~7;
  return out;
}

/**
 * A growable output buffer. Encoding is synchronous, so one scratch buffer is shared by every
 * call and the result is copied out at the end: no array of parts, no per-token allocations.
 */
class ByteWriter {
  private static scratch = Buffer.allocUnsafe(64 * 1024);
  private buf = ByteWriter.scratch;
  private pos = 0;

  ascii(s: string): void {
    this.reserve(s.length);
    if (s.length > 16) {
      this.pos += this.buf.write(s, this.pos, 'latin1');
      return;
    }
    // Short tokens (lengths, integers, keys) are most of a message: no call into C++ for them.
    for (let i = 0; i < s.length; i++) this.buf[this.pos++] = s.charCodeAt(i);
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.pos++] = b;
  }

  bytes(b: Uint8Array): void {
    this.length(b.length);
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** A byte string whose characters are its bytes (keys of decoded maps). */
  latin1(s: string): void {
    this.length(s.length);
    this.ascii(s);
  }

  utf8(s: string): void {
    if (s.length <= 16 && isAscii(s)) {
      this.latin1(s);
      return;
    }
    const n = Buffer.byteLength(s, 'utf8');
    this.length(n);
    this.reserve(n);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** A string's length prefix, `N:`. */
  private length(n: number): void {
    if (n >= 100) {
      this.ascii(`${n}:`);
      return;
    }
    this.reserve(3);
    if (n >= 10) this.buf[this.pos++] = CH_0 + Math.floor(n / 10);
    this.buf[this.pos++] = CH_0 + (n % 10);
    this.buf[this.pos++] = CH_COLON;
  }

  /** Bytes written so far. */
  get size(): number {
    return this.pos;
  }

  take(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    this.pos = 0;
    return out;
  }

  /** Copies what was written into `slab` at `at` (room checked by the caller); returns that part. */
  takeInto(slab: Buffer, at: number): Buffer {
    this.buf.copy(slab, at, 0, this.pos);
    const out = slab.subarray(at, at + this.pos);
    this.pos = 0;
    return out;
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
    // Keep growth for later calls, within reason (large torrents are encoded rarely).
    if (bigger.length <= 1024 * 1024) ByteWriter.scratch = bigger;
  }
}

/**
 * Orders two dictionary keys by their encoded bytes without encoding them. Latin1 keys are
 * bytes already; UTF-16 code-unit order is UTF-8 byte order except where a surrogate meets
 * another unit, and there the bytes decide. (`Buffer.compare` on every pair was the
 * simulator's top encoder cost.)
 */
function compareKeys(a: string, b: string, utf8: boolean): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (utf8 && (isSurrogate(x) || isSurrogate(y)))
      return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
    return x - y;
  }
  return a.length - b.length;
}

/**
 * Sorts dictionary keys in place: insertion sort for the few keys a message has (no scratch
 * array, unlike `Array.prototype.sort`), the built-in sort for long ones.
 */
function sortKeys(keys: string[], utf8: boolean): void {
  if (keys.length > 16) {
    keys.sort((a, b) => compareKeys(a, b, utf8));
    return;
  }
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i]!;
    let j = i - 1;
    while (j >= 0 && compareKeys(keys[j]!, k, utf8) > 0) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = k;
  }
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

function isSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdfff;
}

function encodeInto(value: Encodable, out: ByteWriter): void {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new TypeError(`bencode integers must be whole: ${value}`);
    out.ascii(`i${value}e`);
  } else if (typeof value === 'bigint') {
    out.ascii(`i${value}e`);
  } else if (typeof value === 'string') {
    out.utf8(value);
  } else if (value instanceof Uint8Array) {
    out.bytes(value);
  } else if (Array.isArray(value)) {
    out.byte(CH_L);
    for (const item of value as readonly Encodable[]) encodeInto(item, out);
    out.byte(CH_E);
  } else {
    const map = value instanceof Map ? (value as ReadonlyMap<string, Encodable>) : undefined;
    const object = value as Record<string, Encodable | undefined>;
    const keys = map ? [...map.keys()] : Object.keys(object);
    sortKeys(keys, !map);
    out.byte(CH_D);
    for (const k of keys) {
      const v = map ? map.get(k)! : object[k];
      if (v === undefined) continue;
      if (map) out.latin1(k);
      else out.utf8(k);
      encodeInto(v, out);
    }
    out.byte(CH_E);
  }
}
