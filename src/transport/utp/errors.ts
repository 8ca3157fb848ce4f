import { ShoalError } from '../../errors.js';

/** A datagram that is not a well-formed uTP packet (BEP 29); the socket drops it. */
export class UtpPacketError extends ShoalError {
  constructor(message: string) {
    super('UTP_PACKET_INVALID', `malformed uTP packet: ${message}`);
  }
}

/** Why a uTP connection ended abnormally; callers match on `code`. */
export type UtpFailure =
  | 'UTP_CONNECT_TIMEOUT'
  | 'UTP_TIMEOUT'
  | 'UTP_RESET'
  | 'UTP_CLOSED'
  | 'UTP_REFUSED'
  | 'UTP_OVERFLOW';

const MESSAGES: Record<UtpFailure, string> = {
  UTP_CONNECT_TIMEOUT:
    'the peer never answered our uTP SYN; it may be offline, firewalled, or not speak uTP (try TCP)',
  UTP_TIMEOUT:
    'the uTP peer stopped acknowledging our packets; the path or the peer is gone, so the connection was dropped',
  UTP_RESET: 'the peer reset the uTP connection (it has no state for it, or aborted it)',
  UTP_CLOSED: 'the uTP socket was closed, taking its connections with it',
  UTP_REFUSED:
    'the uTP socket is at its connection limit; close idle connections or raise the limit',
  UTP_OVERFLOW:
    'the application kept writing to a uTP connection that asked it to wait for drain; it was closed to bound memory',
};

/** A uTP connection that failed: timeouts, resets, limits, local close. */
export class UtpConnectionError extends ShoalError {
  constructor(code: UtpFailure, detail?: string) {
    super(code, detail === undefined ? MESSAGES[code] : `${MESSAGES[code]} (${detail})`);
  }
}
