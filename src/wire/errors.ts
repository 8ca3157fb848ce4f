import { ShoalError } from '../errors.js';

/**
 * What a protocol violation costs the peer: `drop` closes the connection (it may be a bug or a
 * race), `ban` also refuses its address from then on (provably hostile data).
 */
export type Penalty = 'drop' | 'ban';

/** A peer broke the wire protocol (bad handshake, malformed or oversized message). */
export class WireError extends ShoalError {
  constructor(
    message: string,
    readonly penalty: Penalty = 'drop',
  ) {
    super('WIRE_PROTOCOL', `peer protocol error: ${message}`);
  }
}
