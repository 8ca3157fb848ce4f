/** An in-order data packet is acked at once every this many packets, else after a delay. */
const ACK_EVERY_PACKETS = 2;
const DELAYED_ACK_MS = 10;

/**
 * When a connection acknowledges in-order data: at once every second packet or when something
 * is urgent (a gap, a FIN, a short packet), otherwise within {@link DELAYED_ACK_MS}, and any
 * packet we send carries the ack and clears what is owed: fewer STATE packets in a bulk
 * transfer, and a sender never waits long for one.
 */
export class DelayedAck {
  /** When an owed ack must go out (owner's clock, ms); infinity when none is owed. */
  at = Number.POSITIVE_INFINITY;
  private unacked = 0;

  /** An in-order packet arrived: true when the ack must go now, else it is owed by {@link at}. */
  inOrder(now: number, urgent: boolean): boolean {
    this.unacked++;
    if (this.unacked >= ACK_EVERY_PACKETS || urgent) return true;
    if (this.at === Number.POSITIVE_INFINITY) this.at = now + DELAYED_ACK_MS;
    return false;
  }

  /** An ack went out (a STATE, or a data packet when nothing waits past a gap). */
  sent(): void {
    this.unacked = 0;
    this.at = Number.POSITIVE_INFINITY;
  }
}
