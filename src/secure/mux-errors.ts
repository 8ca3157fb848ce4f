import { ShoalError } from '../errors.js';

/**
 * Why a channel or the multiplexer failed: the peer broke the protocol (`MUX_PROTOCOL`, the
 * connection is closed), refused to open a channel (`MUX_REJECTED`), the connection under the
 * channel ended (`MUX_CLOSED`), or the caller misused the API (`MUX_USAGE`).
 */
export type MuxErrorCode = 'MUX_PROTOCOL' | 'MUX_REJECTED' | 'MUX_CLOSED' | 'MUX_USAGE';

/** The multiplexer's one error class. */
export class MuxError extends ShoalError {
  declare readonly code: MuxErrorCode;

  constructor(code: MuxErrorCode, message: string) {
    super(code, message);
  }
}
