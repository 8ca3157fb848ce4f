import { ShoalError } from '../errors.js';
import type { ConnectionManager } from '../net/connection-manager.js';
import { type DatagramChannel, DatagramMux } from '../net/datagram-mux.js';
import type { Dialer } from '../net/dialer.js';
import { TcpTransport, type Transport, UtpTransport } from '../net/transport.js';
import type { ByteStream, Runtime } from '../runtime/runtime.js';
import { UtpSocket } from '../transport/utp/socket.js';
import type { NodeConfig } from './config.js';
import type { PeerWatch } from './peer-watch.js';

/**
 * The node's dialer: TCP and uTP as the config allows (uTP first with `preferUtp`), each
 * watched so failed dials to named peers are told, over the node's connection manager.
 */
export function createNodeDialer(
  runtime: Runtime,
  config: NodeConfig,
  connections: ConnectionManager,
  watch: PeerWatch,
  utp: () => UtpSocket | undefined,
): Dialer {
  const tcp = config.tcp ? [watch.transport(new TcpTransport(runtime))] : [];
  const utpTransport = (): Transport =>
    watch.transport(
      new UtpTransport(
        {
          connect: (host, port) =>
            utp()?.connect(host, port) ??
            Promise.reject(new ShoalError('STOPPED', 'uTP is not running')),
        },
        runtime.timers,
      ),
    );
  const utps = config.utp ? [utpTransport()] : [];
  const anyHost = config.host === '0.0.0.0' || config.host === '::';
  return watch.dialer({
    connections,
    transports: config.preferUtp ? [...utps, ...tcp] : [...tcp, ...utps],
    ...(!anyHost && { localAddress: config.host }),
    encryption: config.encryption,
    random: runtime.random,
    timers: runtime.timers,
  });
}

/**
 * Binds the node's one UDP socket on `port` (any free port if that one is taken), with buffers
 * large enough for a window of 64 KB loopback uTP datagrams between two reads.
 */
export function bindNodeUdp(runtime: Runtime, host: string, port: number): Promise<DatagramMux> {
  const family = host.includes(':') ? 'IPv6' : 'IPv4';
  const buffers = { recvBufferBytes: 4 << 20, sendBufferBytes: 4 << 20 };
  return DatagramMux.bind(runtime.udp, { port, host, family, ...buffers }).catch(() =>
    DatagramMux.bind(runtime.udp, { port: 0, host, family, ...buffers }),
  );
}

/** uTP on the node's UDP socket: each accepted connection goes to `accepted`. */
export function startUtp(
  runtime: Runtime,
  channel: DatagramChannel,
  accepted: (stream: ByteStream) => void,
): UtpSocket {
  const address = channel.address();
  const utp = new UtpSocket(channel, {
    clock: runtime.clock,
    timers: runtime.timers,
    random: runtime.random,
    local: { address: address.address, port: address.port },
  });
  channel.onMessage((data, from) => utp.receive(data, from));
  utp.onConnection(accepted);
  return utp;
}
