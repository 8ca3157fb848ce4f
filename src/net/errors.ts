import { ShoalError } from '../errors.js';

/** Why the connection manager refused a connection. */
export type RefusalReason =
  | 'banned'
  | 'connection-limit'
  | 'per-ip-limit'
  | 'half-open-limit'
  | 'pending-limit'
  | 'backoff'
  | 'stopped';

/**
 * The connection manager refused to open or keep a connection: the address is banned, a limit
 * is reached, or the address is still backing off after failures. Nothing is wrong with the
 * caller; try another peer or later.
 */
export class ConnectionRefusedError extends ShoalError {
  constructor(
    readonly reason: RefusalReason,
    host: string,
  ) {
    super('CONNECTION_REFUSED', `connection with ${host} refused: ${reason.replaceAll('-', ' ')}`);
  }
}

/** No transport connected to the peer in time. */
export class ConnectTimeoutError extends ShoalError {
  constructor(host: string, port: number, ms: number) {
    super('IO', `${host}:${port} did not accept a connection within ${ms} ms`);
  }
}
