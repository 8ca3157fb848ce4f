import type { ChartSpec } from './report.js';
import type { Simulator } from './simulator.js';

/** A figure a scenario reports (JSON-friendly). */
export type Figure = number | string | boolean | null;

/** What a scenario run hands back to the runner. */
export interface ScenarioOutcome {
  /** The simulation that ran (for its trace digest and event count). */
  readonly sim: Simulator;
  /** Figures for `--json` and the report, by name. */
  readonly figures: Record<string, Figure>;
  /** Charts for `--report`. */
  readonly charts: readonly ChartSpec[];
  /** Lines for people. */
  readonly summary: readonly string[];
  /** Whether the run met the scenario's own pass criteria. */
  readonly ok: boolean;
  /** Why not, when it did not. */
  readonly failures: readonly string[];
  /** Simulated nodes the memory figure is divided by. */
  readonly nodes: number;
  /** Live heap held by the simulated nodes, bytes (measured by the scenario at its fullest). */
  readonly heapBytes: number;
}

/** A scenario option as the command line sees it. */
export interface OptionSpec {
  /** Key in the scenario's options object. */
  readonly name: string;
  /** Command-line flag without the dashes, e.g. `median-session-min`. */
  readonly flag: string;
  readonly kind: 'int' | 'number' | 'boolean';
  readonly description: string;
}

/** A named scenario: its options and how to run it. */
export interface ScenarioDefinition {
  readonly name: string;
  readonly description: string;
  readonly options: readonly OptionSpec[];
  run(options: Record<string, number | boolean>): Promise<ScenarioOutcome>;
}
