import type { ByteStream, Runtime, Timers } from '../runtime/runtime.js';
import type { TransportKind } from './connection.js';
import { ConnectTimeoutError } from './errors.js';

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

/** What a uTP endpoint offers a transport (the node's `UtpSocket`). */
export interface UtpEndpoint {
  connect(host: string, port: number): Promise<ByteStream>;
}

/**
 * uTP (BEP 29) over the node's one UDP socket. The egress policy is checked by that socket on
 * every send; the connect deadline here bounds the SYN's retries.
 */
export class UtpTransport implements Transport {
  readonly kind = 'utp' as const;

  constructor(
    private readonly endpoint: UtpEndpoint,
    private readonly timers: Timers,
  ) {}

  dial(host: string, port: number, options: TransportDialOptions): Promise<ByteStream> {
    return new Promise((resolve, reject) => {
      let done = false;
      const timer = this.timers.setTimeout(() => {
        if (done) return;
        done = true;
        reject(new ConnectTimeoutError(host, port, options.timeoutMs));
      }, options.timeoutMs);
      this.endpoint.connect(host, port).then(
        (stream) => {
          timer.cancel();
          if (done) stream.destroy();
          else resolve(stream);
          done = true;
        },
        (error: unknown) => {
          timer.cancel();
          if (!done) reject(error);
          done = true;
        },
      );
    });
  }
}
