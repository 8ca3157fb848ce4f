import { ShoalError } from '../errors.js';

/**
 * Why reaching a key failed: nothing in the DHT says where it is (`PEER_NOT_FOUND`), every way
 * tried failed — direct, punched, relayed (`PEER_UNREACHABLE`), or a relay would not carry the
 * connection (`RELAY_REFUSED`).
 */
export type PeerConnectErrorCode = 'PEER_NOT_FOUND' | 'PEER_UNREACHABLE' | 'RELAY_REFUSED';

/** A key could not be reached; the message says what was tried. */
export class PeerConnectError extends ShoalError {
  declare readonly code: PeerConnectErrorCode;

  constructor(code: PeerConnectErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * A peer sent a malformed address record (`PEER_RECORD_INVALID`) or rendezvous message
 * (`RENDEZVOUS_PROTOCOL`). Records come from the DHT and messages from peers: both untrusted.
 */
export class PeerProtocolError extends ShoalError {
  constructor(code: 'PEER_RECORD_INVALID' | 'RENDEZVOUS_PROTOCOL', message: string) {
    super(code, message);
  }
}
