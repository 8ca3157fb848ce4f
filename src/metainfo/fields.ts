import type { BDict, BValue } from '../codec/bencode.js';
import { MetainfoError } from './errors.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const lenientUtf8 = new TextDecoder('utf-8');

/** Typed reads from a decoded dictionary; each failure names the field (`info.files[3].path`). */
export function isDict(v: BValue | undefined): v is BDict {
  return v instanceof Map;
}

/** The dictionary at `key`, or an error naming `where.key`. */
export function dictField(d: BDict, key: string, where: string): BDict {
  const v = d.get(key);
  if (!isDict(v)) throw new MetainfoError(`${where}${key} must be a dictionary`);
  return v;
}

/** The list at `key`, or an error naming the field. */
export function listField(d: BDict, key: string, where: string): BValue[] {
  const v = d.get(key);
  if (!Array.isArray(v)) throw new MetainfoError(`${where}${key} must be a list`);
  return v;
}

/** The integer at `key` within [min, max], or an error naming the field. */
export function intField(d: BDict, key: string, where: string, min: number, max: number): number {
  const v = d.get(key);
  if (typeof v === 'bigint') throw new MetainfoError(`${where}${key} is absurdly large`);
  if (typeof v !== 'number') throw new MetainfoError(`${where}${key} must be an integer`);
  if (v < min || v > max)
    throw new MetainfoError(`${where}${key} = ${v} is outside ${min}..${max}`);
  return v;
}

/** The byte string at `key`, or an error naming the field. */
export function bytesField(d: BDict, key: string, where: string): Uint8Array {
  const v = d.get(key);
  if (!(v instanceof Uint8Array)) throw new MetainfoError(`${where}${key} must be a byte string`);
  return v;
}

/** Decodes bytes as UTF-8, refusing invalid sequences (for names that become paths). */
export function utf8Strict(bytes: Uint8Array, what: string): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new MetainfoError(`${what} is not valid UTF-8`);
  }
}

/** A UTF-8 text field for display (`comment`, `created by`); undefined when absent or wrong type. */
export function optionalText(d: BDict, key: string): string | undefined {
  const v = d.get(key);
  return v instanceof Uint8Array ? lenientUtf8.decode(v) : undefined;
}
