import type { ExtendedHandshake, PeerExtension } from '../../wire/extended.js';
import {
  decodeMetadataMessage,
  encodeMetadataMessage,
  METADATA_PIECE_BYTES,
  type MetadataMessage,
} from '../../wire/ut-metadata.js';
import type { PeerSession } from '../peer-session.js';

/**
 * BEP 9 `ut_metadata` for a torrent we have: hands out our info dictionary in 16 KiB pieces to
 * peers that came by magnet link, and says how large it is in our extended handshake.
 */
export class MetadataServer implements PeerExtension<PeerSession> {
  readonly name = 'ut_metadata';

  constructor(private readonly infoBytes: Buffer) {}

  handshakeFields(): Partial<ExtendedHandshake> {
    return { metadataSize: this.infoBytes.length };
  }

  onMessage(session: PeerSession, payload: Uint8Array): void {
    const m = decodeMetadataMessage(payload);
    if (m.type !== 'request') return; // we already have the metadata
    const theirId = session.extended?.m.get('ut_metadata');
    if (!theirId) return;
    const info = this.infoBytes;
    const begin = m.piece * METADATA_PIECE_BYTES;
    const reply: MetadataMessage =
      begin < info.length
        ? {
            type: 'data',
            piece: m.piece,
            totalSize: info.length,
            data: info.subarray(begin, begin + METADATA_PIECE_BYTES),
          }
        : { type: 'reject', piece: m.piece };
    session.wire.sendMessage({
      type: 'extended',
      id: theirId,
      payload: encodeMetadataMessage(reply),
    });
  }
}
