import { ShoalError } from '../errors.js';

/** A peer broke the wire protocol (bad handshake, malformed or oversized message). */
export class WireError extends ShoalError {
  constructor(message: string) {
    super('WIRE_PROTOCOL', `peer protocol error: ${message}`);
  }
}
