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
  const b = frame(MessageId.piece, 8 + blockLength).subarray(0, 13);
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
 * Splits a byte stream into message bodies, however the stream is chunked. Chunks are kept
 * in a list and joined only when a message straddles them, so large transfers copy little.
 */
export class MessageReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** @param maxMessageBytes the longest body accepted; longer ones fail before buffering. */
  constructor(private readonly maxMessageBytes: number) {}

  /** Bytes received but not yet returned as messages. */
  get pending(): number {
    return this.buffered;
  }

  /** Adds bytes and returns every complete message body (`null` for a keep-alive). */
  push(chunk: Buffer): (Buffer | null)[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const out: (Buffer | null)[] = [];
    for (;;) {
      if (this.buffered < 4) break;
      const length = this.peekLength();
      if (length > this.maxMessageBytes)
        throw new WireError(`message of ${length} bytes exceeds the limit`);
      if (this.buffered < 4 + length) break;
      this.consume(4);
      out.push(length === 0 ? null : this.consume(length));
    }
    return out;
  }

  /** Removes and returns `n` raw bytes (used for the 68-byte handshake). */
  take(n: number): Buffer | undefined {
    return this.buffered >= n ? this.consume(n) : undefined;
  }

  /** Adds bytes without parsing them (before the handshake is complete). */
  append(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readUInt32BE(0);
    const head = Buffer.concat(this.chunks, 4);
    return head.readUInt32BE(0);
  }

  private consume(n: number): Buffer {
    const first = this.chunks[0]!;
    this.buffered -= n;
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const take = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, take);
      filled += take;
      if (take === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(take);
    }
    return out;
  }
}
