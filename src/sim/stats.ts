/** The value below which a fraction `q` of `sorted` (ascending) lies (nearest rank). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

/** Ascending copy of `values`. */
export function sortedCopy(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

/** Arithmetic mean (NaN for none). */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/** Percentiles people ask for, in one object. */
export interface Percentiles {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** p50 / p90 / p99 / max of `values`. */
export function percentiles(values: readonly number[]): Percentiles {
  const s = sortedCopy(values);
  return {
    p50: quantile(s, 0.5),
    p90: quantile(s, 0.9),
    p99: quantile(s, 0.99),
    max: s.at(-1) ?? Number.NaN,
  };
}

/** Rounds for reports: `digits` decimals, NaN and infinities as null (valid JSON). */
export function round(v: number, digits = 1): number | null {
  if (!Number.isFinite(v)) return null;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
