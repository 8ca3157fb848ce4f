/** The first 20 bytes of every plaintext BitTorrent connection: 19, "BitTorrent protocol". */
export const BITTORRENT_PROTOCOL_PREFIX = Buffer.from('\x13BitTorrent protocol', 'latin1');

/** What an inbound connection speaks, as far as its first bytes tell. */
export type InboundProtocol = 'bittorrent' | 'mse' | 'undecided';

/**
 * Tells a plaintext BitTorrent connection from a Message Stream Encryption one by its first
 * bytes, for the inbound demultiplexer. MSE has no marker (its first 96 bytes are a random-
 * looking public key), so anything that is not the BitTorrent prefix is taken for MSE; that is
 * decided at the first byte that differs, or after 20 bytes that match. `undecided` means the
 * bytes so far are a proper prefix of the BitTorrent one: read more. The bytes read are then
 * handed to `mseAccept` as its `firstChunk`, whatever their number.
 */
export function sniffInbound(prefix: Uint8Array): InboundProtocol {
  const n = Math.min(prefix.length, BITTORRENT_PROTOCOL_PREFIX.length);
  for (let i = 0; i < n; i++) if (prefix[i] !== BITTORRENT_PROTOCOL_PREFIX[i]) return 'mse';
  return n === BITTORRENT_PROTOCOL_PREFIX.length ? 'bittorrent' : 'undecided';
}
