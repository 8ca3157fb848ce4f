import { ShoalError } from '../errors.js';

/** A DHT operation could not complete. */
export class DhtError extends ShoalError {
  constructor(message: string) {
    super('DHT', message);
  }
}
