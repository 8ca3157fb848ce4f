import { MetricsError } from './errors.js';

/**
 * One series of a counter: the handle a hot path keeps (`metric.labels({ type: 'ping' })`),
 * whose `inc()` is one addition. It holds only its value; the registry knows its labels.
 */
export class CounterSeries {
  value = 0;

  /** Adds `n` (default 1). @throws {MetricsError} `METRIC_VALUE_INVALID` when `n` < 0 or NaN */
  inc(n = 1): void {
    if (!(n >= 0))
      throw new MetricsError('METRIC_VALUE_INVALID', `a counter cannot go down (inc(${n}))`);
    this.value += n;
  }
}

/** One series of a gauge: a value that goes up and down. */
export class GaugeSeries {
  value = 0;

  set(value: number): void {
    this.value = value;
  }

  inc(n = 1): void {
    this.value += n;
  }

  dec(n = 1): void {
    this.value -= n;
  }
}

/** One series of a histogram: counts of observations per bucket, their sum and count. */
export class HistogramSeries {
  /** Per bucket, not cumulative; the last one is `+Inf`. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    // NaN passes every `!(value <= bound)` test and lands in +Inf, as Prometheus clients do.
    while (i < bounds.length && !(value <= bounds[i]!)) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

/** Any series a registry stores. */
export type AnySeries = CounterSeries | GaugeSeries | HistogramSeries;

/** `count` bucket bounds `start`, `start + width`, …: for values spread evenly. */
export function linearBuckets(start: number, width: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start + i * width);
}

/** `count` bucket bounds `start`, `start × factor`, …: for durations and sizes. */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start * factor ** i);
}
