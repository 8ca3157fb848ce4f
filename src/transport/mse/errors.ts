import { ShoalError } from '../../errors.js';

/**
 * Why a Message Stream Encryption handshake failed, for the owner's next move: a peer that
 * `closed` on our first bytes is probably a plaintext-only client (retry without MSE); one
 * that closed on a `legacy-secret` (an S that libtorrent 1.1–2.0 hash wrongly, 1 dial in 256)
 * takes a new encrypted dial at once; a `timeout`, `protocol` or `unknown-torrent` failure is
 * not worth a retry.
 */
export type MseFailure =
  | 'closed'
  | 'legacy-secret'
  | 'timeout'
  | 'protocol'
  | 'unknown-torrent'
  | 'no-common-crypto'
  | 'bad-key';

/**
 * A Message Stream Encryption handshake that cannot complete: garbage from the peer, a bound of
 * the spec exceeded, no shared torrent or cipher, the connection closed or the deadline passed.
 * The connection is unusable afterwards.
 */
export class MseHandshakeError extends ShoalError {
  constructor(
    readonly reason: MseFailure,
    message: string,
  ) {
    super('MSE_HANDSHAKE', `encrypted handshake failed: ${message}`);
  }
}
