import { type BDict, type BValue, decode, type Encodable, encodeToSend } from '../codec/bencode.js';
import { ShoalError } from '../errors.js';

/** A KRPC message could not be decoded or is missing a required field. */
export class KrpcError extends ShoalError {
  constructor(message: string) {
    super('KRPC_INVALID', `bad DHT message: ${message}`);
  }
}

/** KRPC error codes (BEP 5). */
export const KrpcErrorCode = {
  generic: 201,
  server: 202,
  protocol: 203,
  methodUnknown: 204,
  /** BEP 44: v too big. */
  messageTooBig: 205,
  invalidSignature: 206,
  saltTooBig: 207,
  casMismatch: 301,
  seqTooLow: 302,
} as const;

/** A decoded KRPC message: query, response or error. */
export type KrpcMessage =
  | {
      readonly y: 'q';
      readonly t: Uint8Array;
      readonly q: string;
      readonly a: BDict;
      /** BEP 43: the sender is read-only and should not be added to routing tables. */
      readonly readOnly: boolean;
      readonly v?: Uint8Array;
    }
  | {
      readonly y: 'r';
      readonly t: Uint8Array;
      readonly r: BDict;
      readonly ip?: Uint8Array;
      readonly v?: Uint8Array;
    }
  | {
      readonly y: 'e';
      readonly t: Uint8Array;
      readonly code: number;
      readonly message: string;
      readonly ip?: Uint8Array;
    };

/** Largest datagram the DHT accepts or sends. */
export const MAX_KRPC_BYTES = 1500;

/** Decodes a KRPC datagram. @throws {KrpcError} */
export function decodeKrpc(packet: Uint8Array): KrpcMessage {
  if (packet.length > MAX_KRPC_BYTES) throw new KrpcError('datagram too large');
  let root: BValue;
  try {
    root = decode(packet, {
      limits: { maxDepth: 6, maxValues: 512, maxStringBytes: MAX_KRPC_BYTES },
      unsortedKeys: true,
    });
  } catch (error) {
    throw new KrpcError((error as Error).message);
  }
  if (!(root instanceof Map)) throw new KrpcError('not a dictionary');
  const t = root.get('t');
  if (!(t instanceof Uint8Array) || t.length > 16)
    throw new KrpcError('missing or oversized transaction id');
  const y = asText(root.get('y'));
  const vField = root.get('v');
  const v = vField instanceof Uint8Array ? vField : undefined;
  const ipField = root.get('ip');
  const ip =
    ipField instanceof Uint8Array && (ipField.length === 6 || ipField.length === 18)
      ? ipField
      : undefined;
  // Built field by field, not by spreading optional parts: this runs for every datagram.
  if (y === 'q') {
    const q = asText(root.get('q'));
    const a = root.get('a');
    if (q === undefined || q.length > 64) throw new KrpcError('query without a method name');
    if (!(a instanceof Map)) throw new KrpcError('query without arguments');
    const readOnly = root.get('ro') === 1;
    return v ? { y: 'q', t, q, a, readOnly, v } : { y: 'q', t, q, a, readOnly };
  }
  if (y === 'r') {
    const r = root.get('r');
    if (!(r instanceof Map)) throw new KrpcError('response without a body');
    const message: { y: 'r'; t: Uint8Array; r: BDict; ip?: Uint8Array; v?: Uint8Array } = {
      y: 'r',
      t,
      r,
    };
    if (ip) message.ip = ip;
    if (v) message.v = v;
    return message;
  }
  if (y === 'e') {
    const e = root.get('e');
    if (!Array.isArray(e) || typeof e[0] !== 'number') throw new KrpcError('error without a code');
    const message = asText(e[1]) ?? '';
    return ip ? { y: 'e', t, code: e[0], message, ip } : { y: 'e', t, code: e[0], message };
  }
  throw new KrpcError('unknown message type');
}

function asText(v: BValue | undefined): string | undefined {
  return v instanceof Uint8Array
    ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1')
    : undefined;
}

/** Encodes a query, for sending at once (the bytes share a slab: see {@link encodeToSend}). */
export function encodeQuery(
  t: Uint8Array,
  q: string,
  a: Record<string, Encodable | undefined>,
  readOnly: boolean,
  v?: Uint8Array,
): Buffer {
  const message: Record<string, Encodable> = { a, q, t, y: 'q' };
  if (readOnly) message.ro = 1;
  if (v) message.v = v;
  return encodeToSend(message);
}

/** Encodes a response for sending at once; `ip` is the requester's compact address (BEP 42). */
export function encodeResponse(
  t: Uint8Array,
  r: Record<string, Encodable | undefined>,
  ip?: Uint8Array,
  v?: Uint8Array,
): Buffer {
  return encodeToSend({ ip, r, t, y: 'r', v });
}

/** Encodes an error reply for sending at once. */
export function encodeError(t: Uint8Array, code: number, message: string, ip?: Uint8Array): Buffer {
  return encodeToSend({ e: [code, message], ip, t, y: 'e' });
}

/** A 20-byte id field of a KRPC body, or an error naming it. */
export function idField(d: BDict, key: string): Buffer {
  const v = d.get(key);
  if (!(v instanceof Uint8Array) || v.length !== 20) throw new KrpcError(`${key} must be 20 bytes`);
  return Buffer.from(v);
}

/** An optional byte-string field. */
export function bytesField(d: BDict, key: string): Buffer | undefined {
  const v = d.get(key);
  return v instanceof Uint8Array ? Buffer.from(v) : undefined;
}

/** An optional integer field. */
export function intField(d: BDict, key: string): number | undefined {
  const v = d.get(key);
  return typeof v === 'number' ? v : undefined;
}
