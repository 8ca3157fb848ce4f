import type { ManagedStream } from '../net/connection.js';
import type { ConnectionManager } from '../net/connection-manager.js';
import type { InboundProtocol, SniffVerdict } from '../net/inbound-demux.js';
import type { Torrent } from '../swarm/torrent.js';
import { decodeHandshake, HANDSHAKE_BYTES } from '../wire/handshake.js';

const PREFIX = Buffer.concat([Buffer.from([19]), Buffer.from('BitTorrent protocol', 'latin1')]);

/**
 * Plaintext BitTorrent on the node's port: recognised by its 20-byte prefix, then the 68-byte
 * handshake names the torrent (by v1 info-hash or truncated v2 info-hash), which takes the
 * connection over.
 */
export class BitTorrentInbound implements InboundProtocol {
  readonly name = 'bittorrent';

  constructor(
    private readonly torrentFor: (handshakeHash: string) => Torrent | undefined,
    private readonly connections: ConnectionManager,
  ) {}

  sniff(first: Buffer): SniffVerdict {
    const n = Math.min(first.length, PREFIX.length);
    if (!first.subarray(0, n).equals(PREFIX.subarray(0, n))) return 'no';
    return first.length >= HANDSHAKE_BYTES ? 'yes' : 'more';
  }

  accept(stream: ManagedStream, first: Buffer): void {
    try {
      const h = decodeHandshake(first.subarray(0, HANDSHAKE_BYTES));
      const torrent = this.torrentFor(Buffer.from(h.infoHash).toString('hex'));
      if (torrent?.attachIncoming(stream, h, first.subarray(HANDSHAKE_BYTES))) {
        this.connections.established(stream);
        return;
      }
    } catch {
      // a malformed handshake: close below
    }
    stream.destroy();
  }
}
