import type { RttEstimator } from './ledbat.js';
import { HEADER_BYTES, type UtpPacketType } from './packet.js';
import { SeqRing, seqAdd, seqDiff } from './seq.js';

/** Most packets in flight (also bounded by bytes); far below the 32768 sequence half-space. */
export const MAX_OUT_PACKETS = 4096;
/** Duplicate acks (or packets selectively acked past a hole) that mark it lost (BEP 29). */
const DUP_ACK_LIMIT = 3;

/** A packet we sent that the peer has not acknowledged cumulatively yet. */
export interface Sent {
  readonly seq: number;
  readonly type: UtpPacketType;
  readonly buf: Buffer;
  /** The datagram: `buf` up to the end of the payload. */
  readonly datagram: Buffer;
  readonly payload: number;
  sentAt: number;
  transmissions: number;
  /** Selectively acked: out of flight, never resent. */
  sacked: boolean;
  /** Deemed lost: out of flight, waiting to be resent. */
  lost: boolean;
  /** Fast-retransmitted since the last timeout. */
  fastResent: boolean;
  /** `seqNr` when it was last transmitted: packets from there on were sent after it. */
  sentBefore: number;
}

/**
 * The sending half's bookkeeping: sequence numbers, the packets not yet cumulatively acked
 * (kept for resending), bytes in flight (sent, not acked, not deemed lost), cumulative and
 * selective acks with RTT samples from packets sent once, duplicate acks, and BEP 29 loss
 * detection. A packet leaves the window through `retired` (the owner may reuse its buffer).
 */
export class SendWindow {
  /** Sequence number the next packet gets. */
  seqNr: number;
  /** Last sequence number the peer acked cumulatively. */
  ackedSeq: number;
  /** Packets not cumulatively acked, bytes in flight, packets waiting to be resent. */
  outstanding = 0;
  inFlight = 0;
  lostCount = 0;
  private dupAcks = 0;
  /** Losses of packets up to here belong to a window already halved for. */
  private recoverySeq: number;
  private readonly ring = new SeqRing<Sent>(16, MAX_OUT_PACKETS * 2);
  private sackedFrom = new Int32Array(0);

  constructor(
    seqNr: number,
    private readonly rtt: RttEstimator,
    private readonly retired: (sent: Sent) => void,
  ) {
    this.seqNr = seqNr;
    this.ackedSeq = seqAdd(seqNr, -1);
    this.recoverySeq = this.ackedSeq;
  }

  /** Sequence number of the oldest packet not cumulatively acked. */
  get base(): number {
    return seqAdd(this.ackedSeq, 1);
  }

  /** Numbers and records a new packet (not yet transmitted). */
  add(type: UtpPacketType, buf: Buffer, payload: number, now: number): Sent {
    const seq = this.seqNr;
    this.seqNr = seqAdd(seq, 1);
    const sent: Sent = {
      seq,
      type,
      buf,
      datagram: buf.subarray(0, HEADER_BYTES + payload),
      payload,
      sentAt: now,
      transmissions: 0,
      sacked: false,
      lost: false,
      fastResent: false,
      sentBefore: seq,
    };
    this.ring.set(seq, sent, this.base);
    this.outstanding++;
    return sent;
  }

  /** `sent` is going out (again) at `now`. */
  transmitted(sent: Sent, now: number): void {
    if (sent.lost) {
      sent.lost = false;
      this.lostCount--;
    }
    sent.sentAt = now;
    sent.sentBefore = this.seqNr;
    sent.transmissions++;
    this.inFlight += sent.payload;
  }

  /**
   * Takes the ack fields of a packet from the peer: `ackNr`, and the selective-ACK bitmask at
   * `sack[sackOffset..+sackLength]`. Returns the bytes newly acknowledged; counts a duplicate
   * ack only for a STATE (`isState`) — data packets repeat `ack_nr` whenever the peer sends.
   */
  onAck(
    ackNr: number,
    isState: boolean,
    sack: Uint8Array,
    sackOffset: number,
    sackLength: number,
    now: number,
  ): number {
    let acked = 0;
    const ahead = seqDiff(ackNr, this.ackedSeq);
    if (ahead > 0) {
      const base = this.base;
      for (let k = 0; k < ahead; k++) {
        const sent = this.ring.take(seqAdd(base, k), base);
        if (sent !== undefined) acked += this.retire(sent, now);
      }
      this.ackedSeq = ackNr;
      this.dupAcks = 0;
    } else if (ahead === 0 && isState && this.outstanding > 0) {
      this.dupAcks++;
    }
    if (sackLength > 0) acked += this.selective(ackNr, sack, sackOffset, sackLength, now);
    return acked;
  }

  /**
   * BEP 29 loss detection after an ack: the oldest packet after three duplicate acks, and any
   * packet with at least three selectively acked packets after it. A packet already fast
   * retransmitted is deemed lost again once three packets sent after its retransmission are
   * selectively acked (the retransmission was lost too), so a burst that overflows a queue
   * twice costs no timeout. Returns true when a newly lost packet was sent after the last
   * window reduction (the window should be halved).
   */
  detectLoss(sackSeen: boolean): boolean {
    if (this.outstanding === 0) return false;
    const base = this.base;
    let halve = false;
    if (this.dupAcks >= DUP_ACK_LIMIT) {
      const oldest = this.ring.get(base, base);
      if (oldest !== undefined && !oldest.fastResent) halve = this.markLost(base, base);
    }
    if (!sackSeen) return halve;
    const n = seqDiff(this.seqNr, base);
    if (this.sackedFrom.length < n + 1) this.sackedFrom = new Int32Array(2 * n + 2);
    const sackedFrom = this.sackedFrom; // sackedFrom[k]: sacked packets at positions ≥ k
    sackedFrom[n] = 0;
    for (let k = n - 1; k >= 0; k--) {
      const seq = seqAdd(base, k);
      const sent = this.ring.get(seq, base);
      let after = sackedFrom[k + 1]!;
      sackedFrom[k] = after + (sent?.sacked ? 1 : 0);
      if (sent === undefined || sent.sacked || sent.lost) continue;
      if (sent.fastResent) {
        const from = seqDiff(sent.sentBefore, base);
        after = from >= n ? 0 : sackedFrom[from]!;
      }
      if (after >= DUP_ACK_LIMIT && this.markLost(seq, base)) halve = true;
    }
    return halve;
  }

  /** The retransmission timer fired: every unacknowledged packet is deemed lost. */
  allLost(): void {
    const base = this.base;
    const n = seqDiff(this.seqNr, base);
    for (let k = 0; k < n; k++) {
      const sent = this.ring.get(seqAdd(base, k), base);
      if (sent === undefined || sent.sacked) continue;
      sent.fastResent = false;
      if (sent.lost) continue;
      sent.lost = true;
      this.inFlight -= sent.payload;
      this.lostCount++;
    }
    this.recoverySeq = seqAdd(this.seqNr, -1);
  }

  /** Calls `resend` for lost packets, oldest first, until it returns false. */
  forEachLost(resend: (sent: Sent) => boolean): void {
    const base = this.base;
    const n = seqDiff(this.seqNr, base);
    for (let k = 0; k < n && this.lostCount > 0; k++) {
      const sent = this.ring.get(seqAdd(base, k), base);
      if (sent?.lost && !resend(sent)) return;
    }
  }

  /** True once `seq` (a packet we sent) has been cumulatively acked. */
  acked(seq: number): boolean {
    return seqDiff(this.ackedSeq, seq) >= 0;
  }

  private retire(sent: Sent, now: number): number {
    this.outstanding--;
    let newly = 0;
    if (sent.lost) this.lostCount--;
    else if (!sent.sacked) {
      this.inFlight -= sent.payload;
      newly = sent.payload;
    }
    if (!sent.sacked && sent.transmissions === 1) this.rtt.sample(now - sent.sentAt);
    this.retired(sent);
    return newly;
  }

  private selective(
    ackNr: number,
    mask: Uint8Array,
    offset: number,
    length: number,
    now: number,
  ): number {
    const base = this.base;
    const first = seqAdd(ackNr, 2);
    let acked = 0;
    for (let i = 0; i < length * 8; i++) {
      if ((mask[offset + (i >> 3)]! & (1 << (i & 7))) === 0) continue;
      const seq = seqAdd(first, i);
      if (seqDiff(seq, this.seqNr) >= 0) break;
      const sent = this.ring.get(seq, base);
      if (sent === undefined || sent.sacked || sent.seq !== seq) continue;
      sent.sacked = true;
      if (sent.lost) {
        sent.lost = false;
        this.lostCount--;
      } else this.inFlight -= sent.payload;
      acked += sent.payload;
      if (sent.transmissions === 1) this.rtt.sample(now - sent.sentAt);
    }
    return acked;
  }

  private markLost(seq: number, base: number): boolean {
    const sent = this.ring.get(seq, base);
    if (sent === undefined || sent.sacked || sent.lost) return false;
    sent.lost = true;
    sent.fastResent = true;
    this.inFlight -= sent.payload;
    this.lostCount++;
    if (seqDiff(seq, this.recoverySeq) <= 0) return false;
    this.recoverySeq = seqAdd(this.seqNr, -1);
    return true;
  }
}
