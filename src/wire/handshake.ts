import { keepBytes } from '../shared/kept-bytes.js';
import { WireError } from './errors.js';

const PSTR = Buffer.from('BitTorrent protocol', 'latin1');
/** Bytes in a BEP 3 handshake: pstrlen, pstr, reserved, info-hash, peer id. */
export const HANDSHAKE_BYTES = 68;

/** Reserved-bit capabilities: `[byte index, mask]` in the 8 reserved bytes. */
export const RESERVED = {
  /** BEP 10 extension protocol. */
  extensionProtocol: [5, 0x10],
  /** BEP 6 fast extension. */
  fast: [7, 0x04],
  /** BEP 5 DHT port message. */
  dht: [7, 0x01],
  /** BEP 52: the peer can upgrade to the v2 swarm. */
  v2: [7, 0x10],
} as const satisfies Record<string, readonly [number, number]>;

/** A capability named in {@link RESERVED}. */
export type Capability = keyof typeof RESERVED;

/** What each side says first. */
export interface Handshake {
  readonly reserved: Uint8Array;
  readonly infoHash: Uint8Array;
  readonly peerId: Uint8Array;
}

/** Reserved bytes advertising `capabilities`. */
export function reservedBytes(capabilities: readonly Capability[]): Buffer {
  const r = Buffer.alloc(8);
  for (const c of capabilities) {
    const [i, mask] = RESERVED[c];
    r[i]! |= mask;
  }
  return r;
}

/** Whether reserved bytes advertise `capability`. */
export function hasCapability(reserved: Uint8Array, capability: Capability): boolean {
  const [i, mask] = RESERVED[capability];
  return (reserved[i]! & mask) !== 0;
}

/** The 68 handshake bytes. */
export function encodeHandshake(h: Handshake): Buffer {
  // From the shared pool (a new zeroed buffer each costs far more); every byte is written below,
  // and the fields' lengths are checked so nothing of the pool can leak out.
  if (h.reserved.length !== 8 || h.infoHash.length !== 20 || h.peerId.length !== 20)
    throw new WireError('handshake fields must be 8, 20 and 20 bytes');
  const out = Buffer.allocUnsafe(HANDSHAKE_BYTES);
  out[0] = PSTR.length;
  PSTR.copy(out, 1);
  out.set(h.reserved, 20);
  out.set(h.infoHash, 28);
  out.set(h.peerId, 48);
  return out;
}

/** Parses 68 handshake bytes. @throws {WireError} */
export function decodeHandshake(bytes: Uint8Array): Handshake {
  if (bytes.length !== HANDSHAKE_BYTES) throw new WireError('handshake must be 68 bytes');
  if (bytes[0] !== PSTR.length || !PSTR.equals(bytes.subarray(1, 20))) {
    throw new WireError('not a BitTorrent handshake');
  }
  // Kept for the connection's life: copies that pin no pool slab or received chunk.
  return {
    reserved: keepBytes(bytes.subarray(20, 28)),
    infoHash: keepBytes(bytes.subarray(28, 48)),
    peerId: keepBytes(bytes.subarray(48, 68)),
  };
}
