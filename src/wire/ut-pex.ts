import { type BValue, decode, encode } from '../codec/bencode.js';
import {
  decodeCompactPeers,
  encodeCompactPeers,
  ipFamily,
  type PeerEndpoint,
} from '../codec/compact.js';
import { WireError } from './errors.js';

/** BEP 11 caps: at most 50 added and 50 dropped peers per message. */
export const MAX_PEX_PEERS = 50;

/** BEP 11 peer flags. */
export const PexFlag = {
  encryption: 0x01,
  seed: 0x02,
  utp: 0x04,
  holepunch: 0x08,
  reachable: 0x10,
} as const;

/** A peer in a PEX message, with its flags. */
export interface PexPeer extends PeerEndpoint {
  readonly flags: number;
}

/** One `ut_pex` message: peers connected and disconnected since the last one. */
export interface PexMessage {
  readonly added: readonly PexPeer[];
  readonly dropped: readonly PeerEndpoint[];
}

/** Encodes a `ut_pex` payload (both address families). */
export function encodePex(m: PexMessage): Buffer {
  const added = m.added.slice(0, MAX_PEX_PEERS);
  const dropped = m.dropped.slice(0, MAX_PEX_PEERS);
  const v4 = added.filter((p) => ipFamily(p.host) === 4);
  const v6 = added.filter((p) => ipFamily(p.host) === 6);
  return encode({
    added: encodeCompactPeers(v4, 4),
    'added.f': Buffer.from(v4.map((p) => p.flags & 0xff)),
    added6: encodeCompactPeers(v6, 6),
    'added6.f': Buffer.from(v6.map((p) => p.flags & 0xff)),
    dropped: encodeCompactPeers(dropped, 4),
    dropped6: encodeCompactPeers(dropped, 6),
  });
}

/** Decodes a `ut_pex` payload, keeping at most 50 peers of each kind. @throws {WireError} */
export function decodePex(payload: Uint8Array): PexMessage {
  let root: BValue;
  try {
    root = decode(payload, {
      limits: { maxDepth: 4, maxValues: 64, maxStringBytes: 64 * 1024 },
      unsortedKeys: true,
    });
  } catch (error) {
    throw new WireError(`ut_pex: ${(error as Error).message}`);
  }
  if (!(root instanceof Map)) throw new WireError('ut_pex must be a dictionary');
  const bytes = (key: string): Uint8Array => {
    const v = root.get(key);
    return v instanceof Uint8Array ? v : new Uint8Array(0);
  };
  const withFlags = (peers: PeerEndpoint[], flags: Uint8Array): PexPeer[] =>
    peers.map((p, i) => ({ ...p, flags: flags[i] ?? 0 }));
  const added = [
    ...withFlags(decodeCompactPeers(bytes('added'), 4), bytes('added.f')),
    ...withFlags(decodeCompactPeers(bytes('added6'), 6), bytes('added6.f')),
  ].slice(0, MAX_PEX_PEERS);
  const dropped = [
    ...decodeCompactPeers(bytes('dropped'), 4),
    ...decodeCompactPeers(bytes('dropped6'), 6),
  ].slice(0, MAX_PEX_PEERS);
  return { added, dropped };
}
