import type { MetricsSnapshot } from '../metrics/exposition.js';

/**
 * The sum of a counter's or gauge's series in a registry snapshot whose labels include
 * `match` (every host's series, for a registry shared by a simulated network).
 */
export function sumSeries(
  snapshot: MetricsSnapshot,
  name: string,
  match: Readonly<Record<string, string>> = {},
): number {
  const metric = snapshot[name];
  if (!metric || metric.type === 'histogram') return 0;
  let sum = 0;
  for (const s of metric.series)
    if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) sum += s.value ?? 0;
  return sum;
}

/** A histogram's count and mean over its series whose labels include `match`. */
export function histogramMean(
  snapshot: MetricsSnapshot,
  name: string,
  match: Readonly<Record<string, string>> = {},
): { count: number; mean: number } {
  const metric = snapshot[name];
  if (metric?.type !== 'histogram') return { count: 0, mean: 0 };
  let count = 0;
  let sum = 0;
  for (const s of metric.series) {
    if (!Object.entries(match).every(([k, v]) => s.labels[k] === v)) continue;
    count += s.count;
    sum += s.sum;
  }
  return { count, mean: count > 0 ? sum / count : 0 };
}
