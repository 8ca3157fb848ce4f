import type { PeerInfo } from './options.js';
import { listenAddress } from './peer-exchange.js';
import type { PeerSession } from './peer-session.js';

/** What UIs, `--json` lines and the daemon show of one connected peer. */
export function peerInfo(s: PeerSession, pieceCount: number): PeerInfo {
  const listen = listenAddress(s);
  return {
    address: listen ? `${listen.host}:${listen.port}` : s.address,
    client: s.extended?.v,
    transport: s.connection.transport,
    direction: s.connection.direction,
    encrypted: s.connection.encrypted,
    progress: s.bits && pieceCount > 0 ? s.bits.cardinality / pieceCount : 0,
    downloadRate: s.download.bytesPerSecond,
    uploadRate: s.upload.bytesPerSecond,
    amChoking: s.wire.amChoking,
    amInterested: s.wire.amInterested,
    peerChoking: s.wire.peerChoking,
    peerInterested: s.wire.peerInterested,
  };
}
