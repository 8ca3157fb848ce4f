import { decodeCompactPeers, encodeCompactPeers, type PeerEndpoint } from '../codec/compact.js';
import { ShoalError } from '../errors.js';

/** The magic `protocol_id` of a BEP 15 connect request. */
export const UDP_PROTOCOL_ID = 0x41727101980n;

/** BEP 15 actions. */
export const UdpAction = { connect: 0, announce: 1, scrape: 2, error: 3 } as const;

/** Announce events, numbered as BEP 15 numbers them. */
export const UDP_EVENTS = ['none', 'completed', 'started', 'stopped'] as const;
/** An announce event. */
export type AnnounceEvent = (typeof UDP_EVENTS)[number];

/** A UDP tracker packet could not be decoded. */
export class TrackerPacketError extends ShoalError {
  constructor(message: string) {
    super('TRACKER_PACKET', `bad UDP tracker packet: ${message}`);
  }
}

/** Requests a client sends. */
export type UdpRequest =
  | { readonly action: 'connect'; readonly transactionId: number }
  | {
      readonly action: 'announce';
      readonly connectionId: bigint;
      readonly transactionId: number;
      readonly infoHash: Uint8Array;
      readonly peerId: Uint8Array;
      /** Byte counts (64-bit on the wire; exact up to 2^53, far beyond any real transfer). */
      readonly downloaded: number;
      readonly left: number;
      readonly uploaded: number;
      readonly event: AnnounceEvent;
      /** IPv4 address as a 32-bit number; 0 = use the packet's source. */
      readonly ip: number;
      readonly key: number;
      readonly numWant: number;
      readonly port: number;
    }
  | {
      readonly action: 'scrape';
      readonly connectionId: bigint;
      readonly transactionId: number;
      readonly infoHashes: readonly Uint8Array[];
    };

/** Responses a tracker sends. */
export type UdpResponse =
  | { readonly action: 'connect'; readonly transactionId: number; readonly connectionId: bigint }
  | {
      readonly action: 'announce';
      readonly transactionId: number;
      readonly interval: number;
      readonly leechers: number;
      readonly seeders: number;
      readonly peers: readonly PeerEndpoint[];
    }
  | {
      readonly action: 'scrape';
      readonly transactionId: number;
      readonly files: readonly { seeders: number; completed: number; leechers: number }[];
    }
  | { readonly action: 'error'; readonly transactionId: number; readonly message: string };

/** At most this many info-hashes in one scrape (BEP 15: about 74 fit in a packet). */
export const MAX_SCRAPE_HASHES = 74;

/** Encodes a client request. */
export function encodeUdpRequest(r: UdpRequest): Buffer {
  switch (r.action) {
    case 'connect': {
      const b = Buffer.alloc(16);
      b.writeBigUInt64BE(UDP_PROTOCOL_ID, 0);
      b.writeUInt32BE(UdpAction.connect, 8);
      b.writeUInt32BE(r.transactionId >>> 0, 12);
      return b;
    }
    case 'announce': {
      const b = Buffer.alloc(98);
      b.writeBigUInt64BE(r.connectionId, 0);
      b.writeUInt32BE(UdpAction.announce, 8);
      b.writeUInt32BE(r.transactionId >>> 0, 12);
      b.set(r.infoHash, 16);
      b.set(r.peerId, 36);
      writeUint64(b, r.downloaded, 56);
      writeUint64(b, r.left, 64);
      writeUint64(b, r.uploaded, 72);
      b.writeUInt32BE(UDP_EVENTS.indexOf(r.event), 80);
      b.writeUInt32BE(r.ip >>> 0, 84);
      b.writeUInt32BE(r.key >>> 0, 88);
      b.writeInt32BE(r.numWant, 92);
      b.writeUInt16BE(r.port, 96);
      return b;
    }
    case 'scrape': {
      const b = Buffer.alloc(16 + 20 * r.infoHashes.length);
      b.writeBigUInt64BE(r.connectionId, 0);
      b.writeUInt32BE(UdpAction.scrape, 8);
      b.writeUInt32BE(r.transactionId >>> 0, 12);
      r.infoHashes.forEach((h, i) => {
        b.set(h, 16 + 20 * i);
      });
      return b;
    }
  }
}

/** Decodes a client request (tracker side). @throws {TrackerPacketError} */
export function decodeUdpRequest(b: Buffer): UdpRequest {
  if (b.length < 16) throw new TrackerPacketError('shorter than 16 bytes');
  const action = b.readUInt32BE(8);
  const transactionId = b.readUInt32BE(12);
  if (action === UdpAction.connect) {
    if (b.readBigUInt64BE(0) !== UDP_PROTOCOL_ID) throw new TrackerPacketError('wrong protocol id');
    return { action: 'connect', transactionId };
  }
  const connectionId = b.readBigUInt64BE(0);
  if (action === UdpAction.announce) {
    if (b.length < 98) throw new TrackerPacketError('announce shorter than 98 bytes');
    const event = UDP_EVENTS[b.readUInt32BE(80)];
    if (event === undefined) throw new TrackerPacketError('unknown event');
    return {
      action: 'announce',
      connectionId,
      transactionId,
      infoHash: b.subarray(16, 36),
      peerId: b.subarray(36, 56),
      downloaded: readUint64(b, 56),
      left: readUint64(b, 64),
      uploaded: readUint64(b, 72),
      event,
      ip: b.readUInt32BE(84),
      key: b.readUInt32BE(88),
      numWant: b.readInt32BE(92),
      port: b.readUInt16BE(96),
    };
  }
  if (action === UdpAction.scrape) {
    const count = Math.floor((b.length - 16) / 20);
    if (count === 0) throw new TrackerPacketError('scrape without info-hashes');
    if (count > MAX_SCRAPE_HASHES) throw new TrackerPacketError('scrape of too many info-hashes');
    const infoHashes = Array.from({ length: count }, (_, i) =>
      b.subarray(16 + 20 * i, 36 + 20 * i),
    );
    return { action: 'scrape', connectionId, transactionId, infoHashes };
  }
  throw new TrackerPacketError(`unknown action ${action}`);
}

/** Encodes a tracker response; announce peers are IPv4 or IPv6 per `family` (BEP 15). */
export function encodeUdpResponse(r: UdpResponse, family: 4 | 6 = 4): Buffer {
  const head = (action: number, extra: number) => {
    const b = Buffer.alloc(8 + extra);
    b.writeUInt32BE(action, 0);
    b.writeUInt32BE(r.transactionId >>> 0, 4);
    return b;
  };
  switch (r.action) {
    case 'connect': {
      const b = head(UdpAction.connect, 8);
      b.writeBigUInt64BE(r.connectionId, 8);
      return b;
    }
    case 'announce': {
      const peers = encodeCompactPeers(r.peers, family);
      const b = head(UdpAction.announce, 12 + peers.length);
      b.writeUInt32BE(r.interval, 8);
      b.writeUInt32BE(r.leechers, 12);
      b.writeUInt32BE(r.seeders, 16);
      peers.copy(b, 20);
      return b;
    }
    case 'scrape': {
      const b = head(UdpAction.scrape, 12 * r.files.length);
      r.files.forEach((f, i) => {
        b.writeUInt32BE(f.seeders, 8 + 12 * i);
        b.writeUInt32BE(f.completed, 12 + 12 * i);
        b.writeUInt32BE(f.leechers, 16 + 12 * i);
      });
      return b;
    }
    case 'error': {
      const text = Buffer.from(r.message, 'utf8');
      const b = head(UdpAction.error, text.length);
      text.copy(b, 8);
      return b;
    }
  }
}

/** Decodes a tracker response (client side). @throws {TrackerPacketError} */
export function decodeUdpResponse(b: Buffer, family: 4 | 6 = 4): UdpResponse {
  if (b.length < 8) throw new TrackerPacketError('shorter than 8 bytes');
  const action = b.readUInt32BE(0);
  const transactionId = b.readUInt32BE(4);
  switch (action) {
    case UdpAction.connect:
      if (b.length < 16) throw new TrackerPacketError('connect response shorter than 16 bytes');
      return { action: 'connect', transactionId, connectionId: b.readBigUInt64BE(8) };
    case UdpAction.announce:
      if (b.length < 20) throw new TrackerPacketError('announce response shorter than 20 bytes');
      return {
        action: 'announce',
        transactionId,
        interval: b.readUInt32BE(8),
        leechers: b.readUInt32BE(12),
        seeders: b.readUInt32BE(16),
        peers: decodeCompactPeers(b.subarray(20), family),
      };
    case UdpAction.scrape: {
      const files = [];
      for (let at = 8; at + 12 <= b.length; at += 12) {
        files.push({
          seeders: b.readUInt32BE(at),
          completed: b.readUInt32BE(at + 4),
          leechers: b.readUInt32BE(at + 8),
        });
      }
      return { action: 'scrape', transactionId, files };
    }
    case UdpAction.error:
      return { action: 'error', transactionId, message: b.subarray(8, 8 + 1024).toString('utf8') };
    default:
      throw new TrackerPacketError(`unknown action ${action}`);
  }
}

const TWO_32 = 2 ** 32;

/** A 64-bit big-endian count as a number, without a BigInt (the tracker's hot path). */
function readUint64(b: Buffer, offset: number): number {
  return b.readUInt32BE(offset) * TWO_32 + b.readUInt32BE(offset + 4);
}

function writeUint64(b: Buffer, n: number, offset: number): void {
  const v = Math.max(0, Math.floor(n));
  b.writeUInt32BE(Math.floor(v / TWO_32) >>> 0, offset);
  b.writeUInt32BE(v % TWO_32, offset + 4);
}
