import { connect } from 'node:net';
import { encodeHandshake, reservedBytes } from '../../src/wire/handshake.js';

/** Opens a raw TCP connection, sends `chunks`, and reports whether the other side hung up in time. */
export async function sendRaw(
  host: string,
  port: number,
  chunks: readonly Uint8Array[],
  waitMs: number,
): Promise<{ closedByPeer: boolean; received: number }> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let received = 0;
    let settled = false;
    const finish = (closedByPeer: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ closedByPeer, received });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('data', (d) => {
      received += d.length;
    });
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('connect', () => {
      for (const c of chunks) if (!socket.destroyed) socket.write(c);
    });
  });
}

/** A handshake for `infoHash` with the fast and extension bits, from a made-up peer. */
export function rawHandshake(infoHash: Uint8Array, peerByte = 0x77): Buffer {
  return encodeHandshake({
    reserved: reservedBytes(['fast', 'extensionProtocol']),
    infoHash,
    peerId: Buffer.alloc(20, peerByte),
  });
}
