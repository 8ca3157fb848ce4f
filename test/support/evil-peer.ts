import { createServer, type Server, type Socket } from 'node:net';
import { reservedBytes } from '../../src/wire/handshake.js';
import { PeerWire } from '../../src/wire/peer-wire.js';

/**
 * A peer that claims to have everything, unchokes at once and answers every request with
 * garbage: the "lying, corrupting peer" of the ban tests. Listens on `host` (use an address
 * other than the honest peers', since bans are per address).
 */
export async function startCorruptPeer(
  host: string,
): Promise<{ port: number; blocksSent: () => number; close: () => Promise<void> }> {
  let sent = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
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
          if (m.type === 'request') {
            sent++;
            wire.sendPiece(m.index, m.begin, Buffer.alloc(m.length, 0x5a));
          }
        },
      },
      1 << 20,
    );
    socket.on('data', (d) => {
      try {
        wire.receive(d);
      } catch {
        socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    blocksSent: () => sent,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
