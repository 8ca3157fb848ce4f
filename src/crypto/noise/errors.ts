import { ShoalError } from '../../errors.js';

/**
 * Why a Noise operation failed. A peer's bytes can cause all but `NOISE_STATE`, which is a
 * caller's mistake (a message out of turn, a finished or failed handshake used again).
 */
export type NoiseErrorCode =
  | 'NOISE_DECRYPT'
  | 'NOISE_MESSAGE'
  | 'NOISE_BAD_KEY'
  | 'NOISE_NONCE_EXHAUSTED'
  | 'NOISE_STATE';

/**
 * The one error the Noise code raises on purpose, so a connection owner can tell "the peer sent
 * garbage or is not who it claims" (drop it) from a bug (anything else).
 */
export class NoiseError extends ShoalError {
  declare readonly code: NoiseErrorCode;

  constructor(code: NoiseErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
