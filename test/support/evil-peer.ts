import { createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { reservedBytes } from '../../src/wire/handshake.js';
import type { BlockRef, Message } from '../../src/wire/messages.js';
import { PeerWire } from '../../src/wire/peer-wire.js';
import { feedWire } from './wire-socket.js';

/** A scripted hostile peer started by {@link startFakeSeed}. */
export interface FakeSeed {
  readonly port: number;
  /** Requests it received. */
  requests(): number;
  /** When the other side first hung up on it (performance.now()), if it did. */
  closedAt(): number | undefined;
  close(): Promise<void>;
}

/**
 * A peer that claims to have every piece (have-all) and unchokes at once, then answers each
 * request with `answer`: garbage for a corrupting peer, nothing for a staller; `other` sees
 * every other message (e.g. to answer BEP 52 hash requests). Listens on `host`; use an
 * address other than the honest peers', since bans are per address.
 */
export async function startFakeSeed(
  host: string,
  answer: (request: BlockRef, wire: PeerWire) => void,
  other?: (message: Message, wire: PeerWire) => void,
): Promise<FakeSeed> {
  let requests = 0;
  let closedAt: number | undefined;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      closedAt ??= performance.now();
    });
    socket.on('error', () => {});
    const wire: PeerWire = new PeerWire(
      (chunks) => {
        for (const c of chunks) socket.write(c);
      },
      {
        handshake: (h) => {
          wire.sendHandshake({
            reserved: reservedBytes(['fast']),
            infoHash: h.infoHash,
            peerId: Buffer.alloc(20, 0xee),
          });
          wire.sendMessage({ type: 'have-all' });
          wire.sendMessage({ type: 'unchoke' });
        },
        message: (m) => {
          if (m.type !== 'request') {
            other?.(m, wire);
            return;
          }
          requests++;
          answer(m, wire);
        },
      },
      1 << 20,
    );
    feedWire(socket, wire);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    requests: () => requests,
    closedAt: () => closedAt,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A fake seed that answers every request with garbage (the corrupting peer of the ban tests). */
export function startCorruptPeer(host: string): Promise<FakeSeed> {
  return startFakeSeed(host, (r, wire) =>
    wire.sendPiece(r.index, r.begin, Buffer.alloc(r.length, 0x5a)),
  );
}
