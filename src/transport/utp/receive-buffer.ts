import { MAX_SACK_BYTES } from './packet.js';
import { SeqRing, seqAdd, seqDiff } from './seq.js';

/** Packets further than this past the last in-order one are dropped (bounds the reorder ring). */
export const MAX_REORDER_PACKETS = 2048;

/** What became of an incoming data (or FIN) packet. */
export const Arrival = {
  /** Next in order: delivered (or buffered while paused), maybe with stored ones after it. */
  InOrder: 0,
  /** Already received: the sender missed our ack. */
  Duplicate: 1,
  /** Ahead of a gap: kept until the gap fills. */
  Stored: 2,
  /** No room (window exceeded, too far ahead, past the FIN): the sender will resend it. */
  Dropped: 3,
} as const;

/** One of the {@link Arrival} outcomes. */
export type Arrival = (typeof Arrival)[keyof typeof Arrival];

/** Marks the FIN's slot in the reorder ring (it carries no bytes). */
const FIN_MARK = Buffer.alloc(0);
/** A data packet without payload still takes a sequence number. */
const EMPTY_MARK = Buffer.alloc(0);

/**
 * The receiving half of a connection: the in-order point (`ackNr`), packets that arrived
 * ahead of a gap (copied, since datagrams are lent), the FIN's sequence number, and bytes held
 * while the application has paused reading. All of it fits in `capacity` bytes; what is left
 * is the window advertised to the peer.
 */
export class ReceiveBuffer {
  /** Sequence number of the last packet received in order. */
  ackNr: number;
  /** Sequence number of the peer's FIN, or -1. */
  eofSeq = -1;
  /** Packets stored ahead of a gap, and their bytes. */
  reorderCount = 0;
  reorderBytes = 0;
  /** Bytes received in order but not yet handed over (the reader is paused). */
  backlogBytes = 0;
  paused = false;
  private readonly reorder = new SeqRing<Buffer>(16, MAX_REORDER_PACKETS * 2);
  private highest = 0;
  private backlog: Buffer[] = [];

  constructor(
    readonly capacity: number,
    ackNr: number,
  ) {
    this.ackNr = ackNr;
  }

  /** Bytes the peer may still send us (the advertised `wnd_size`). */
  window(): number {
    return Math.max(0, this.capacity - this.reorderBytes - this.backlogBytes);
  }

  /** True once everything up to and including the peer's FIN has arrived. */
  get eofReached(): boolean {
    return this.eofSeq >= 0 && this.ackNr === this.eofSeq;
  }

  /**
   * Takes a DATA (or, with `fin`, FIN) packet. In-order bytes go to `deliver` (a view lent for
   * the call) unless paused; `deliver` returns false when the connection closed meanwhile.
   */
  accept(
    seq: number,
    payload: Uint8Array,
    fin: boolean,
    deliver: (chunk: Buffer) => boolean,
  ): Arrival {
    if (fin) {
      if (this.eofSeq < 0) this.eofSeq = seq;
      else if (this.eofSeq !== seq) return Arrival.Dropped;
    } else if (this.eofSeq >= 0 && seqDiff(seq, this.eofSeq) >= 0) return Arrival.Dropped;
    const d = seqDiff(seq, this.ackNr);
    if (d <= 0) return Arrival.Duplicate;
    if (d > 1) return this.store(seq, d, payload, fin);
    if (!fin && this.buffering && !this.fits(payload.length)) return Arrival.Dropped;
    this.ackNr = seq;
    if (!fin && !this.hand(payload, false, deliver)) return Arrival.InOrder;
    for (;;) {
      if (this.reorderCount === 0) break;
      const next = seqAdd(this.ackNr, 1);
      const held = this.reorder.take(next, next);
      if (held === undefined) break;
      this.reorderCount--;
      this.reorderBytes -= held.length;
      this.ackNr = next;
      if (held !== FIN_MARK && held !== EMPTY_MARK && !this.hand(held, true, deliver)) break;
    }
    return Arrival.InOrder;
  }

  /** Hands held bytes to `deliver` until paused again or empty; false if it stopped us. */
  drainBacklog(deliver: (chunk: Buffer) => boolean): boolean {
    while (!this.paused && this.backlog.length > 0) {
      const chunk = this.backlog.shift()!;
      this.backlogBytes -= chunk.length;
      if (!deliver(chunk)) return false;
    }
    return true;
  }

  /**
   * The selective-ACK bitmask for the packets stored past the gap (bit `i` = `ackNr + 2 + i`,
   * least significant bit first in each byte), padded to 4-byte words, or undefined when
   * nothing is stored.
   */
  sack(): Uint8Array | undefined {
    if (this.reorderCount === 0) return undefined;
    const bits = Math.min(seqDiff(this.highest, this.ackNr) - 1, MAX_SACK_BYTES * 8);
    if (bits <= 0) return undefined;
    const mask = new Uint8Array(Math.ceil(bits / 32) * 4);
    for (let i = 0; i < bits; i++) {
      if (this.reorder.get(seqAdd(this.ackNr, 2 + i), seqAdd(this.ackNr, 1)) !== undefined)
        mask[i >> 3]! |= 1 << (i & 7);
    }
    return mask;
  }

  private store(seq: number, d: number, payload: Uint8Array, fin: boolean): Arrival {
    if (d > MAX_REORDER_PACKETS) return Arrival.Dropped;
    if (this.reorder.get(seq, seqAdd(this.ackNr, 1)) !== undefined) return Arrival.Duplicate;
    if (!this.fits(payload.length)) return Arrival.Dropped;
    const copy = fin ? FIN_MARK : payload.length === 0 ? EMPTY_MARK : Buffer.from(payload);
    this.reorder.set(seq, copy, seqAdd(this.ackNr, 1));
    this.reorderCount++;
    this.reorderBytes += copy.length;
    if (this.reorderCount === 1 || seqDiff(seq, this.highest) > 0) this.highest = seq;
    return Arrival.Stored;
  }

  private fits(bytes: number): boolean {
    return this.reorderBytes + this.backlogBytes + bytes <= this.capacity;
  }

  private get buffering(): boolean {
    return this.paused || this.backlog.length > 0;
  }

  /**
   * Delivers, or while paused keeps the bytes (a copy unless `owned`: already our own copy);
   * false when `deliver` says to stop.
   */
  private hand(bytes: Uint8Array, owned: boolean, deliver: (chunk: Buffer) => boolean): boolean {
    if (bytes.length === 0) return true;
    if (this.buffering) {
      const copy = owned && Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
      this.backlog.push(copy);
      this.backlogBytes += copy.length;
      return true;
    }
    const view = Buffer.isBuffer(bytes)
      ? bytes
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    return deliver(view);
  }
}
