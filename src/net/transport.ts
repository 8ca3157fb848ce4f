import type { ByteStream, Runtime } from '../runtime/runtime.js';
import type { TransportKind } from './connection.js';

/** How to dial: the deadline for the connection, and the local address to leave from. */
export interface TransportDialOptions {
  readonly timeoutMs: number;
  /** Source address to bind (the node's listen address), if not "any". */
  readonly localAddress?: string;
  /** Source port to bind (hole punching), if not any. */
  readonly localPort?: number;
}

/**
 * A way to open byte streams to peers (TCP now, uTP with the transports issue). Listening is
 * the node's business: it hands accepted streams to the connection manager and the inbound
 * demultiplexer, whatever transport they came over.
 */
export interface Transport {
  readonly kind: TransportKind;
  dial(host: string, port: number, options: TransportDialOptions): Promise<ByteStream>;
}

/** TCP through the runtime (egress policy checked there). */
export class TcpTransport implements Transport {
  readonly kind = 'tcp' as const;

  constructor(private readonly runtime: Pick<Runtime, 'tcp'>) {}

  dial(host: string, port: number, options: TransportDialOptions): Promise<ByteStream> {
    return this.runtime.tcp.connect(host, port, {
      timeoutMs: options.timeoutMs,
      ...(options.localAddress !== undefined && { localAddress: options.localAddress }),
      ...(options.localPort !== undefined && { localPort: options.localPort }),
    });
  }
}
