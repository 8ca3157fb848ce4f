import type { ManagedStream } from './connection.js';
import type { ConnectionManager } from './connection-manager.js';
import type { Transport } from './transport.js';

/** What an engine says when it asks for a connection. */
export interface DialRequest {
  readonly host: string;
  readonly port: number;
  /** Deadline for the connection to open. */
  readonly timeoutMs: number;
  /**
   * The torrent the connection is for (BitTorrent peers): an encrypting transport keys its
   * handshake on it.
   */
  readonly infoHash?: Buffer;
}

/** What the dialer needs. */
export interface DialerDeps {
  readonly connections: ConnectionManager;
  /** Transports in order of preference. */
  readonly transports: readonly Transport[];
  /** The node's listen address when it is not "any": outgoing connections leave from it. */
  readonly localAddress?: string;
}

/**
 * Opens connections for engines. It asks the connection manager for a permit (bans, limits,
 * back-off), picks a transport, and returns a managed stream, so engines never choose sockets
 * and new transports, encryption or hole punching change nothing above this line.
 */
export class Dialer {
  constructor(private readonly deps: DialerDeps) {}

  /**
   * Dials `request.host:port`. Throws `ConnectionRefusedError` when the manager refuses, or the
   * transport's error when no transport could connect.
   */
  async dial(request: DialRequest): Promise<ManagedStream> {
    const permit = this.deps.connections.beginDial(request.host, request.port);
    let lastError: unknown;
    for (const transport of this.deps.transports) {
      try {
        const stream = await transport.dial(request.host, request.port, {
          timeoutMs: request.timeoutMs,
          ...(this.deps.localAddress !== undefined && { localAddress: this.deps.localAddress }),
        });
        return permit.connected(stream, transport.kind);
      } catch (error) {
        lastError = error;
      }
    }
    permit.failed();
    throw lastError;
  }
}
