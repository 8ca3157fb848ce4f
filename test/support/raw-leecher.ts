import { connect, type Socket } from 'node:net';
import { reservedBytes } from '../../src/wire/handshake.js';
import type { BlockRef } from '../../src/wire/messages.js';
import { PeerWire } from '../../src/wire/peer-wire.js';
import { feedWire } from './wire-socket.js';

/** A scripted leecher started by {@link startRawLeecher}. */
export interface RawLeecher {
  /** Blocks received so far, and their bytes. */
  blocks(): number;
  bytes(): number;
  /** Requests the seed refused (BEP 6 reject). */
  rejects(): number;
  /** True once every block of every piece in `order` has arrived. */
  complete(): boolean;
  closed(): boolean;
  close(): void;
}

/** What a raw leecher asks for, and how it behaves. */
export interface RawLeecherOptions {
  readonly host: string;
  readonly port: number;
  readonly infoHash: Uint8Array;
  readonly pieceLength: number;
  readonly totalLength: number;
  /** Pieces to fetch, in this order (a sequential reader: it ignores suggestions and retries). */
  readonly order: readonly number[];
  /** Requests kept outstanding. */
  readonly pipeline: number;
  /** Source address (e.g. 127.0.0.5, so bans and per-address limits see another host). */
  readonly localAddress?: string;
  /** Stop reading the socket after the handshake (a flooder that never drains). */
  readonly stopReading?: boolean;
  /** Also queue this many requests up front, whatever the pipeline (a request flooder). */
  readonly flood?: number;
  readonly peerByte?: number;
}

const BLOCK = 16 * 1024;

/**
 * A minimal BitTorrent leecher over a raw socket (fast extension on): says interested, asks
 * for the blocks of `order` in that order keeping `pipeline` requests outstanding, and asks
 * again for any block the seed rejects. It never follows suggestions, like a sequential or
 * streaming reader, and never announces what it has.
 */
export function startRawLeecher(o: RawLeecherOptions): Promise<RawLeecher> {
  const queue: BlockRef[] = [];
  for (const index of o.order) {
    const size = Math.min(o.pieceLength, o.totalLength - index * o.pieceLength);
    for (let begin = 0; begin < size; begin += BLOCK)
      queue.push({ index, begin, length: Math.min(BLOCK, size - begin) });
  }
  const wanted = queue.length;
  let blocks = 0;
  let bytes = 0;
  let rejects = 0;
  let outstanding = 0;
  let unchoked = false;
  let closed = false;
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({
      host: o.host,
      port: o.port,
      ...(o.localAddress !== undefined && { localAddress: o.localAddress }),
    });
    const wire: PeerWire = new PeerWire(
      (chunks) => {
        for (const c of chunks) if (!socket.destroyed) socket.write(c);
      },
      {
        handshake: () => {
          wire.sendMessage({ type: 'have-none' });
          wire.sendMessage({ type: 'interested' });
          for (let i = 0; i < (o.flood ?? 0) && queue.length > 0; i++) {
            wire.sendMessage({ type: 'request', ...queue.shift()! });
            outstanding++;
          }
          if (o.stopReading) socket.pause();
        },
        message: (m) => {
          if (m.type === 'unchoke') {
            unchoked = true;
            fill();
          } else if (m.type === 'choke') unchoked = false;
          else if (m.type === 'piece') {
            blocks++;
            bytes += m.block.length;
            outstanding--;
            fill();
          } else if (m.type === 'reject') {
            rejects++;
            outstanding--;
            queue.unshift({ index: m.index, begin: m.begin, length: m.length });
            fill();
          }
        },
      },
      1 << 20,
    );
    const fill = () => {
      while (unchoked && outstanding < o.pipeline && queue.length > 0) {
        wire.sendMessage({ type: 'request', ...queue.shift()! });
        outstanding++;
      }
    };
    feedWire(socket, wire);
    socket.on('close', () => {
      closed = true;
    });
    socket.on('error', (e) => {
      if (!closed && blocks === 0) reject(e);
    });
    socket.on('connect', () => {
      wire.sendHandshake({
        reserved: reservedBytes(['fast']),
        infoHash: o.infoHash,
        peerId: Buffer.alloc(20, o.peerByte ?? 0x66),
      });
      resolve({
        blocks: () => blocks,
        bytes: () => bytes,
        rejects: () => rejects,
        complete: () => blocks >= wanted,
        closed: () => closed,
        close: () => socket.destroy(),
      });
    });
  });
}
