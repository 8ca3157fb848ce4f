import { LogError } from './errors.js';
import type { LogLevel } from './log-spec.js';

/** Structured fields of a record: `{ hops: 3, ms: 120 }`. */
export type LogFields = Readonly<Record<string, unknown>>;

/** One log record as sinks receive it. */
export interface LogRecord {
  /** Milliseconds since the Unix epoch, from the root's clock (virtual in the simulator). */
  readonly time: number;
  readonly level: LogLevel;
  readonly component: string;
  readonly message: string;
  readonly fields: LogFields | undefined;
}

/** Where records go. A sink that throws loses the record; the logger carries on. */
export type LogSink = (record: LogRecord) => void;

/** Field strings longer than this are cut (values may come from peers). */
const MAX_STRING = 1024;
/** Array elements, object keys and bytes kept per value, and how deep objects are followed. */
const MAX_ITEMS = 64;
const MAX_DEPTH = 4;

/**
 * A JSON-safe copy of a field value, bounded in size: bigints as strings, bytes as hex,
 * errors as `{ name, code?, message }`, dates as ISO strings, long strings and collections
 * cut, deep or cyclic objects replaced by `'[…]'`.
 */
export function plainValue(value: unknown, depth = 0): unknown {
  switch (typeof value) {
    case 'string':
      return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    case 'undefined':
      return null;
    case 'symbol':
    case 'function':
      return String(value);
  }
  if (value === null) return null;
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return {
      name: value.name,
      ...(typeof code === 'string' && { code }),
      message: plainValue(value.message, depth + 1),
    };
  }
  if (value instanceof Uint8Array) {
    const hex = Buffer.from(value.buffer, value.byteOffset, Math.min(value.length, MAX_ITEMS));
    return hex.toString('hex') + (value.length > MAX_ITEMS ? '…' : '');
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (depth >= MAX_DEPTH) return '[…]';
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ITEMS).map((v) => plainValue(v, depth + 1));
    if (value.length > MAX_ITEMS) items.push(`… ${value.length - MAX_ITEMS} more`);
    return items;
  }
  const out: Record<string, unknown> = {};
  let kept = 0;
  for (const key of Object.keys(value as object)) {
    if (kept++ === MAX_ITEMS) {
      out['…'] = 'more keys';
      break;
    }
    out[key] = plainValue((value as Record<string, unknown>)[key], depth + 1);
  }
  return out;
}

/** Control characters as `\n`, `\t` or `\u001b`, so one record stays one line. */
function escapeControl(text: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x20 && c !== 0x7f) continue;
    out += text.slice(from, i);
    out += c === 10 ? '\\n' : c === 9 ? '\\t' : `\\u${c.toString(16).padStart(4, '0')}`;
    from = i + 1;
  }
  return from === 0 ? text : out + text.slice(from);
}

/** A field value as text: bare when it is a plain word, else JSON (quoted and escaped). */
function fieldText(value: unknown): string {
  const plain = plainValue(value);
  if (typeof plain === 'string') return /^[\w.:/@+-]+$/.test(plain) ? plain : JSON.stringify(plain);
  if (value instanceof Error) {
    const e = plain as { name: string; code?: string; message: string };
    return JSON.stringify(`${e.name}${e.code ? ` ${e.code}` : ''}: ${e.message}`);
  }
  return JSON.stringify(plain);
}

/**
 * One record as a line of text for people:
 * `2024-01-01T00:00:00.000Z INFO  dht:lookup lookup done hops=3 ms=120`.
 */
export function formatText(record: LogRecord): string {
  let line = `${isoTime(record.time)} ${record.level.toUpperCase().padEnd(5)} ${record.component} ${escapeControl(record.message)}`;
  if (record.fields !== undefined)
    for (const key of Object.keys(record.fields))
      line += ` ${escapeControl(key)}=${fieldText(record.fields[key])}`;
  return `${line}\n`;
}

/**
 * One record as a JSON line: `{"time":"…","level":"info","component":"dht","msg":"…",
 * "fields":{…}}`, fields made JSON-safe by {@link plainValue}.
 */
export function formatJson(record: LogRecord): string {
  return `${JSON.stringify({
    time: isoTime(record.time),
    level: record.level,
    component: record.component,
    msg: record.message,
    ...(record.fields !== undefined && { fields: plainValue(record.fields, -1) }),
  })}\n`;
}

/** A sink writing {@link formatText} lines, e.g. `textSink((s) => process.stderr.write(s))`. */
export function textSink(write: (text: string) => void): LogSink {
  return (record) => write(formatText(record));
}

/** A sink writing {@link formatJson} lines through `write` (the CLI passes a file appender). */
export function jsonLinesSink(write: (text: string) => void): LogSink {
  return (record) => write(formatJson(record));
}

/**
 * Keeps the last `capacity` records in memory (a ring), for tests and for the simulator to
 * put in its trace; older records are overwritten and counted in `overwritten`.
 */
export class MemorySink {
  private readonly ring: (LogRecord | undefined)[];
  private next = 0;
  private size = 0;
  /** Records pushed out by newer ones. */
  overwritten = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new LogError(
        'LOG_OPTIONS_INVALID',
        `a memory sink's capacity is a positive integer, not ${capacity}`,
      );
    this.ring = new Array<LogRecord | undefined>(capacity);
  }

  /** The sink to give a `LogRoot`. */
  readonly sink: LogSink = (record) => {
    this.ring[this.next] = record;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
    else this.overwritten++;
  };

  /** The records kept, oldest first. */
  records(): LogRecord[] {
    const out: LogRecord[] = [];
    const start = (this.next - this.size + this.capacity) % this.capacity;
    for (let i = 0; i < this.size; i++) out.push(this.ring[(start + i) % this.capacity]!);
    return out;
  }

  clear(): void {
    this.ring.fill(undefined);
    this.next = 0;
    this.size = 0;
    this.overwritten = 0;
  }
}

function isoTime(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}
