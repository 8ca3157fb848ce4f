import { createServer, type Socket } from 'node:net';
import type { TestContext } from 'node:test';
import { encodeExtendedHandshake } from '../../src/wire/extended.js';
import { reservedBytes } from '../../src/wire/handshake.js';
import { PeerWire } from '../../src/wire/peer-wire.js';
import {
  decodeMetadataMessage,
  encodeMetadataMessage,
  METADATA_PIECE_BYTES,
} from '../../src/wire/ut-metadata.js';

/**
 * How a fake peer treats a magnet's metadata requests:
 * - `silent`: accepts the connection and never says a byte;
 * - `mute`: handshakes, offers the metadata (BEP 9), then never answers a request;
 * - `liar`: answers every request at once with bytes of the right size that do not hash right;
 * - `flood`: answers the first request with 4 MiB of pieces nobody asked for.
 */
export type FakeMetadataPeer = 'silent' | 'mute' | 'liar' | 'flood';

/** The id this fake wants ut_metadata messages on. */
const FAKE_UT_METADATA = 3;

/**
 * Starts a fake BitTorrent peer on `host` (any loopback address), port chosen by the system.
 * It speaks plaintext only: an encrypted (MSE) opening is closed, as plaintext-only clients do.
 * `metadataSize` is what it claims the info dictionary measures. Closed after the test.
 */
export async function startFakeMetadataPeer(
  t: TestContext,
  kind: FakeMetadataPeer,
  host: string,
  metadataSize: number,
): Promise<{ host: string; port: number; connections: () => number; open: () => number }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    if (kind === 'silent')
      socket.resume(); // reads (and drops) what comes, says nothing
    else speak(socket, kind, metadataSize);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return { host, port: address.port, connections: () => connections, open: () => sockets.size };
}

function speak(socket: Socket, kind: Exclude<FakeMetadataPeer, 'silent'>, size: number): void {
  let theirs = 0;
  const wire: PeerWire = new PeerWire(
    (chunks) => {
      for (const c of chunks) if (!socket.destroyed) socket.write(c);
    },
    {
      handshake: (h) => {
        wire.sendHandshake({
          reserved: reservedBytes(['extensionProtocol', 'fast']),
          infoHash: h.infoHash,
          peerId: Buffer.alloc(20, 0x46),
        });
        const payload = encodeExtendedHandshake({
          m: new Map([['ut_metadata', FAKE_UT_METADATA]]),
          metadataSize: size,
        });
        wire.sendMessage({ type: 'extended', id: 0, payload });
      },
      message: (m) => {
        if (m.type !== 'extended') return;
        if (m.id === 0) {
          // Where the asker wants its ut_metadata messages (its extended handshake).
          const id = /11:ut_metadatai(\d+)e/.exec(Buffer.from(m.payload).toString('latin1'));
          theirs = Number(id?.[1] ?? 0);
          return;
        }
        if (m.id !== FAKE_UT_METADATA || kind === 'mute' || theirs === 0) return;
        const msg = decodeMetadataMessage(m.payload);
        if (msg.type !== 'request') return;
        if (kind === 'flood') {
          // Pieces nobody asked for (past the end), 16 KiB each, 4 MiB of them.
          const payload = encodeMetadataMessage({
            type: 'data',
            piece: Math.ceil(size / METADATA_PIECE_BYTES),
            totalSize: size,
            data: Buffer.alloc(METADATA_PIECE_BYTES, 0x5a),
          });
          for (let i = 0; i < 256 && !socket.destroyed; i++)
            wire.sendMessage({ type: 'extended', id: theirs, payload });
          kind = 'mute';
          return;
        }
        const length = Math.min(METADATA_PIECE_BYTES, size - msg.piece * METADATA_PIECE_BYTES);
        const payload = encodeMetadataMessage({
          type: 'data',
          piece: msg.piece,
          totalSize: size,
          data: Buffer.alloc(length, 0x5a),
        });
        wire.sendMessage({ type: 'extended', id: theirs, payload });
      },
    },
    1 << 20,
  );
  socket.on('data', (chunk) => {
    try {
      wire.receive(chunk);
    } catch {
      socket.destroy(); // not a plaintext BitTorrent handshake (MSE), or garbage
    }
  });
}
