import type { Socket } from 'node:net';
import type { ByteStream, Clock } from '../../src/runtime/runtime.js';
import { PeerSession } from '../../src/swarm/peer-session.js';
import { encodeHandshake, reservedBytes } from '../../src/wire/handshake.js';
import type { PeerWire } from '../../src/wire/peer-wire.js';

/** Feeds what `socket` receives to `wire`; a protocol error closes the socket. */
export function feedWire(socket: Socket, wire: PeerWire): void {
  socket.on('data', (d) => {
    try {
      wire.receive(d);
    } catch {
      socket.destroy();
    }
  });
}

/**
 * A session with an inbound peer on `stream` whose handshake (no extensions) has arrived, so
 * messages may be sent to it; nothing of ours is sent yet.
 */
export function handshakenSession(stream: ByteStream, clock: Clock): PeerSession {
  const session = new PeerSession(
    stream,
    { transport: 'tcp', direction: 'inbound', encrypted: false },
    clock,
    { handshake: () => {}, message: () => {} },
    1 << 20,
  );
  session.wire.receive(
    encodeHandshake({
      reserved: reservedBytes([]),
      infoHash: Buffer.alloc(20),
      peerId: Buffer.alloc(20, 1),
    }),
  );
  return session;
}
