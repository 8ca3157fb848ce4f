/**
 * The uTP packet codec (BEP 29, version 1): the 20-byte header, the extension chain with the
 * selective-ACK extension, and shoal's one private extension. Sans-I/O and allocation-free on
 * the hot path: `decodeUtpPacket` fills a reusable {@link UtpPacket} with offsets into the
 * datagram, `writeHeader` writes a header in place.
 *
 * Header layout (all fields big-endian):
 *
 *     0       4       8               16              24              32
 *     | type  | ver   | extension     | connection_id                 |
 *     | timestamp_microseconds                                        |
 *     | timestamp_difference_microseconds                             |
 *     | wnd_size                                                      |
 *     | seq_nr                        | ack_nr                        |
 */
import { UtpPacketError } from './errors.js';

/** Packet types (the high nibble of the first byte). */
export const ST_DATA = 0;
export const ST_FIN = 1;
export const ST_STATE = 2;
export const ST_RESET = 3;
export const ST_SYN = 4;

/** One of the five packet types. */
export type UtpPacketType = 0 | 1 | 2 | 3 | 4;

/** The only protocol version (the low nibble of the first byte). */
export const UTP_VERSION = 1;
/** Bytes of the fixed header. */
export const HEADER_BYTES = 20;
/** The selective-ACK extension (BEP 29). */
export const EXTENSION_SACK = 1;
/**
 * shoal's private extension, sent only in a SYN and its answering STATE: a 4-byte big-endian
 * count of the largest datagram the sender accepts. Other implementations skip it as unknown;
 * two shoal ends use it to agree on packets larger than an Ethernet MTU on loopback.
 */
export const EXTENSION_MAX_DATAGRAM = 0x53;
/** The largest datagram a UDP socket can carry, and so the longest input accepted. */
export const MAX_DATAGRAM_BYTES = 65_535;
/** Longest extension chain accepted: real peers send one or two. */
export const MAX_EXTENSIONS = 8;
/** Longest selective-ACK bitmask sent (bytes): 1024 packets past `ack_nr + 1`. */
export const MAX_SACK_BYTES = 128;

/**
 * A decoded packet: the header fields, and where the variable parts sit in `data` (the datagram,
 * not copied). Reused from packet to packet by the socket, so a connection reads what it needs
 * during the call and keeps nothing.
 */
export interface UtpPacket {
  type: UtpPacketType;
  connectionId: number;
  /** Sender's clock when sent, microseconds modulo 2^32. */
  timestamp: number;
  /** Sender's latest one-way delay sample of our packets, microseconds. */
  timestampDifference: number;
  /** Bytes the sender can still buffer (its advertised receive window). */
  windowSize: number;
  seqNr: number;
  ackNr: number;
  /** Offset (0 when absent) and length in `data` of the selective-ACK bitmask. */
  sackOffset: number;
  sackLength: number;
  /** The peer's largest acceptable datagram from {@link EXTENSION_MAX_DATAGRAM}, or 0. */
  maxDatagram: number;
  /** Where the payload starts in `data` (it runs to the end). */
  payloadOffset: number;
  data: Uint8Array;
}

/** A fresh, empty {@link UtpPacket} to decode into. */
export function emptyPacket(): UtpPacket {
  return {
    type: ST_DATA,
    connectionId: 0,
    timestamp: 0,
    timestampDifference: 0,
    windowSize: 0,
    seqNr: 0,
    ackNr: 0,
    sackOffset: 0,
    sackLength: 0,
    maxDatagram: 0,
    payloadOffset: HEADER_BYTES,
    data: new Uint8Array(0),
  };
}

/**
 * A cheap test for the UDP demultiplexer: could this datagram be uTP? The first byte of a uTP
 * packet is `type << 4 | 1` with type 0–4 (0x01, 0x11, 0x21, 0x31, 0x41). DHT messages start
 * with `d` (0x64) and UDP tracker replies with a zero byte (their action's high byte), so the
 * three never collide. A true answer still needs {@link decodeUtpPacket} to be sure.
 */
export function isUtpPacket(data: Uint8Array): boolean {
  if (data.length < HEADER_BYTES) return false;
  const b = data[0]!;
  return (b & 0x0f) === UTP_VERSION && b >> 4 <= ST_SYN;
}

const u16 = (d: Uint8Array, i: number) => (d[i]! << 8) | d[i + 1]!;
const u32 = (d: Uint8Array, i: number) =>
  ((d[i]! << 24) | (d[i + 1]! << 16) | (d[i + 2]! << 8) | d[i + 3]!) >>> 0;

/**
 * Decodes `data` into `into` (a new packet when omitted) and returns it. Throws
 * {@link UtpPacketError} on anything malformed: wrong size or version, unknown type, an
 * extension running past the end, a chain longer than {@link MAX_EXTENSIONS}, two selective
 * ACKs. Unknown extensions are skipped.
 */
export function decodeUtpPacket(data: Uint8Array, into: UtpPacket = emptyPacket()): UtpPacket {
  const n = data.length;
  if (n < HEADER_BYTES) throw new UtpPacketError(`${n} bytes, shorter than the 20-byte header`);
  if (n > MAX_DATAGRAM_BYTES) throw new UtpPacketError(`${n} bytes, more than a datagram holds`);
  const b0 = data[0]!;
  if ((b0 & 0x0f) !== UTP_VERSION) throw new UtpPacketError(`version ${b0 & 0x0f}, not 1`);
  const type = b0 >> 4;
  if (type > ST_SYN) throw new UtpPacketError(`unknown type ${type}`);
  into.type = type as UtpPacketType;
  into.connectionId = u16(data, 2);
  into.timestamp = u32(data, 4);
  into.timestampDifference = u32(data, 8);
  into.windowSize = u32(data, 12);
  into.seqNr = u16(data, 16);
  into.ackNr = u16(data, 18);
  into.sackOffset = 0;
  into.sackLength = 0;
  into.maxDatagram = 0;
  into.data = data;
  let extension = data[1]!;
  let at = HEADER_BYTES;
  for (let count = 0; extension !== 0; count++) {
    if (count === MAX_EXTENSIONS)
      throw new UtpPacketError(`more than ${MAX_EXTENSIONS} extensions`);
    if (at + 2 > n) throw new UtpPacketError(`extension ${extension} header runs past the end`);
    const next = data[at]!;
    const len = data[at + 1]!;
    at += 2;
    if (at + len > n)
      throw new UtpPacketError(`extension ${extension} of ${len} bytes runs past the end`);
    if (extension === EXTENSION_SACK) {
      // BEP 29 asks for multiples of 4 bytes, but libtorrent sends 7, 9, … : any length goes.
      if (into.sackOffset !== 0) throw new UtpPacketError('two selective ACK extensions');
      into.sackOffset = at;
      into.sackLength = len;
    } else if (extension === EXTENSION_MAX_DATAGRAM) {
      if (len !== 4) throw new UtpPacketError(`max-datagram extension of ${len} bytes, not 4`);
      into.maxDatagram = u32(data, at);
    }
    at += len;
    extension = next;
  }
  into.payloadOffset = at;
  return into;
}

/**
 * Writes a header at the start of `buf` (at least 20 bytes). `extension` is the first
 * extension's type (0 for none). Numbers are reduced to their field widths.
 */
export function writeHeader(
  buf: Uint8Array,
  type: UtpPacketType,
  extension: number,
  connectionId: number,
  timestamp: number,
  timestampDifference: number,
  windowSize: number,
  seqNr: number,
  ackNr: number,
): void {
  buf[0] = (type << 4) | UTP_VERSION;
  buf[1] = extension;
  buf[2] = connectionId >>> 8;
  buf[3] = connectionId;
  writeU32(buf, 4, timestamp);
  writeU32(buf, 8, timestampDifference);
  writeU32(buf, 12, windowSize);
  buf[16] = seqNr >>> 8;
  buf[17] = seqNr;
  buf[18] = ackNr >>> 8;
  buf[19] = ackNr;
}

/** Writes `value` (reduced modulo 2^32) big-endian at `at`. */
export function writeU32(buf: Uint8Array, at: number, value: number): void {
  buf[at] = value >>> 24;
  buf[at + 1] = value >>> 16;
  buf[at + 2] = value >>> 8;
  buf[at + 3] = value;
}

/** Every field of a packet, for {@link encodeUtpPacket}. */
export interface UtpPacketFields {
  readonly type: UtpPacketType;
  readonly connectionId: number;
  readonly timestamp: number;
  readonly timestampDifference: number;
  readonly windowSize: number;
  readonly seqNr: number;
  readonly ackNr: number;
  /** Selective-ACK bitmask (a positive multiple of 4 bytes, at most 128), if any. */
  readonly sack?: Uint8Array | undefined;
  /** Value of the {@link EXTENSION_MAX_DATAGRAM} extension, if it is to be sent. */
  readonly maxDatagram?: number | undefined;
  readonly payload?: Uint8Array | undefined;
}

/** Bytes {@link encodeUtpPacket} will produce for these fields. */
export function encodedLength(fields: UtpPacketFields): number {
  return (
    HEADER_BYTES +
    (fields.sack === undefined ? 0 : 2 + fields.sack.length) +
    (fields.maxDatagram === undefined ? 0 : 6) +
    (fields.payload?.length ?? 0)
  );
}

/**
 * Encodes a whole packet into `into` (or a new buffer): header, then the selective ACK and the
 * max-datagram extension when given, then the payload. Returns the bytes written as a view.
 */
export function encodeUtpPacket(fields: UtpPacketFields, into?: Uint8Array): Uint8Array {
  const { sack, maxDatagram, payload } = fields;
  if (sack !== undefined && (sack.length === 0 || sack.length % 4 !== 0 || sack.length > 128))
    throw new RangeError(`a selective ACK is a positive multiple of 4 bytes up to 128`);
  const length = encodedLength(fields);
  const out = into ?? new Uint8Array(length);
  if (out.length < length) throw new RangeError(`${length} bytes do not fit in ${out.length}`);
  const first =
    sack !== undefined ? EXTENSION_SACK : maxDatagram !== undefined ? EXTENSION_MAX_DATAGRAM : 0;
  writeHeader(
    out,
    fields.type,
    first,
    fields.connectionId,
    fields.timestamp,
    fields.timestampDifference,
    fields.windowSize,
    fields.seqNr,
    fields.ackNr,
  );
  let at = HEADER_BYTES;
  if (sack !== undefined) {
    out[at] = maxDatagram !== undefined ? EXTENSION_MAX_DATAGRAM : 0;
    out[at + 1] = sack.length;
    out.set(sack, at + 2);
    at += 2 + sack.length;
  }
  if (maxDatagram !== undefined) {
    out[at] = 0;
    out[at + 1] = 4;
    writeU32(out, at + 2, maxDatagram);
    at += 6;
  }
  if (payload !== undefined) out.set(payload, at);
  return out.subarray(0, length);
}
