import { ShoalError } from '../errors.js';

/**
 * Why a secure channel failed: the handshake was malformed or did not authenticate
 * (`SECURE_HANDSHAKE`), took too long (`SECURE_TIMEOUT`), reached someone other than the key we
 * dialled (`SECURE_IDENTITY`), a transport frame was malformed or tampered with
 * (`SECURE_FRAME`), or the stream closed during the handshake (`SECURE_CLOSED`).
 */
export type SecureChannelErrorCode =
  | 'SECURE_HANDSHAKE'
  | 'SECURE_TIMEOUT'
  | 'SECURE_IDENTITY'
  | 'SECURE_FRAME'
  | 'SECURE_CLOSED';

/** A secure channel could not be set up or was broken; the connection is (to be) closed. */
export class SecureChannelError extends ShoalError {
  declare readonly code: SecureChannelErrorCode;

  constructor(code: SecureChannelErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
