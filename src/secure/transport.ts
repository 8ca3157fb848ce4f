import { type CipherState, type MessageOpener, TAG_LENGTH } from '../crypto/noise/cipher-state.js';
import { NoiseError } from '../crypto/noise/errors.js';
import { MAX_MESSAGE_LENGTH } from '../crypto/noise/handshake-state.js';
import { SecureChannelError } from './errors.js';
import { FRAME_HEADER_LENGTH } from './secure-handshake.js';

/** The most plaintext one transport frame carries: a Noise message less its tag. */
export const MAX_FRAME_PLAINTEXT = MAX_MESSAGE_LENGTH - TAG_LENGTH;

/**
 * Each direction's key is replaced by Noise's REKEY after every 256 messages, counted alike on
 * both ends, so nothing is signalled. Someone who steals a key in memory then reads at most the
 * last 256 messages (≤ 16 MiB) and none older; a rekey costs about one 32-byte encryption, under
 * 0.1% even of the smallest messages.
 */
export const REKEY_INTERVAL = 256;

const EMPTY = Buffer.alloc(0);

/**
 * Turns outgoing bytes into transport frames: a 2-byte big-endian length, then a Noise
 * message (ciphertext and tag) of at most 65535 bytes. Larger writes are split; the pieces of a
 * write are encrypted where they lie, without being copied together.
 */
export class TransportEncoder {
  private sent = 0;

  constructor(private readonly cipher: CipherState) {}

  /** Appends the frames carrying `chunks` (in order, as one byte stream) to `out`. */
  encode(chunks: readonly Uint8Array[], out: Uint8Array[]): void {
    let pieces: Uint8Array[] = [];
    let size = 0;
    for (const chunk of chunks) {
      for (let at = 0; at < chunk.length; ) {
        const take = Math.min(chunk.length - at, MAX_FRAME_PLAINTEXT - size);
        pieces.push(at === 0 && take === chunk.length ? chunk : chunk.subarray(at, at + take));
        size += take;
        at += take;
        if (size === MAX_FRAME_PLAINTEXT) {
          this.frame(pieces, size, out);
          pieces = [];
          size = 0;
        }
      }
    }
    if (size > 0) this.frame(pieces, size, out);
  }

  private frame(pieces: readonly Uint8Array[], size: number, out: Uint8Array[]): void {
    const header = Buffer.allocUnsafe(FRAME_HEADER_LENGTH);
    header.writeUInt16BE(size + TAG_LENGTH);
    out.push(header);
    this.cipher.encryptParts(EMPTY, pieces, out);
    if (++this.sent % REKEY_INTERVAL === 0) this.cipher.rekey();
  }
}

/**
 * Reads transport frames from received bytes and hands on each message's plaintext. A frame
 * is decrypted where it lies; one split across chunks is decrypted piece by piece as its parts
 * arrive (only the 2-byte header and 16-byte tag are gathered), and its plaintext handed on
 * once the tag has authenticated the whole frame. Nothing is copied and no frame-sized buffer
 * is kept. Throws `SecureChannelError` (`SECURE_FRAME`) for a malformed frame or one that fails
 * authentication; the connection is then over.
 */
export class TransportDecoder {
  private received = 0;
  private readonly header = Buffer.alloc(FRAME_HEADER_LENGTH);
  private headerHave = 0;
  /** The split frame being decrypted, once its header is complete. */
  private opener: MessageOpener | undefined;
  private ciphertextLeft = 0;
  private plaintexts: Buffer[] = [];
  private readonly tag = Buffer.alloc(TAG_LENGTH);
  private tagHave = 0;
  private failed = false;

  constructor(private readonly cipher: CipherState) {}

  /**
   * Feeds `chunk`; `deliver` gets each plaintext (a buffer of its own). Stops early, keeping
   * nothing, when `deliver` returns false (the owner closed the stream).
   */
  push(chunk: Uint8Array, deliver: (plaintext: Buffer) => boolean): void {
    if (this.failed) throw new SecureChannelError('SECURE_FRAME', 'the channel already failed');
    try {
      let at = 0;
      if (this.headerHave > 0) {
        at = this.continueSplit(chunk, 0);
        if (this.tagHave < TAG_LENGTH) return;
        if (!this.finishSplit(deliver)) return;
      }
      while (chunk.length - at >= FRAME_HEADER_LENGTH) {
        const end = at + FRAME_HEADER_LENGTH + frameLength(chunk, at);
        if (end > chunk.length) break;
        const frame = chunk.subarray(at + FRAME_HEADER_LENGTH, end);
        at = end;
        const tagAt = frame.length - TAG_LENGTH;
        const plaintext = this.authenticated(() =>
          this.cipher.decryptParts(EMPTY, frame.subarray(0, tagAt), frame.subarray(tagAt)),
        );
        if (plaintext.length > 0 && !deliver(plaintext)) return;
      }
      if (at < chunk.length) this.continueSplit(chunk, at);
    } catch (error) {
      this.failed = true;
      throw error;
    }
  }

  /** Takes from `chunk[at..]` what the split frame still lacks; returns where it stopped. */
  private continueSplit(chunk: Uint8Array, at: number): number {
    if (this.headerHave < FRAME_HEADER_LENGTH) {
      const take = Math.min(FRAME_HEADER_LENGTH - this.headerHave, chunk.length - at);
      this.header.set(chunk.subarray(at, at + take), this.headerHave);
      this.headerHave += take;
      at += take;
      if (this.headerHave < FRAME_HEADER_LENGTH) return at;
      this.ciphertextLeft = frameLength(this.header, 0) - TAG_LENGTH;
      this.opener = this.cipher.beginDecrypt();
    }
    if (this.ciphertextLeft > 0) {
      const take = Math.min(this.ciphertextLeft, chunk.length - at);
      if (take > 0) this.plaintexts.push(this.opener!.update(chunk.subarray(at, at + take)));
      this.ciphertextLeft -= take;
      at += take;
      if (this.ciphertextLeft > 0) return at;
    }
    const take = Math.min(TAG_LENGTH - this.tagHave, chunk.length - at);
    this.tag.set(chunk.subarray(at, at + take), this.tagHave);
    this.tagHave += take;
    return at + take;
  }

  /** The split frame's tag is in: authenticate it, then hand on its plaintext. */
  private finishSplit(deliver: (plaintext: Buffer) => boolean): boolean {
    const opener = this.opener!;
    const plaintexts = this.plaintexts;
    this.headerHave = 0;
    this.tagHave = 0;
    this.opener = undefined;
    this.plaintexts = [];
    this.authenticated(() => opener.finish(this.tag));
    for (const plaintext of plaintexts) {
      if (plaintext.length > 0 && !deliver(plaintext)) return false;
    }
    return true;
  }

  /** Runs a decryption, turning a failed tag into `SECURE_FRAME`, and rekeys on schedule. */
  private authenticated<T>(decrypt: () => T): T {
    let result: T;
    try {
      result = decrypt();
    } catch (error) {
      if (error instanceof NoiseError) {
        throw new SecureChannelError('SECURE_FRAME', 'a transport frame failed authentication', {
          cause: error,
        });
      }
      throw error;
    }
    if (++this.received % REKEY_INTERVAL === 0) this.cipher.rekey();
    return result;
  }
}

/** The length field of the frame at `at`, refused when it cannot even hold a tag. */
function frameLength(bytes: Uint8Array, at: number): number {
  const length = (bytes[at]! << 8) | bytes[at + 1]!;
  if (length < TAG_LENGTH) {
    throw new SecureChannelError('SECURE_FRAME', `a ${length}-byte frame cannot hold its tag`);
  }
  return length;
}
