import { ShoalError } from '../errors.js';

/** The hashing pool was closed while work was asked of it (the node is stopping). */
export class HashPoolClosedError extends ShoalError {
  constructor() {
    super('STOPPED', 'the hashing pool is closed: the node is stopping');
  }
}
