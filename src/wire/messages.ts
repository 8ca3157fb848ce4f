import { WireError } from './errors.js';

/** Message ids of BEP 3, BEP 5 (port), BEP 6 (fast), BEP 10 (extended) and BEP 52 (hashes). */
export const MessageId = {
  choke: 0,
  unchoke: 1,
  interested: 2,
  notInterested: 3,
  have: 4,
  bitfield: 5,
  request: 6,
  piece: 7,
  cancel: 8,
  port: 9,
  suggest: 13,
  haveAll: 14,
  haveNone: 15,
  reject: 16,
  allowedFast: 17,
  extended: 20,
  hashRequest: 21,
  hashes: 22,
  hashReject: 23,
} as const;

/** A block address: piece index, byte offset, length. */
export interface BlockRef {
  readonly index: number;
  readonly begin: number;
  readonly length: number;
}

/** BEP 52 hash request / reject fields. */
export interface HashRef {
  readonly piecesRoot: Uint8Array;
  readonly baseLayer: number;
  readonly index: number;
  readonly length: number;
  readonly proofLayers: number;
}

/** Every peer wire message shoal understands. */
export type Message =
  | { readonly type: 'keep-alive' }
  | { readonly type: 'choke' }
  | { readonly type: 'unchoke' }
  | { readonly type: 'interested' }
  | { readonly type: 'not-interested' }
  | { readonly type: 'have'; readonly index: number }
  | { readonly type: 'bitfield'; readonly bits: Uint8Array }
  | ({ readonly type: 'request' } & BlockRef)
  | {
      readonly type: 'piece';
      readonly index: number;
      readonly begin: number;
      readonly block: Uint8Array;
    }
  | ({ readonly type: 'cancel' } & BlockRef)
  | { readonly type: 'port'; readonly port: number }
  | { readonly type: 'suggest'; readonly index: number }
  | { readonly type: 'have-all' }
  | { readonly type: 'have-none' }
  | ({ readonly type: 'reject' } & BlockRef)
  | { readonly type: 'allowed-fast'; readonly index: number }
  | { readonly type: 'extended'; readonly id: number; readonly payload: Uint8Array }
  | ({ readonly type: 'hash-request' } & HashRef)
  | ({ readonly type: 'hashes' } & HashRef & { readonly hashes: Uint8Array })
  | ({ readonly type: 'hash-reject' } & HashRef);

function frame(id: number, bodyLength: number): Buffer {
  const b = Buffer.allocUnsafe(5 + bodyLength);
  b.writeUInt32BE(1 + bodyLength, 0);
  b[4] = id;
  return b;
}

function hashRefFrame(id: number, r: HashRef, extra: number): Buffer {
  const b = frame(id, 48 + extra);
  b.set(r.piecesRoot, 5);
  b.writeUInt32BE(r.baseLayer, 37);
  b.writeUInt32BE(r.index, 41);
  b.writeUInt32BE(r.length, 45);
  b.writeUInt32BE(r.proofLayers, 49);
  return b;
}

/** Encodes one message with its 4-byte length prefix. */
export function encodeMessage(m: Message): Buffer {
  switch (m.type) {
    case 'keep-alive':
      return Buffer.alloc(4);
    case 'choke':
      return frame(MessageId.choke, 0);
    case 'unchoke':
      return frame(MessageId.unchoke, 0);
    case 'interested':
      return frame(MessageId.interested, 0);
    case 'not-interested':
      return frame(MessageId.notInterested, 0);
    case 'have-all':
      return frame(MessageId.haveAll, 0);
    case 'have-none':
      return frame(MessageId.haveNone, 0);
    case 'have':
    case 'suggest':
    case 'allowed-fast': {
      const id =
        m.type === 'have'
          ? MessageId.have
          : m.type === 'suggest'
            ? MessageId.suggest
            : MessageId.allowedFast;
      const b = frame(id, 4);
      b.writeUInt32BE(m.index, 5);
      return b;
    }
    case 'bitfield': {
      const b = frame(MessageId.bitfield, m.bits.length);
      b.set(m.bits, 5);
      return b;
    }
    case 'request':
    case 'cancel':
    case 'reject': {
      const id =
        m.type === 'request'
          ? MessageId.request
          : m.type === 'cancel'
            ? MessageId.cancel
            : MessageId.reject;
      const b = frame(id, 12);
      b.writeUInt32BE(m.index, 5);
      b.writeUInt32BE(m.begin, 9);
      b.writeUInt32BE(m.length, 13);
      return b;
    }
    case 'piece': {
      const b = frame(MessageId.piece, 8 + m.block.length);
      b.writeUInt32BE(m.index, 5);
      b.writeUInt32BE(m.begin, 9);
      b.set(m.block, 13);
      return b;
    }
    case 'port': {
      const b = frame(MessageId.port, 2);
      b.writeUInt16BE(m.port, 5);
      return b;
    }
    case 'extended': {
      const b = frame(MessageId.extended, 1 + m.payload.length);
      b[5] = m.id;
      b.set(m.payload, 6);
      return b;
    }
    case 'hash-request':
      return hashRefFrame(MessageId.hashRequest, m, 0);
    case 'hash-reject':
      return hashRefFrame(MessageId.hashReject, m, 0);
    case 'hashes': {
      const b = hashRefFrame(MessageId.hashes, m, m.hashes.length);
      b.set(m.hashes, 53);
      return b;
    }
  }
}

/**
 * The header of a piece message, for writing a block without first copying it into a
 * single buffer (the block follows as a second write).
 */
export function encodePieceHeader(index: number, begin: number, blockLength: number): Buffer {
  const b = Buffer.allocUnsafe(13); // 13 bytes, from Node's shared pool
  b.writeUInt32BE(9 + blockLength, 0);
  b[4] = MessageId.piece;
  b.writeUInt32BE(index, 5);
  b.writeUInt32BE(begin, 9);
  return b;
}

const FIXED_BODY: Record<number, number> = {
  [MessageId.choke]: 0,
  [MessageId.unchoke]: 0,
  [MessageId.interested]: 0,
  [MessageId.notInterested]: 0,
  [MessageId.haveAll]: 0,
  [MessageId.haveNone]: 0,
  [MessageId.have]: 4,
  [MessageId.suggest]: 4,
  [MessageId.allowedFast]: 4,
  [MessageId.request]: 12,
  [MessageId.cancel]: 12,
  [MessageId.reject]: 12,
  [MessageId.port]: 2,
  [MessageId.hashRequest]: 48,
  [MessageId.hashReject]: 48,
};

/** Ids whose decoded message holds a view of the body: a bitfield, an extension payload, hashes. */
const VIEW_IDS: ReadonlySet<number> = new Set([
  MessageId.bitfield,
  MessageId.extended,
  MessageId.hashRequest,
  MessageId.hashes,
  MessageId.hashReject,
]);

/**
 * True when {@link decodeBody} would return views of a body with this id (a piece's block
 * aside): a caller that lends out the body must decode such a body from a copy. The rest decode
 * into numbers and can be read where they lie.
 */
export function decodesToView(id: number): boolean {
  return VIEW_IDS.has(id);
}

/**
 * Decodes one message body (`id` + payload, without the length prefix).
 * Unknown ids are returned as `undefined` and ignored by callers, as BEP 3 asks.
 * @throws {WireError} on a malformed body.
 */
export function decodeBody(body: Buffer): Message | undefined {
  const id = body[0]!;
  const fixed = FIXED_BODY[id];
  if (fixed !== undefined && body.length - 1 !== fixed) {
    throw new WireError(`message ${id} must carry ${fixed} bytes, not ${body.length - 1}`);
  }
  const u32 = (at: number) => body.readUInt32BE(at);
  const hashRef = (): HashRef => ({
    piecesRoot: body.subarray(1, 33),
    baseLayer: u32(33),
    index: u32(37),
    length: u32(41),
    proofLayers: u32(45),
  });
  switch (id) {
    case MessageId.choke:
      return { type: 'choke' };
    case MessageId.unchoke:
      return { type: 'unchoke' };
    case MessageId.interested:
      return { type: 'interested' };
    case MessageId.notInterested:
      return { type: 'not-interested' };
    case MessageId.haveAll:
      return { type: 'have-all' };
    case MessageId.haveNone:
      return { type: 'have-none' };
    case MessageId.have:
      return { type: 'have', index: u32(1) };
    case MessageId.suggest:
      return { type: 'suggest', index: u32(1) };
    case MessageId.allowedFast:
      return { type: 'allowed-fast', index: u32(1) };
    case MessageId.bitfield:
      return { type: 'bitfield', bits: body.subarray(1) };
    case MessageId.request:
      return { type: 'request', index: u32(1), begin: u32(5), length: u32(9) };
    case MessageId.cancel:
      return { type: 'cancel', index: u32(1), begin: u32(5), length: u32(9) };
    case MessageId.reject:
      return { type: 'reject', index: u32(1), begin: u32(5), length: u32(9) };
    case MessageId.piece:
      if (body.length < 9) throw new WireError('piece message too short');
      return { type: 'piece', index: u32(1), begin: u32(5), block: body.subarray(9) };
    case MessageId.port:
      return { type: 'port', port: body.readUInt16BE(1) };
    case MessageId.extended:
      if (body.length < 2) throw new WireError('extended message without an id');
      return { type: 'extended', id: body[1]!, payload: body.subarray(2) };
    case MessageId.hashRequest:
      return { type: 'hash-request', ...hashRef() };
    case MessageId.hashReject:
      return { type: 'hash-reject', ...hashRef() };
    case MessageId.hashes:
      if (body.length < 49 || (body.length - 49) % 32 !== 0)
        throw new WireError('hashes message malformed');
      return { type: 'hashes', ...hashRef(), hashes: body.subarray(49) };
    default:
      return undefined;
  }
}

/**
 * The size of a stash (a 16 KiB block and its header fit); a larger one is grown for a rare
 * large message and dropped once that message is complete.
 */
const STASH_BYTES = 32 * 1024;
/** Stashes no reader holds, shared by all: how many are kept for reuse. */
const SPARE_STASHES = 64;
const spareStashes: Buffer[] = [];
const NO_STASH: Buffer = Buffer.alloc(0);

/**
 * Splits a byte stream into message bodies, however the stream is chunked. Whole messages are
 * handed on as views of the chunk they arrived in; only a message split across chunks is
 * copied, into a buffer the reader keeps (so the caller may reuse its chunks).
 */
export class MessageReader {
  /** The start of a message whose end has not arrived yet: `stashed` bytes, length prefix first. */
  private stash: Buffer = NO_STASH;
  private stashed = 0;

  /** @param maxMessageBytes the longest body accepted; longer ones fail before buffering. */
  constructor(private readonly maxMessageBytes: number) {}

  /**
   * Reads `chunk` and calls `onBody` with each complete message body (`null` for a keep-alive).
   * A body is lent for the call only: it may be a view of `chunk` or of a stash buffer, which
   * goes back to a pool shared by every reader when the call returns (a reader holds one only
   * while a message is split across chunks: thousands of idle connections hold none).
   * @throws {WireError} for an over-long message
   */
  push(chunk: Buffer, onBody: (body: Buffer | null) => void): void {
    let pos = 0;
    if (this.stashed > 0) {
      pos = this.fillStash(chunk, 0);
      if (this.stashed < 4) return;
      const length = this.stash.readUInt32BE(0);
      if (this.stashed < 4 + length) return;
      const stash = this.stash;
      this.stashed = 0;
      this.stash = NO_STASH;
      try {
        onBody(length === 0 ? null : stash.subarray(4, 4 + length));
      } finally {
        if (stash.length === STASH_BYTES && spareStashes.length < SPARE_STASHES)
          spareStashes.push(stash);
      }
    }
    while (chunk.length - pos >= 4) {
      const length = this.checked(chunk.readUInt32BE(pos));
      if (chunk.length - pos - 4 < length) break;
      onBody(length === 0 ? null : chunk.subarray(pos + 4, pos + 4 + length));
      pos += 4 + length;
    }
    if (pos < chunk.length) this.fillStash(chunk, pos);
  }

  /**
   * Moves bytes of `chunk` from `pos` into the stash, up to the end of the message they start
   * (as far as its length is known); returns the position after them.
   */
  private fillStash(chunk: Buffer, pos: number): number {
    if (this.stashed < 4) {
      const n = Math.min(4 - this.stashed, chunk.length - pos);
      this.reserve(4);
      chunk.copy(this.stash, this.stashed, pos, pos + n);
      this.stashed += n;
      pos += n;
      if (this.stashed < 4) return pos;
    }
    const total = 4 + this.checked(this.stash.readUInt32BE(0));
    this.reserve(total);
    const n = Math.min(total - this.stashed, chunk.length - pos);
    chunk.copy(this.stash, this.stashed, pos, pos + n);
    this.stashed += n;
    return pos + n;
  }

  /** Grows the stash to hold `bytes`, keeping what it holds: a shared spare when one fits. */
  private reserve(bytes: number): void {
    if (this.stash.length >= bytes) return;
    const grown =
      bytes > STASH_BYTES
        ? Buffer.allocUnsafe(bytes)
        : (spareStashes.pop() ?? Buffer.allocUnsafeSlow(STASH_BYTES));
    this.stash.copy(grown, 0, 0, this.stashed);
    if (this.stash.length === STASH_BYTES && spareStashes.length < SPARE_STASHES)
      spareStashes.push(this.stash);
    this.stash = grown;
  }

  private checked(length: number): number {
    if (length > this.maxMessageBytes)
      throw new WireError(`message of ${length} bytes exceeds the limit`);
    return length;
  }
}
