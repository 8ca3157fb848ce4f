import {
  encodeUtpPacket,
  ST_DATA,
  ST_SYN,
  type UtpPacket,
  type UtpPacketType,
  writeHeader,
} from './packet.js';
import type { ReceiveBuffer } from './receive-buffer.js';
import type { Sent } from './send-window.js';

/** Spare packet buffers kept per connection. */
const MAX_SPARE_BUFFERS = 32;

/** Microseconds modulo 2^32 for a millisecond time; never 0 (0 means "no timestamp"). */
const micros = (ms: number) => Math.floor(ms * 1000) >>> 0 || 1;

/**
 * Builds one connection's outgoing packets: every header carries the connection's send id, our
 * timestamp, the delay seen on the peer's last packet (what LEDBAT on the other side measures)
 * and the receive side's window and ack; control packets (STATE, RESET, the SYN and its answer)
 * are encoded whole; DATA buffers are reused once a packet sent once has been acked. Kept apart
 * from `UtpConnection`, which decides what to send and when.
 */
export class PacketBuilder {
  /** The delay of the peer's last packet (µs modulo 2^32), echoed in every header. */
  private replyMicro = 0;
  private readonly spare: Buffer[] = [];

  constructor(
    private readonly sendId: number,
    private readonly recv: ReceiveBuffer,
    private fullBytes: number,
  ) {}

  /** Bytes of a full DATA packet (grows when both ends take large packets). */
  get packetBytes(): number {
    return this.fullBytes;
  }

  /** The peer takes datagrams of up to `offered` bytes, we of up to `largest`: use the larger packets. */
  useLargePackets(largest: number, offered: number): void {
    this.fullBytes = Math.max(this.fullBytes, Math.min(largest, offered));
  }

  /** Notes the timestamp of a packet from the peer, to echo its delay. */
  noteTimestamp(p: UtpPacket, now: number): void {
    if (p.timestamp !== 0) this.replyMicro = (micros(now) - p.timestamp) >>> 0;
  }

  /** A buffer for a full DATA packet: a spare one, else new. */
  dataBuffer(): Buffer {
    return this.spare.pop() ?? Buffer.allocUnsafe(this.packetBytes);
  }

  /** Keeps a retired packet's buffer for the next one. */
  readonly recycle = (sent: Sent): void => {
    // Reused only if sent once: the peer has it, so no send of it can still be pending in the
    // runtime (a pending resend would go out with the next packet's bytes in it).
    if (
      sent.transmissions === 1 &&
      sent.type === ST_DATA &&
      this.spare.length < MAX_SPARE_BUFFERS &&
      sent.buf.length === this.packetBytes
    )
      this.spare.push(sent.buf);
  };

  /** Drops the spare buffers (the connection closed). */
  clear(): void {
    this.spare.length = 0;
  }

  /** Writes the header of a DATA or FIN packet about to be (re)sent into its buffer. */
  stamp(sent: Sent, now: number): void {
    writeHeader(
      sent.buf,
      sent.type,
      0,
      this.sendId,
      micros(now),
      this.replyMicro,
      this.recv.window(),
      sent.seq,
      this.recv.ackNr,
    );
  }

  /** A packet without payload: STATE, RESET, SYN (with `connectionId`), or SYN's answer. */
  control(
    type: UtpPacketType,
    now: number,
    seqNr: number,
    maxDatagramOffer: number,
    sack?: Uint8Array,
    connectionId = this.sendId,
  ): Uint8Array {
    return encodeUtpPacket({
      type,
      connectionId,
      timestamp: micros(now),
      timestampDifference: this.replyMicro,
      windowSize: this.recv.window(),
      seqNr,
      ackNr: type === ST_SYN ? 0 : this.recv.ackNr,
      sack,
      maxDatagram: maxDatagramOffer > 0 ? maxDatagramOffer : undefined,
    });
  }
}
