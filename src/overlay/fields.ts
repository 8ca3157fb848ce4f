import { type BDict, BencodeError, type BValue, decode } from '../codec/bencode.js';
import { OverlayMessageError } from './errors.js';

/** Limits for every overlay, gossip and search message: one multiplexer message at most. */
const MESSAGE_LIMITS = { maxDepth: 6, maxStringBytes: 64 * 1024, maxValues: 4096 };

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Typed reads from one decoded overlay message (a bencode dictionary). Every read names the
 * field it failed on and throws {@link OverlayMessageError}, the only error a message decoder
 * lets out, so a handler catches one class and penalises the sender.
 */
export class MessageFields {
  private constructor(
    private readonly dict: BDict,
    private readonly what: string,
  ) {}

  /** Decodes `bytes` as a bencode dictionary under the message limits. */
  static decode(bytes: Uint8Array, what: string): MessageFields {
    let value: BValue;
    try {
      value = decode(bytes, { limits: MESSAGE_LIMITS });
    } catch (error) {
      if (error instanceof BencodeError) throw new OverlayMessageError(`${what}: ${error.message}`);
      throw error;
    }
    return MessageFields.of(value, what);
  }

  /** Wraps a value already decoded (a nested dictionary). */
  static of(value: BValue | undefined, what: string): MessageFields {
    if (!(value instanceof Map)) throw new OverlayMessageError(`${what} must be a dictionary`);
    return new MessageFields(value, what);
  }

  /** Whether the field is present. */
  has(key: string): boolean {
    return this.dict.has(key);
  }

  /** An integer in [min, max]. */
  int(key: string, min: number, max: number): number {
    const v = this.dict.get(key);
    if (typeof v !== 'number' || v < min || v > max)
      throw this.fail(`${key} must be an integer in ${min}..${max}`);
    return v;
  }

  /** An integer in [min, max], or `fallback` when absent. */
  optionalInt(key: string, min: number, max: number, fallback: number): number {
    return this.dict.has(key) ? this.int(key, min, max) : fallback;
  }

  /** A byte string of `length` bytes exactly, or of at most `length` bytes when `exact` is false. */
  bytes(key: string, length: number, exact = true): Buffer {
    const v = this.dict.get(key);
    if (!(v instanceof Uint8Array) || (exact ? v.length !== length : v.length > length))
      throw this.fail(`${key} must be ${exact ? '' : 'at most '}${length} bytes`);
    return Buffer.from(v);
  }

  /** An optional byte string of exactly `length` bytes. */
  optionalBytes(key: string, length: number): Buffer | undefined {
    return this.dict.has(key) ? this.bytes(key, length) : undefined;
  }

  /** UTF-8 text of at most `maxBytes` bytes. */
  text(key: string, maxBytes: number): string {
    return this.textOf(this.dict.get(key), key, maxBytes);
  }

  /** A list of at most `max` entries. */
  list(key: string, max: number): BValue[] {
    const v = this.dict.get(key);
    if (!Array.isArray(v) || v.length > max)
      throw this.fail(`${key} must be a list of at most ${max}`);
    return v;
  }

  /** A list of UTF-8 texts. */
  texts(key: string, max: number, maxBytes: number): string[] {
    return this.list(key, max).map((v, i) => this.textOf(v, `${key}[${i}]`, maxBytes));
  }

  /** A list of byte strings of exactly `length` bytes. */
  byteStrings(key: string, max: number, length: number): Buffer[] {
    return this.list(key, max).map((v, i) => {
      if (!(v instanceof Uint8Array) || v.length !== length)
        throw this.fail(`${key}[${i}] must be ${length} bytes`);
      return Buffer.from(v);
    });
  }

  /** An error naming this message. */
  fail(problem: string): OverlayMessageError {
    return new OverlayMessageError(`${this.what}: ${problem}`);
  }

  private textOf(v: BValue | undefined, key: string, maxBytes: number): string {
    if (!(v instanceof Uint8Array) || v.length > maxBytes)
      throw this.fail(`${key} must be text of at most ${maxBytes} bytes`);
    try {
      return strictUtf8.decode(v);
    } catch {
      throw this.fail(`${key} is not UTF-8`);
    }
  }
}
