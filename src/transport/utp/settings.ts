/** Tunables of a connection, with defaults in {@link DEFAULT_CONNECTION_SETTINGS}. */
export interface UtpConnectionSettings {
  /** Datagram size used unless both ends agree on {@link largePacketBytes}. */
  readonly packetBytes: number;
  /** Datagram size offered in the handshake (0: offer nothing, use `packetBytes`). */
  readonly largePacketBytes: number;
  /** Receive buffer: reordered packets plus bytes held while paused; the advertised window. */
  readonly recvWindowBytes: number;
  /** Ceiling of the congestion window (and so of memory held for retransmission). */
  readonly maxCwndBytes: number;
  /** `write` returns false once this many bytes wait to be packetized. */
  readonly sendHighWaterBytes: number;
}

/**
 * Defaults: 1400-byte datagrams (fit a 1500-byte Ethernet MTU behind PPPoE and most tunnels
 * with IP and UDP headers), a 1 MiB receive window, a congestion window of at most 8 MiB.
 */
export const DEFAULT_CONNECTION_SETTINGS: UtpConnectionSettings = {
  packetBytes: 1400,
  largePacketBytes: 0,
  recvWindowBytes: 1 << 20,
  maxCwndBytes: 8 << 20,
  sendHighWaterBytes: 1 << 20,
};
