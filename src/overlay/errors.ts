import { ShoalError } from '../errors.js';

/**
 * A peer sent an overlay, gossip or search message that does not decode or breaks the
 * protocol's limits. The receiver drops the message and penalises the sender.
 */
export class OverlayMessageError extends ShoalError {
  constructor(message: string) {
    super('OVERLAY_MESSAGE', message);
  }
}

/** The overlay cannot do what was asked: not running, no broadcast, no identity, no neighbour. */
export class OverlayUnavailableError extends ShoalError {
  constructor(message: string) {
    super('OVERLAY_UNAVAILABLE', message);
  }
}
