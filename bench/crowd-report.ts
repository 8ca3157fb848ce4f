/**
 * The figures of the `crowd` benchmark: how evenly one seeder split its upload between many
 * connections, and what it cost, computed from the load generator's `done` line and the
 * seeder's CPU and memory; and their text.
 */
import type { JsonEvent } from './support.js';

/** The target of issue 15: each connection within this fraction of the mean. */
export const FAIR_WITHIN = 0.25;
const GiB = 1024 ** 3;

/** One seeder's results against the crowd. */
export interface CrowdFigures {
  /** Connections the generator was asked to open. */
  readonly asked: number;
  /** Connections up through the window. */
  readonly live: number;
  /** Connections that received any payload in the window. */
  readonly served: number;
  readonly seconds: number;
  readonly totalBytes: number;
  /** Per connection, every asked one (those never up count 0): least, median, most, mean. */
  readonly min: number;
  readonly median: number;
  readonly max: number;
  readonly mean: number;
  /** Largest |bytes − mean| / mean over every asked connection. */
  readonly maxDeviation: number;
  /** Connections within ±{@link FAIR_WITHIN} of the mean. */
  readonly withinTarget: number;
  /** Unchokes per live connection: median and most. */
  readonly unchokesMedian: number;
  readonly unchokesMax: number;
  /** Seconds from "interested" to the first block: median and slowest (served ones only). */
  readonly firstByteMedianS: number;
  readonly firstByteMaxS: number;
  /** Connections that got every piece (and so stopped asking). */
  readonly complete: number;
  /** Requests refused (BEP 6 reject, on choke or to point at scarcer pieces) and suggestions. */
  readonly rejects: number;
  readonly suggests: number;
  readonly seederCpu: number;
  readonly loadCpu: number;
  readonly seederRss: number;
  readonly seederPeakRss: number;
}

const median = (values: readonly number[]): number => {
  if (values.length === 0) return Number.NaN;
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
};

const numbers = (v: unknown): number[] =>
  Array.isArray(v) ? v.map((x) => (typeof x === 'number' ? x : Number.NaN)) : [];

/** Computes the figures from the generator's `done` line and the seeder's measurements. */
export function crowdFigures(input: {
  readonly asked: number;
  readonly done: JsonEvent;
  readonly seederCpu: number;
  readonly loadCpu: number;
  readonly seederRss: number;
  readonly seederPeakRss: number;
}): CrowdFigures {
  const live = numbers(input.done.bytes);
  const all = [...live, ...new Array<number>(Math.max(0, input.asked - live.length)).fill(0)];
  const total = all.reduce((a, b) => a + b, 0);
  const mean = total / all.length;
  const deviation = (b: number) => (mean > 0 ? Math.abs(b - mean) / mean : 1);
  const unchokes = numbers(input.done.unchokes);
  const firstBytes = (Array.isArray(input.done.firstByteMs) ? input.done.firstByteMs : [])
    .filter((x): x is number => typeof x === 'number')
    .map((ms) => ms / 1000);
  return {
    asked: input.asked,
    live: live.length,
    served: live.filter((b) => b > 0).length,
    seconds: Number(input.done.seconds),
    totalBytes: total,
    min: Math.min(...all),
    median: median(all),
    max: Math.max(...all),
    mean,
    maxDeviation: Math.max(...all.map(deviation)),
    withinTarget: all.filter((b) => deviation(b) <= FAIR_WITHIN).length,
    unchokesMedian: median(unchokes),
    unchokesMax: Math.max(0, ...unchokes),
    firstByteMedianS: median(firstBytes),
    firstByteMaxS: firstBytes.length > 0 ? Math.max(...firstBytes) : Number.NaN,
    complete: Number(input.done.complete ?? 0),
    rejects: Number(input.done.rejects ?? 0),
    suggests: Number(input.done.suggests ?? 0),
    seederCpu: input.seederCpu,
    loadCpu: input.loadCpu,
    seederRss: input.seederRss,
    seederPeakRss: input.seederPeakRss,
  };
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
const met = (ok: boolean): string => (ok ? 'met' : 'NOT met');

/** CPU-seconds per GiB uploaded. */
export const cpuPerGib = (f: CrowdFigures): number => f.seederCpu / (f.totalBytes / GiB);

/** The report of one seeder. */
export function crowdText(who: string, f: CrowdFigures): string {
  const rate = f.totalBytes / 1e6 / f.seconds;
  const fair = f.served === f.asked && f.maxDeviation <= FAIR_WITHIN;
  return (
    `  ${who}: ${f.served}/${f.asked} connections served (${f.live} up through the window), ` +
    `${mb(f.totalBytes)} in ${f.seconds.toFixed(1)} s = ${rate.toFixed(1)} MB/s` +
    `${f.complete > 0 ? `; ${f.complete} got the whole file` : ''}\n` +
    `  per connection: least ${mb(f.min)}, median ${mb(f.median)}, most ${mb(f.max)}, mean ${mb(f.mean)}; ` +
    `largest deviation from the mean ${(100 * f.maxDeviation).toFixed(0)}%, ` +
    `${f.withinTarget}/${f.asked} within ±${100 * FAIR_WITHIN}%\n` +
    `  unchokes per connection: median ${f.unchokesMedian}, most ${f.unchokesMax}; ` +
    `first block after ${f.firstByteMedianS.toFixed(1)} s (median), ${f.firstByteMaxS.toFixed(1)} s (slowest served); ` +
    `${f.rejects} requests rejected, ${f.suggests} pieces suggested (BEP 6)\n` +
    `  seeder CPU ${f.seederCpu.toFixed(2)} s over the window = ${((1000 * f.seederCpu) / f.asked).toFixed(1)} ms per connection, ` +
    `${cpuPerGib(f).toFixed(2)} s per GiB uploaded, ${((100 * f.seederCpu) / f.seconds).toFixed(0)}% of a core; ` +
    `RSS ${(f.seederRss / 1024 ** 2).toFixed(0)} MiB (peak ${(f.seederPeakRss / 1024 ** 2).toFixed(0)} MiB); ` +
    `generator CPU ${f.loadCpu.toFixed(2)} s\n` +
    `  target (all ${f.asked} served, each within ±${100 * FAIR_WITHIN}% of the mean): ${met(fair)}\n`
  );
}

/** shoal against libtorrent. */
export function ratioText(s: CrowdFigures, l: CrowdFigures): string {
  return (
    `ratio shoal/libtorrent: upload ${(s.totalBytes / s.seconds / (l.totalBytes / l.seconds)).toFixed(2)}×, ` +
    `seeder CPU per GiB ${(cpuPerGib(s) / cpuPerGib(l)).toFixed(2)}×, ` +
    `connections served ${s.served} vs ${l.served}, ` +
    `largest deviation ${(100 * s.maxDeviation).toFixed(0)}% vs ${(100 * l.maxDeviation).toFixed(0)}%, ` +
    `RSS ${(s.seederRss / l.seederRss).toFixed(2)}× (libtorrent's counts the file pages it maps)\n`
  );
}
