import { sha1, sha256 } from '../crypto/hash.js';
import { ShoalError } from '../errors.js';
import type { PeerAddress } from '../metainfo/magnet.js';
import type { ByteStream, Runtime } from '../runtime/runtime.js';
import { WireError } from '../wire/errors.js';
import { decodeExtendedHandshake, encodeExtendedHandshake } from '../wire/extended.js';
import { hasCapability, reservedBytes } from '../wire/handshake.js';
import { PeerWire } from '../wire/peer-wire.js';
import {
  decodeMetadataMessage,
  encodeMetadataMessage,
  MAX_METADATA_BYTES,
  METADATA_PIECE_BYTES,
} from '../wire/ut-metadata.js';

/** No peer handed over a verified info dictionary in time. */
export class MetadataError extends ShoalError {
  constructor(message: string) {
    super('METADATA_UNAVAILABLE', message);
  }
}

/** What to fetch and from whom. */
export interface FetchMetadataOptions {
  readonly infoHashV1?: Buffer;
  readonly infoHashV2?: Buffer;
  /** Peers to ask; a function is read again each round (peers arriving from the DHT). */
  readonly peers: readonly PeerAddress[] | (() => readonly PeerAddress[]);
  readonly peerId: Buffer;
  readonly timeoutMs?: number;
}

const OUR_UT_METADATA_ID = 1;

/**
 * Fetches a torrent's info dictionary from peers (BEP 9), for a magnet link: asks each peer in
 * turn for every 16 KiB piece and accepts the result only if it hashes to the info-hash. A peer
 * that lies, stalls or sends too much is dropped and the next one tried.
 */
export async function fetchMetadata(
  runtime: Runtime,
  options: FetchMetadataOptions,
): Promise<Buffer> {
  const handshakeHash = options.infoHashV1 ?? options.infoHashV2?.subarray(0, 20);
  if (!handshakeHash) throw new MetadataError('the magnet link has no info-hash');
  if (Array.isArray(options.peers) && options.peers.length === 0) {
    throw new MetadataError(
      'no peers to fetch the torrent metadata from (give --peer HOST:PORT or x.pe in the link)',
    );
  }
  const deadline = runtime.clock.now() + (options.timeoutMs ?? 60_000);
  const problems: string[] = [];
  for (let round = 0; runtime.clock.now() < deadline; round++) {
    const peers = typeof options.peers === 'function' ? options.peers() : options.peers;
    const tried = new Set<string>();
    for (const peer of peers) {
      const key = `${peer.host}:${peer.port}`;
      if (tried.has(key)) continue;
      tried.add(key);
      const left = deadline - runtime.clock.now();
      if (left <= 0) break;
      try {
        return await fetchFrom(runtime, peer, handshakeHash, options, Math.min(left, 20_000));
      } catch (error) {
        problems.push(`${peer.host}:${peer.port}: ${(error as Error).message}`);
      }
    }
    await new Promise<void>((resolve) =>
      runtime.timers.setTimeout(resolve, Math.min(2000, 250 * 2 ** round)),
    );
  }
  throw new MetadataError(
    problems.length === 0
      ? 'no peers found to fetch the torrent metadata from (give --peer HOST:PORT, x.pe in the link, or use the DHT)'
      : `could not fetch the torrent metadata: ${problems.slice(-3).join('; ')}`,
  );
}

function verify(info: Buffer, options: FetchMetadataOptions): boolean {
  if (options.infoHashV1 && !sha1(info).equals(options.infoHashV1)) return false;
  if (options.infoHashV2 && !sha256(info).equals(options.infoHashV2)) return false;
  return true;
}

async function fetchFrom(
  runtime: Runtime,
  peer: PeerAddress,
  handshakeHash: Buffer,
  options: FetchMetadataOptions,
  timeoutMs: number,
): Promise<Buffer> {
  const stream: ByteStream = await runtime.tcp.connect(peer.host, peer.port, { timeoutMs });
  return new Promise<Buffer>((resolve, reject) => {
    let pieces: (Uint8Array | undefined)[] = [];
    let size = 0;
    const timer = runtime.timers.setTimeout(() => finish(new Error('timed out')), timeoutMs);
    const finish = (outcome: Error | Buffer) => {
      timer.cancel();
      stream.destroy();
      if (outcome instanceof Buffer) resolve(outcome);
      else reject(outcome);
    };
    const wire: PeerWire = new PeerWire(
      (chunks) => {
        for (const c of chunks) stream.write(c);
      },
      {
        handshake: (h) => {
          if (!Buffer.from(h.infoHash).equals(handshakeHash))
            throw new WireError('peer answered for another torrent');
          if (!hasCapability(h.reserved, 'extensionProtocol'))
            throw new WireError('peer lacks the extension protocol');
          const payload = encodeExtendedHandshake({
            m: new Map([['ut_metadata', OUR_UT_METADATA_ID]]),
          });
          wire.sendMessage({ type: 'extended', id: 0, payload });
        },
        message: (m) => {
          if (m.type !== 'extended') return;
          if (m.id === 0) {
            const ext = decodeExtendedHandshake(m.payload);
            const theirs = ext.m.get('ut_metadata');
            if (!theirs || !ext.metadataSize) throw new WireError('peer does not offer metadata');
            if (ext.metadataSize > MAX_METADATA_BYTES) throw new WireError('metadata too large');
            size = ext.metadataSize;
            pieces = new Array(Math.ceil(size / METADATA_PIECE_BYTES)).fill(undefined);
            for (let piece = 0; piece < pieces.length; piece++) {
              const payload = encodeMetadataMessage({ type: 'request', piece });
              wire.sendMessage({ type: 'extended', id: theirs, payload });
            }
            return;
          }
          if (m.id !== OUR_UT_METADATA_ID) return;
          const msg = decodeMetadataMessage(m.payload);
          if (msg.type === 'reject')
            throw new WireError(`peer rejected metadata piece ${msg.piece}`);
          if (msg.type !== 'data' || msg.piece >= pieces.length || msg.totalSize !== size) return;
          const expected = Math.min(METADATA_PIECE_BYTES, size - msg.piece * METADATA_PIECE_BYTES);
          if (msg.data.length !== expected) throw new WireError('metadata piece of the wrong size');
          pieces[msg.piece] = Buffer.from(msg.data);
          if (pieces.every((p) => p !== undefined)) {
            const info = Buffer.concat(pieces as Uint8Array[]);
            if (!verify(info, options))
              throw new WireError('metadata does not match the info-hash');
            finish(info);
          }
        },
      },
      MAX_METADATA_BYTES / 8,
    );
    stream.onData((chunk) => {
      try {
        wire.receive(chunk);
      } catch (error) {
        finish(error as Error);
      }
    });
    stream.onClose(() => finish(new Error('connection closed')));
    wire.sendHandshake({
      reserved: reservedBytes(['extensionProtocol', 'fast']),
      infoHash: handshakeHash,
      peerId: options.peerId,
    });
  });
}
