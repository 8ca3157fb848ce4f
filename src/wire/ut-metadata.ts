import { type BValue, decodePrefix, encode } from '../codec/bencode.js';
import { WireError } from './errors.js';

/** BEP 9 splits the info dictionary into 16 KiB pieces. */
export const METADATA_PIECE_BYTES = 16 * 1024;
/** Largest info dictionary shoal fetches (real ones are far smaller). */
export const MAX_METADATA_BYTES = 16 * 1024 * 1024;

/** A `ut_metadata` message (BEP 9). */
export type MetadataMessage =
  | { readonly type: 'request'; readonly piece: number }
  | {
      readonly type: 'data';
      readonly piece: number;
      readonly totalSize: number;
      readonly data: Uint8Array;
    }
  | { readonly type: 'reject'; readonly piece: number };

/** Encodes a `ut_metadata` payload (the part after the extended message id). */
export function encodeMetadataMessage(m: MetadataMessage): Buffer {
  if (m.type === 'data') {
    return Buffer.concat([
      encode({ msg_type: 1, piece: m.piece, total_size: m.totalSize }),
      m.data,
    ]);
  }
  return encode({ msg_type: m.type === 'request' ? 0 : 2, piece: m.piece });
}

/** Decodes a `ut_metadata` payload. @throws {WireError} */
export function decodeMetadataMessage(payload: Uint8Array): MetadataMessage {
  let value: BValue;
  let end: number;
  try {
    ({ value, end } = decodePrefix(payload, 0, { limits: { maxDepth: 4, maxValues: 64 } }));
  } catch (error) {
    throw new WireError(`ut_metadata: ${(error as Error).message}`);
  }
  if (!(value instanceof Map)) throw new WireError('ut_metadata header must be a dictionary');
  const type = value.get('msg_type');
  const piece = value.get('piece');
  if (
    typeof piece !== 'number' ||
    piece < 0 ||
    piece >= MAX_METADATA_BYTES / METADATA_PIECE_BYTES
  ) {
    throw new WireError('ut_metadata piece out of range');
  }
  switch (type) {
    case 0:
      if (end !== payload.length) throw new WireError('ut_metadata request with trailing data');
      return { type: 'request', piece };
    case 2:
      return { type: 'reject', piece };
    case 1: {
      const total = value.get('total_size');
      if (typeof total !== 'number' || total <= 0 || total > MAX_METADATA_BYTES) {
        throw new WireError('ut_metadata total_size missing or out of range');
      }
      const data = payload.subarray(end);
      if (data.length > METADATA_PIECE_BYTES) throw new WireError('ut_metadata piece too large');
      return { type: 'data', piece, totalSize: total, data };
    }
    default:
      throw new WireError(`ut_metadata msg_type ${String(type)} unknown`);
  }
}
