/**
 * What the `transfer` benchmark measures and how it sums it up: one timed download of part 1
 * (`Run`), the best and median of the rounds, CPU per GiB, targets met or not, and the swarm's
 * progress every two seconds in part 2.
 */
import { cpus } from 'node:os';
import type { JsonChild } from './support.js';

/** One timed download in part 1. */
export interface Run {
  /** Spawning the leecher → its "done" line. */
  readonly wallSeconds: number;
  /** Torrent added (peer dialled) → "done": the transfer alone, without process start-up. */
  readonly transferSeconds: number;
  readonly downloaded: number;
  /** VmHWM: the peak RSS of the leecher program itself. */
  readonly peakRssBytes: number;
  /** What the leecher itself reported from getrusage's ru_maxrss (see JsonChild.track). */
  readonly reportedMaxRss: number;
  /** CPU seconds the leecher used up to its "done" line, start-up included. */
  readonly leecherCpu: number;
  /** CPU seconds the seeder used while the leecher ran. */
  readonly seederCpu: number;
}

/** The machine's CPU model, printed beside CPU times. */
export const cpuModel = (): string => cpus()[0]?.model.trim() ?? 'unknown CPU';
/** The fastest of `runs` (the one that counts). */
export const best = (runs: Run[]): Run =>
  runs.reduce((a, b) => (b.wallSeconds < a.wallSeconds ? b : a));
/** A run's CPU time, leecher and seeder. */
export const cpuText = (r: Run): string =>
  `CPU ${(r.leecherCpu + r.seederCpu).toFixed(2)} s = leecher ${r.leecherCpu.toFixed(2)} + seeder ${r.seederCpu.toFixed(2)}`;
/** How a target fared. */
export const metText = (ok: boolean): string => (ok ? 'met' : 'NOT met');
/** The median of `values` (the figure told beside the best). */
export const median = (values: number[]): number => {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
};
/**
 * What travels between machines: the leecher's CPU-seconds per GiB moved (throughput ratios
 * swing with how each client meets a machine's page faults and scheduler), best and median.
 */
export const perGibText = (runs: Run[], size: number): string => {
  const perGib = runs.map((r) => (r.leecherCpu * 1024 ** 3) / size);
  return `leecher CPU ${Math.min(...perGib).toFixed(2)} s/GiB best, ${median(perGib).toFixed(2)} median`;
};

/**
 * Every two seconds of a swarm run: the copies of the file the seeder had sent, and the least,
 * mean and most progress among the leechers (from their once-a-second progress lines). Shows
 * whether the leechers keep pace with the seeder or fall behind it.
 */
export function timeline(
  seeder: JsonChild,
  leechers: readonly JsonChild[],
  size: number,
  t0: number,
  last: number,
): string {
  const latest = (c: JsonChild, key: string, at: number): number => {
    let v = 0;
    for (const e of c.events) {
      if (e.at > at) break;
      const x = e[key];
      if (e.event === 'progress' && typeof x === 'number') v = x;
      if (e.event === 'done') v = key === 'progress' ? 1 : v;
    }
    return v;
  };
  const rows = ['   t/s  seeder sent  leechers min / mean / max'];
  for (let t = 2; t < last + 2; t += 2) {
    const at = t0 + t * 1000;
    const p = leechers.map((l) => latest(l, 'progress', at));
    const mean = p.reduce((a, b) => a + b, 0) / p.length;
    rows.push(
      `  ${String(t).padStart(4)}  ${(latest(seeder, 'uploaded', at) / size).toFixed(2).padStart(9)} ×  ` +
        `${[Math.min(...p), mean, Math.max(...p)].map((x) => `${(100 * x).toFixed(0).padStart(3)}%`).join(' / ')}`,
    );
  }
  return `${rows.join('\n')}\n`;
}
