import { MuxError } from './mux-errors.js';

/**
 * The multiplexer's frames, without I/O. Every frame is
 *
 *     u32 length (of all that follows) | u8 kind | u32 channel | body
 *
 * big-endian. `channel` is the opener's channel number shifted left by one, with the low bit set
 * when the channel was opened by the frame's receiver (clear when by its sender), so both ends
 * number their own channels without coordination. Bodies by kind:
 *
 *     OPEN     u8 name length, protocol name (UTF-8, 1–255 bytes), u8 id length, id (0–255)
 *     ACCEPT   nothing
 *     REJECT   reason (UTF-8, 0–255 bytes)
 *     CLOSE    nothing
 *     CREDIT   u32 bytes the sender of the frame may now send more on the channel
 *     MESSAGE  u8 message type, payload (0–65536 bytes)
 */

/** The kinds of frame. */
export const FrameKind = {
  OPEN: 0,
  ACCEPT: 1,
  REJECT: 2,
  CLOSE: 3,
  CREDIT: 4,
  MESSAGE: 5,
} as const;

/** Largest message payload: applications chunk bigger data themselves. */
export const MAX_MESSAGE_SIZE = 65536;

/** Bytes before the body: length, kind, channel. */
export const FRAME_HEADER_SIZE = 9;

/** Largest value of the length field: a MESSAGE frame with a full payload. */
export const MAX_FRAME_LENGTH = 1 + 4 + 1 + MAX_MESSAGE_SIZE;

/** Largest channel number (31 bits, the frame's channel field keeps one bit for the opener). */
export const MAX_CHANNEL_NUMBER = 2 ** 31 - 1;

/** Where a channel was opened, seen from the frame's receiver. */
export interface ChannelRef {
  /** The opener's number for the channel. */
  readonly number: number;
  /** True when the receiver of the frame opened the channel. */
  readonly openedByReceiver: boolean;
}

/** A decoded frame. Byte fields are views of the input (lent, like the chunk they came in). */
export type Frame =
  | (ChannelRef & { kind: 0; protocol: string; id: Buffer })
  | (ChannelRef & { kind: 1 | 3 })
  | (ChannelRef & { kind: 2; reason: string })
  | (ChannelRef & { kind: 4; credit: number })
  | (ChannelRef & { kind: 5; type: number; payload: Buffer });

function header(kind: number, channel: ChannelRef, bodyLength: number): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_SIZE + bodyLength);
  out.writeUInt32BE(1 + 4 + bodyLength, 0);
  out[4] = kind;
  out.writeUInt32BE(channel.number * 2 + (channel.openedByReceiver ? 1 : 0), 5);
  return out;
}

function shortText(text: string, what: string, min: number): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length < min || bytes.length > 255) {
    throw new MuxError('MUX_USAGE', `${what} must be ${min}–255 bytes of UTF-8`);
  }
  return bytes;
}

/** An OPEN frame for our channel `number`. */
export function encodeOpen(number: number, protocol: string, id: Uint8Array): Buffer {
  const name = shortText(protocol, 'a protocol name', 1);
  if (id.length > 255) throw new MuxError('MUX_USAGE', 'a channel id is at most 255 bytes');
  const out = header(
    FrameKind.OPEN,
    { number, openedByReceiver: false },
    2 + name.length + id.length,
  );
  out[FRAME_HEADER_SIZE] = name.length;
  name.copy(out, FRAME_HEADER_SIZE + 1);
  out[FRAME_HEADER_SIZE + 1 + name.length] = id.length;
  out.set(id, FRAME_HEADER_SIZE + 2 + name.length);
  return out;
}

/** An ACCEPT or CLOSE frame. */
export function encodeEmpty(kind: 1 | 3, channel: ChannelRef): Buffer {
  return header(kind, channel, 0);
}

/** A REJECT frame answering the peer's channel `number`. */
export function encodeReject(number: number, reason: string): Buffer {
  const text = shortText(reason, 'a reject reason', 0);
  const out = header(FrameKind.REJECT, { number, openedByReceiver: true }, text.length);
  text.copy(out, FRAME_HEADER_SIZE);
  return out;
}

/** A CREDIT frame granting `credit` more bytes. */
export function encodeCredit(channel: ChannelRef, credit: number): Buffer {
  const out = header(FrameKind.CREDIT, channel, 4);
  out.writeUInt32BE(credit, FRAME_HEADER_SIZE);
  return out;
}

/**
 * The header of a MESSAGE frame (everything but the payload, which is sent as it is, after it).
 */
export function encodeMessageHeader(
  channel: ChannelRef,
  type: number,
  payloadLength: number,
): Buffer {
  if (!Number.isInteger(type) || type < 0 || type > 255) {
    throw new MuxError('MUX_USAGE', 'a message type is an integer in 0–255');
  }
  if (payloadLength > MAX_MESSAGE_SIZE) {
    throw new MuxError('MUX_USAGE', `a message is at most ${MAX_MESSAGE_SIZE} bytes`);
  }
  const out = Buffer.allocUnsafe(FRAME_HEADER_SIZE + 1);
  out.writeUInt32BE(1 + 4 + 1 + payloadLength, 0);
  out[4] = FrameKind.MESSAGE;
  out.writeUInt32BE(channel.number * 2 + (channel.openedByReceiver ? 1 : 0), 5);
  out[FRAME_HEADER_SIZE] = type;
  return out;
}

/**
 * Decodes one frame body (`bytes` is everything after the length field). Throws `MuxError`
 * (`MUX_PROTOCOL`) for anything malformed.
 */
export function decodeFrame(bytes: Buffer): Frame {
  if (bytes.length < 5) throw protocolError('a frame is shorter than its header');
  const kind = bytes[0]!;
  const field = bytes.readUInt32BE(1);
  const ref: ChannelRef = { number: field >>> 1, openedByReceiver: (field & 1) === 1 };
  const body = bytes.subarray(5);
  switch (kind) {
    case FrameKind.OPEN: {
      if (ref.openedByReceiver) throw protocolError('an OPEN names a channel we opened');
      const nameLength = body[0] ?? 0;
      const idAt = 1 + nameLength;
      if (nameLength === 0 || body.length < idAt + 1) throw protocolError('a malformed OPEN');
      const idLength = body[idAt]!;
      if (body.length !== idAt + 1 + idLength) throw protocolError('a malformed OPEN');
      const name = body.subarray(1, idAt);
      return { ...ref, kind, protocol: utf8(name, 'protocol name'), id: body.subarray(idAt + 1) };
    }
    case FrameKind.ACCEPT:
    case FrameKind.CLOSE:
      if (body.length !== 0) throw protocolError('an ACCEPT or CLOSE with a body');
      return { ...ref, kind };
    case FrameKind.REJECT:
      if (!ref.openedByReceiver) throw protocolError('a REJECT of a channel it opened itself');
      if (body.length > 255) throw protocolError('a REJECT reason over 255 bytes');
      return { ...ref, kind, reason: utf8(body, 'reject reason') };
    case FrameKind.CREDIT: {
      if (body.length !== 4) throw protocolError('a CREDIT is 4 bytes');
      return { ...ref, kind, credit: body.readUInt32BE(0) };
    }
    case FrameKind.MESSAGE:
      if (body.length < 1) throw protocolError('a MESSAGE without a type');
      return { ...ref, kind, type: body[0]!, payload: body.subarray(1) };
    default:
      throw protocolError(`unknown frame kind ${kind}`);
  }
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function utf8(bytes: Uint8Array, what: string): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw protocolError(`a ${what} that is not UTF-8`);
  }
}

function protocolError(message: string): MuxError {
  return new MuxError('MUX_PROTOCOL', `peer broke the multiplexer protocol: ${message}`);
}

/**
 * Cuts a byte stream into frame bodies. Whole frames are lent as views of the chunk they came
 * in; a frame split across chunks is gathered in a buffer sized to it. A length over
 * {@link MAX_FRAME_LENGTH} is refused before anything is buffered.
 */
export class FrameReader {
  private readonly lengthBytes = Buffer.alloc(4);
  private lengthHave = 0;
  private body: Buffer | undefined;
  private bodyHave = 0;

  /** Feeds `chunk`; `onFrame` gets each frame body. Stops when `onFrame` returns false. */
  push(chunk: Buffer, onFrame: (body: Buffer) => boolean): void {
    let at = 0;
    if (this.lengthHave > 0) {
      at = this.gather(chunk, 0);
      if (this.body === undefined || this.bodyHave < this.body.length) return;
      const body = this.body;
      this.lengthHave = 0;
      this.body = undefined;
      this.bodyHave = 0;
      if (!onFrame(body)) return;
    }
    while (chunk.length - at >= 4) {
      const length = frameLength(chunk.readUInt32BE(at));
      const end = at + 4 + length;
      if (end > chunk.length) break;
      const body = chunk.subarray(at + 4, end);
      at = end;
      if (!onFrame(body)) return;
    }
    if (at < chunk.length) this.gather(chunk, at);
  }

  private gather(chunk: Buffer, at: number): number {
    if (this.lengthHave < 4) {
      const take = Math.min(4 - this.lengthHave, chunk.length - at);
      chunk.copy(this.lengthBytes, this.lengthHave, at, at + take);
      this.lengthHave += take;
      at += take;
      if (this.lengthHave < 4) return at;
      this.body = Buffer.allocUnsafe(frameLength(this.lengthBytes.readUInt32BE(0)));
    }
    const body = this.body!;
    const take = Math.min(body.length - this.bodyHave, chunk.length - at);
    chunk.copy(body, this.bodyHave, at, at + take);
    this.bodyHave += take;
    return at + take;
  }
}

function frameLength(length: number): number {
  if (length > MAX_FRAME_LENGTH) throw protocolError(`a ${length}-byte frame`);
  return length;
}
