/** A rate with nothing moving for this long is shown as 0. */
const STALLED_AFTER_MS = 3000;

/**
 * A transfer rate for people to read, and the ETA it gives: an exponentially weighted average
 * of the rate between samples over about `windowMs` (10 s), corrected for its start (so the
 * first seconds show the average so far, not a value dragged towards zero). One burst moves it
 * a little, so the figure stays near what the limit and the link allow.
 */
export class SmoothedRate {
  private average = 0;
  /** How much of the average is real samples (the rest is its zero start). */
  private weight = 0;
  private last: { readonly at: number; readonly total: number } | undefined;
  private first: number | undefined;
  /** When the total last grew. */
  private movedAt = 0;

  constructor(private readonly windowMs = 10_000) {}

  /** Notes that `total` bytes were transferred in all by `now` (ms). */
  sample(now: number, total: number): void {
    this.first ??= now;
    const last = this.last;
    if (last && now <= last.at) return;
    this.last = { at: now, total };
    if (!last || total > last.total) this.movedAt = now;
    if (!last) return;
    const rate = (Math.max(0, total - last.total) * 1000) / (now - last.at);
    const alpha = 1 - Math.exp(-(now - last.at) / this.windowMs);
    this.average += alpha * (rate - this.average);
    this.weight += alpha * (1 - this.weight);
  }

  /**
   * Bytes per second; 0 before two samples, and 0 once nothing moved for a few seconds (the
   * average would otherwise take a while to fade after a transfer stops).
   */
  get bytesPerSecond(): number {
    if (this.weight === 0 || (this.last && this.last.at - this.movedAt >= STALLED_AFTER_MS))
      return 0;
    return this.average / this.weight;
  }

  /** Milliseconds observed so far. */
  get observedMs(): number {
    return this.last && this.first !== undefined ? this.last.at - this.first : 0;
  }

  /**
   * Seconds until `remaining` bytes are through at this rate; undefined until it means
   * something (3 s observed, something flowing).
   */
  eta(remaining: number): number | undefined {
    if (remaining <= 0) return 0;
    const rate = this.bytesPerSecond;
    if (this.observedMs < 3000 || rate < 1) return undefined;
    return Math.ceil(remaining / rate);
  }
}

/** A duration for a status line: `45s`, `12m05s`, `3h20m`, `4d7h`. */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400)
    return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600)}h`;
}
