import type { ManagedStream, PeerConnection } from '../net/connection.js';
import type { ConnectionManager } from '../net/connection-manager.js';
import type { InboundProtocol, SniffVerdict } from '../net/inbound-demux.js';
import type { RandomSource, Timers } from '../runtime/runtime.js';
import type { Torrent } from '../swarm/torrent.js';
import { mseAccept } from '../transport/mse/handshake.js';
import { SkeyTable } from '../transport/mse/protocol.js';
import { decodeHandshake, HANDSHAKE_BYTES } from '../wire/handshake.js';

const PREFIX = Buffer.concat([Buffer.from([19]), Buffer.from('BitTorrent protocol', 'latin1')]);

/** Finds the torrent a handshake names (by v1 info-hash or truncated v2 info-hash, in hex). */
export type TorrentLookup = (handshakeHash: string) => Torrent | undefined;

/**
 * Plaintext BitTorrent on the node's port: recognised by its 20-byte prefix, then the 68-byte
 * handshake names the torrent, which takes the connection over.
 */
export class BitTorrentInbound implements InboundProtocol {
  readonly name = 'bittorrent';

  constructor(
    private readonly torrentFor: TorrentLookup,
    private readonly connections: ConnectionManager,
  ) {}

  sniff(first: Buffer): SniffVerdict {
    const n = Math.min(first.length, PREFIX.length);
    if (!first.subarray(0, n).equals(PREFIX.subarray(0, n))) return 'no';
    return first.length >= HANDSHAKE_BYTES ? 'yes' : 'more';
  }

  accept(stream: ManagedStream, first: Buffer): void {
    handOver({ stream, info: stream.info }, stream, first, this.torrentFor, this.connections);
  }
}

/**
 * BitTorrent protocol encryption (MSE/PE) on the node's port: whatever no other protocol
 * recognises (its first bytes are a random-looking public key). The handshake's SKEY names a
 * torrent the node serves; the decrypted stream then starts with a BitTorrent handshake like a
 * plaintext connection.
 */
export class MseInbound implements InboundProtocol {
  readonly name = 'mse';
  /** HASH('req2', info-hash) of every torrent served, for the responder's SKEY lookup. */
  readonly skeys = new SkeyTable();

  constructor(
    private readonly torrentFor: TorrentLookup,
    private readonly connections: ConnectionManager,
    private readonly options: {
      /** Only RC4 (`require`), or either (`prefer`). */
      readonly requireEncryption: boolean;
      readonly random: RandomSource;
      readonly timers: Timers;
      /**
       * Whether some torrent could take a peer from `host`. When none could, the connection is
       * closed before the Diffie-Hellman exchange: a full node spends no handshake on peers it
       * would drop right after, and a flood of encrypted dials cannot buy its CPU.
       */
      readonly roomFor: (host: string) => boolean;
    },
  ) {}

  sniff(): SniffVerdict {
    return 'yes';
  }

  accept(stream: ManagedStream, first: Buffer): void {
    if (!this.options.roomFor(stream.remoteAddress)) {
      stream.destroy();
      return;
    }
    mseAccept(stream, first, {
      lookupSkey: this.skeys.lookup,
      allow: this.options.requireEncryption ? 'rc4' : 'both',
      // Offered both, take plaintext: the handshake is hidden either way, and RC4 costs about
      // 3 CPU-seconds per GiB on each side (a peer that wants RC4 offers only RC4).
      prefer: 'plaintext',
      random: this.options.random,
      timers: this.options.timers,
    }).then(
      (accepted) => {
        stream.info.encrypted = accepted.encrypted;
        readHandshake({ stream: accepted.stream, info: stream.info }, stream, (bytes) =>
          handOver(
            { stream: accepted.stream, info: stream.info },
            stream,
            bytes,
            this.torrentFor,
            this.connections,
          ),
        );
      },
      () => undefined, // mseAccept destroyed the stream
    );
  }
}

/** Collects the first 68 bytes of `conn` (a BitTorrent handshake) and what came with them. */
function readHandshake(
  conn: PeerConnection,
  managed: ManagedStream,
  done: (bytes: Buffer) => void,
): void {
  let bytes = Buffer.alloc(0);
  conn.stream.onData((chunk) => {
    bytes = Buffer.concat([bytes, chunk]); // the chunk is lent for this call only
    if (bytes.length < HANDSHAKE_BYTES) return;
    conn.stream.onData(() => {});
    if (managed.isClosed) return;
    done(bytes);
  });
}

/** Hands a connection whose first bytes hold a handshake to the torrent it names. */
function handOver(
  conn: PeerConnection,
  managed: ManagedStream,
  bytes: Buffer,
  torrentFor: TorrentLookup,
  connections: ConnectionManager,
): void {
  try {
    const h = decodeHandshake(bytes.subarray(0, HANDSHAKE_BYTES));
    const torrent = torrentFor(Buffer.from(h.infoHash).toString('hex'));
    const verdict = torrent?.attachIncoming(conn, h, bytes.subarray(HANDSHAKE_BYTES));
    if (verdict === 'joined') connections.established(managed);
    // A full torrent answered and ends the connection itself; the pending limit bounds the wait.
    if (verdict === 'joined' || verdict === 'answered') return;
  } catch {
    // a malformed handshake: close below
  }
  conn.stream.destroy();
}
