import { logger } from '../metrics/log.js';
import type { UdpFactory, UdpRemote, UdpSocket } from '../runtime/runtime.js';

const log = logger('net:udp');

/**
 * The part of a UDP socket an engine uses. A socket of its own is one (standalone tools and
 * tests); inside a node it is a channel of the node's one socket ({@link DatagramMux}).
 */
export type DatagramChannel = Pick<UdpSocket, 'send' | 'onMessage' | 'address'>;

interface Route {
  readonly name: string;
  readonly match: (data: Buffer) => boolean;
  handler: (data: Buffer, from: UdpRemote) => void;
}

/**
 * One UDP socket per node, shared by the DHT, the UDP tracker client and (with the transports
 * issue) uTP, as every mainstream client does: peers and NATs see one port. Each datagram goes
 * to the first channel whose `match` accepts it — the protocols differ in their first byte
 * (KRPC is a bencoded dictionary, `d`; tracker replies start with a 32-bit action 0–3, so a
 * zero byte; uTP with its version 1 in the low nibble) — and nowhere if none does.
 */
export class DatagramMux {
  private readonly routes: Route[] = [];
  /** Datagrams no channel matched. */
  unrouted = 0;
  /** Datagrams whose channel threw while handling them. */
  failures = 0;

  private constructor(private readonly socket: UdpSocket) {
    socket.onMessage((data, from) => {
      for (const r of this.routes) {
        if (!r.match(data)) continue;
        try {
          r.handler(data, from);
        } catch (error) {
          // A protocol's trouble with one datagram (a reply the egress policy refuses, say)
          // must never take the node down.
          this.failures++;
          log.debug('datagram handler failed', {
            channel: r.name,
            error: (error as Error).message,
          });
        }
        return;
      }
      this.unrouted++;
    });
    socket.onError(() => {});
  }

  /** Binds the node's socket. */
  static async bind(
    udp: UdpFactory,
    options: {
      port: number;
      host: string;
      family?: 'IPv4' | 'IPv6';
      recvBufferBytes?: number;
      sendBufferBytes?: number;
    },
  ): Promise<DatagramMux> {
    return new DatagramMux(await udp.bind(options));
  }

  /** A channel for the datagrams `match` accepts; earlier channels are asked first. */
  channel(name: string, match: (data: Buffer) => boolean): DatagramChannel {
    const route: Route = { name, match, handler: () => {} };
    this.routes.push(route);
    return {
      send: (data, port, host) => this.socket.send(data, port, host),
      onMessage: (handler) => {
        route.handler = handler;
      },
      address: () => this.socket.address(),
    };
  }

  /** The port the node's datagrams use. */
  get port(): number {
    return this.socket.address().port;
  }

  close(): Promise<void> {
    return this.socket.close();
  }
}

/** KRPC (BEP 5) datagrams are bencoded dictionaries. */
export function isKrpcDatagram(data: Buffer): boolean {
  return data.length > 0 && data[0] === 0x64;
}

/** BEP 15 replies start with a big-endian action 0–3 and a transaction id. */
export function isUdpTrackerReply(data: Buffer): boolean {
  return data.length >= 8 && data[0] === 0 && data[1] === 0 && data[2] === 0 && data[3]! <= 3;
}
