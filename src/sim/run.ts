import { createRealRuntime } from '../runtime/real.js';
import { SimError } from './errors.js';
import { peakRssBytes } from './memory.js';
import { type ChartSpec, htmlReport, lineChart } from './report.js';
import type { Figure, ScenarioOutcome } from './scenario.js';
import { SCENARIOS } from './scenarios/index.js';
import { round } from './stats.js';

/** Everything a finished run reports: fixed fields first, then the scenario's own figures. */
export interface SimRunReport {
  readonly scenario: string;
  readonly seed: number;
  readonly traceDigest: string;
  readonly ok: boolean;
  readonly failures: readonly string[];
  readonly wallSeconds: number;
  readonly events: number;
  readonly eventsPerSecond: number;
  readonly memoryPerNodeBytes: number;
  readonly peakRssBytes: number;
  /** Present when the run was repeated to check determinism. */
  readonly deterministic?: boolean;
  readonly figures: Record<string, Figure>;
  readonly summary: readonly string[];
  readonly charts: readonly ChartSpec[];
}

/**
 * Runs scenario `name` once with `options` (which must include `seed`) and measures it: wall
 * time, events per second, memory per simulated node, and the SHA-256 of its event trace.
 */
export async function runScenario(
  name: string,
  options: Record<string, number | boolean>,
): Promise<SimRunReport> {
  const def = SCENARIOS.get(name);
  if (!def)
    throw new SimError(
      'SIM_UNKNOWN_SCENARIO',
      `no scenario "${name}" (there are: ${[...SCENARIOS.keys()].join(', ')})`,
    );
  const seed = Number(options.seed ?? 1);
  const wall = createRealRuntime().clock;
  const started = wall.now();
  const outcome: ScenarioOutcome = await def.run({ ...options, seed });
  const wallSeconds = (wall.now() - started) / 1000;
  // The results are part of the trace: a run that ends differently must not share a digest.
  outcome.sim.trace.text(JSON.stringify(outcome.figures));
  return {
    scenario: name,
    seed,
    traceDigest: outcome.sim.trace.digest(),
    ok: outcome.ok,
    failures: outcome.failures,
    wallSeconds: round(wallSeconds, 2) ?? 0,
    events: outcome.sim.eventsRun,
    eventsPerSecond: Math.round(outcome.sim.eventsRun / Math.max(1e-6, wallSeconds)),
    memoryPerNodeBytes: Math.round(outcome.heapBytes / Math.max(1, outcome.nodes)),
    peakRssBytes: peakRssBytes(),
    figures: outcome.figures,
    summary: outcome.summary,
    charts: outcome.charts,
  };
}

/**
 * Runs the scenario twice with the same seed and compares the trace digests; the second run's
 * report says whether they matched.
 */
export async function runTwiceAndCompare(
  name: string,
  options: Record<string, number | boolean>,
): Promise<{ first: SimRunReport; second: SimRunReport }> {
  const first = await runScenario(name, options);
  const second = await runScenario(name, options);
  const deterministic = first.traceDigest === second.traceDigest;
  // The second run starts on a heap the first one left behind: its memory figure is noise.
  const memoryPerNodeBytes = first.memoryPerNodeBytes;
  return {
    first: { ...first, deterministic },
    second: { ...second, deterministic, memoryPerNodeBytes },
  };
}

/** The report as SVG (the charts stacked) or HTML (figures table and charts). */
export function renderReport(report: SimRunReport, format: 'svg' | 'html'): string {
  const svgs = report.charts.map((c) => lineChart(c));
  if (format === 'html') {
    const { charts: _charts, summary: _summary, figures, ...fixed } = report;
    return htmlReport(
      `shoal sim ${report.scenario} (seed ${report.seed})`,
      { ...fixed, ...figures },
      svgs,
    );
  }
  // Several charts in one SVG: stack them vertically.
  const inner = svgs.map((s, i) => s.replace('<svg ', `<svg y="${i * 400}" `));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="720" height="${400 * svgs.length}">\n${inner.join('\n')}\n</svg>\n`;
}
