/**
 * Congestion control and timeouts of one uTP connection: LEDBAT (RFC 6817, with BEP 29's
 * 100 ms target) for the congestion window, and the RTT / RTO estimator of BEP 29.
 */

/** Queueing delay LEDBAT aims for (BEP 29: 100 ms), microseconds. */
export const TARGET_DELAY_US = 100_000;
/** RFC 6817: GAIN ≤ 1; at zero queueing delay the window grows one packet per RTT. */
const GAIN = 1;
/** Minutes of per-minute minimum delays kept for the base delay (RFC 6817 BASE_HISTORY). */
const BASE_HISTORY_MINUTES = 10;
/** Recent samples whose minimum is the current delay (RFC 6817 CURRENT_FILTER). */
const CURRENT_FILTER = 4;
/** The window never drops below this many packets (RFC 6817 MIN_CWND), except on a timeout. */
const MIN_CWND_PACKETS = 2;
/** RFC 6817 ALLOWED_INCREASE: the window may exceed what was in flight by this many packets. */
const ALLOWED_INCREASE_PACKETS = 1;
/** Initial window (RFC 6817 INIT_CWND), packets. */
const INIT_CWND_PACKETS = 2;

/** True when `a` is below `b` as 32-bit clock differences (which wrap). */
const below = (a: number, b: number) => ((a - b) | 0) < 0;

/**
 * LEDBAT's congestion window in bytes. One-way delay samples (the peer's measure of how long
 * our packets took, on unsynchronised clocks) are reduced to a queueing delay: the minimum of
 * the last {@link CURRENT_FILTER} samples minus the base delay (the minimum over the last ten
 * minutes, kept as one minimum per minute so an old low sample ages out). Each ack then moves
 * the window by `GAIN · (target − delay) / target · acked · mss / cwnd` below target — up by
 * at most a packet per RTT at zero delay — and, above it, down multiplicatively as LEDBAT++
 * (draft-irtf-iccrg-ledbat-plus-plus §4.3) does: by `cwnd · (delay / target − 1)` per window
 * of acks, at most half, so a TCP flow that fills the queue gets the link within a few round
 * trips. It never grows beyond what was in flight plus one packet (an idle sender banks no
 * window). Slow start
 * (the window grows by what is acked) runs until the first loss or until the queueing delay
 * reaches half the target. A loss halves the window once per window of packets; a timeout
 * drops it to one packet and slow-starts again up to half the window it had.
 */
export class Ledbat {
  /** The congestion window, bytes. */
  cwnd: number;
  slowStart = true;
  /** Slow start ends at this window: half the window a timeout found (none at first). */
  ssthresh = Number.POSITIVE_INFINITY;
  private readonly history: number[] = [];
  private minuteStart = Number.NEGATIVE_INFINITY;
  private readonly current: number[] = [];
  private currentNext = 0;
  /** Latest queueing delay estimate, microseconds. */
  queueingDelayUs = 0;

  constructor(
    mss: number,
    /** Ceiling of the window, bytes (bounds memory held for retransmission). */
    readonly maxCwnd: number,
  ) {
    this.cwnd = INIT_CWND_PACKETS * mss;
  }

  /**
   * Takes a one-way delay sample (`sampleUs`: the peer's clock minus ours, modulo 2^32) at time
   * `nowMs`. `rttUs`, when known, caps the queueing delay: no one-way delay exceeds the RTT.
   */
  delaySample(sampleUs: number, nowMs: number, rttUs: number): void {
    const h = this.history;
    if (nowMs - this.minuteStart >= 60_000 || h.length === 0) {
      this.minuteStart = nowMs;
      h.push(sampleUs);
      if (h.length > BASE_HISTORY_MINUTES) h.shift();
    } else if (below(sampleUs, h[h.length - 1]!)) {
      h[h.length - 1] = sampleUs;
    }
    if (this.current.length < CURRENT_FILTER) this.current.push(sampleUs);
    else {
      this.current[this.currentNext] = sampleUs;
      this.currentNext = (this.currentNext + 1) % CURRENT_FILTER;
    }
    let base = h[0]!;
    for (const v of h) if (below(v, base)) base = v;
    let recent = this.current[0]!;
    for (const v of this.current) if (below(v, recent)) recent = v;
    let delay = (recent - base) | 0;
    if (delay < 0) delay = 0;
    if (rttUs > 0 && delay > rttUs) delay = rttUs;
    this.queueingDelayUs = delay;
  }

  /**
   * `ackedBytes` were newly acknowledged while `flightBytes` were in flight (before the ack);
   * `mss` is the current packet payload size.
   */
  onAck(ackedBytes: number, flightBytes: number, mss: number): void {
    if (ackedBytes <= 0) return;
    const delay = this.queueingDelayUs;
    let cwnd = this.cwnd;
    let ceiling = flightBytes + ALLOWED_INCREASE_PACKETS * mss;
    if (this.slowStart && delay < TARGET_DELAY_US / 2 && cwnd < this.ssthresh) {
      cwnd += ackedBytes;
      ceiling += ackedBytes;
    } else if (delay <= TARGET_DELAY_US) {
      this.slowStart = false;
      const offTarget = (TARGET_DELAY_US - delay) / TARGET_DELAY_US;
      cwnd += (GAIN * offTarget * ackedBytes * mss) / cwnd;
    } else {
      // Above target, LEDBAT++'s multiplicative decrease: over a window of acks the window
      // shrinks by W·(delay/target − 1), at most by half. RFC 6817's linear decrease (a packet
      // or two per RTT) takes tens of seconds to give way to a TCP flow that holds the queue a
      // little above target; this gives way within a few round trips.
      this.slowStart = false;
      const perWindow = Math.max(GAIN * mss - cwnd * (delay / TARGET_DELAY_US - 1), -cwnd / 2);
      cwnd += (perWindow * ackedBytes) / cwnd;
    }
    // Grow only while the window is used; an application-limited sender keeps what it has.
    if (cwnd > this.cwnd && cwnd > ceiling) cwnd = Math.max(this.cwnd, ceiling);
    this.cwnd = this.clamp(cwnd, mss);
  }

  /** A packet was lost (once per window of packets): halve. */
  onLoss(mss: number): void {
    this.slowStart = false;
    this.cwnd = this.clamp(this.cwnd / 2, mss);
  }

  /**
   * The retransmission timer fired: back to one packet, and slow start up to half the window
   * that timed out (as TCP's ssthresh). Slow start without that bound would double into a
   * queue a TCP flow has just drained after its own loss, and cost that flow another one.
   */
  onTimeout(mss: number): void {
    this.ssthresh = Math.max(MIN_CWND_PACKETS * mss, this.cwnd / 2);
    this.slowStart = true;
    this.cwnd = mss;
  }

  private clamp(cwnd: number, mss: number): number {
    return Math.min(this.maxCwnd, Math.max(MIN_CWND_PACKETS * mss, cwnd));
  }
}

/** BEP 29: the retransmission timeout is never below half a second. */
export const MIN_RTO_MS = 500;
/** BEP 29: the timeout before any RTT sample. */
export const INITIAL_RTO_MS = 1000;
/** Ceiling of the timeout after backing off. */
export const MAX_RTO_MS = 60_000;

/**
 * RTT and retransmission timeout, as BEP 29 gives them: on each sample (from packets sent only
 * once) `rtt_var += (|rtt − sample| − rtt_var) / 4`, `rtt += (sample − rtt) / 8`, and
 * `timeout = max(rtt + 4·rtt_var, 500 ms)`; 1000 ms before the first sample.
 */
export class RttEstimator {
  rttMs = 0;
  rttVarMs = 0;
  rtoMs = INITIAL_RTO_MS;
  private sampled = false;

  /** A round trip of `ms`. */
  sample(ms: number): void {
    if (!this.sampled) {
      this.sampled = true;
      this.rttMs = ms;
      this.rttVarMs = ms / 2;
    } else {
      const delta = this.rttMs - ms;
      this.rttVarMs += (Math.abs(delta) - this.rttVarMs) / 4;
      this.rttMs += (ms - this.rttMs) / 8;
    }
    this.rtoMs = Math.max(MIN_RTO_MS, this.rttMs + 4 * this.rttVarMs);
  }

  /** Whether any sample has been taken. */
  get known(): boolean {
    return this.sampled;
  }
}
