import { extname } from 'node:path';
import { UsageError } from '../../errors.js';
import { writeStderrNow } from '../../runtime/process.js';
import type { Clock, Runtime } from '../../runtime/runtime.js';
import { renderReport, runScenario, runTwiceAndCompare, type SimRunReport } from '../../sim/run.js';
import type { OptionSpec } from '../../sim/scenario.js';
import { SCENARIOS } from '../../sim/scenarios/index.js';
import { type Simulator, watchProgress } from '../../sim/simulator.js';

/** Flags every `shoal sim` run takes, whatever the scenario. */
export interface SimFlags {
  readonly seed?: string;
  readonly json?: boolean;
  readonly report?: string;
  readonly checkDeterminism?: boolean;
  readonly progress?: boolean;
  readonly [scenarioFlag: string]: string | boolean | undefined;
}

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Every scenario's flags, once each, with the scenarios that take them (for `--help`). */
export function simScenarioFlags(): { spec: OptionSpec; scenarios: string[] }[] {
  const byFlag = new Map<string, { spec: OptionSpec; scenarios: string[] }>();
  for (const d of SCENARIOS.values())
    for (const spec of d.options) {
      const e = byFlag.get(spec.flag) ?? { spec, scenarios: [] };
      e.scenarios.push(d.name);
      byFlag.set(spec.flag, e);
    }
  return [...byFlag.values()];
}

function parseOption(spec: OptionSpec, raw: string | boolean): number | boolean {
  if (spec.kind === 'boolean') return raw === true;
  const v = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(v) || v < 0)
    throw new UsageError(`--${spec.flag} must be a non-negative number, not "${String(raw)}"`);
  if (spec.kind === 'int' && !Number.isInteger(v))
    throw new UsageError(`--${spec.flag} must be a whole number, not "${raw}"`);
  return v;
}

/** Wall milliseconds between two `--progress` lines. */
const PROGRESS_EVERY_MS = 10_000;

/**
 * A watcher that writes where a long run is to stderr, at most every 10 s of wall time:
 * virtual time, events, wall time and resident memory.
 */
function progressLines(clock: Clock): (sim: Simulator) => void {
  const started = clock.now();
  let last = started;
  return (sim) => {
    const now = clock.now();
    if (now - last < PROGRESS_EVERY_MS) return;
    last = now;
    const gib = (process.memoryUsage.rss() / 2 ** 30).toFixed(2);
    writeStderrNow(
      `sim: ${(sim.now / 1000).toFixed(1)} s virtual, ${sim.eventsRun} events, ` +
        `${((now - started) / 1000).toFixed(0)} s wall, RSS ${gib} GiB\n`,
    );
  };
}

function replayLine(scenario: string, argv: readonly string[]): string {
  return `shoal sim ${scenario} ${argv.join(' ')}`.trim();
}

/**
 * `shoal sim <scenario>`: runs a simulation scenario over the simulated network (never the
 * real one) and prints its figures, the trace digest, wall time and memory per simulated node;
 * `--check-determinism` runs it twice and compares digests; a failed run prints how to replay it.
 */
export async function simCommand(
  runtime: Runtime,
  scenario: string,
  flags: SimFlags,
): Promise<number> {
  const def = SCENARIOS.get(scenario);
  if (!def)
    throw new UsageError(
      `unknown scenario "${scenario}"; there are: ${[...SCENARIOS.keys()].join(', ')}`,
    );
  const seed = flags.seed === undefined ? 1 : Number(flags.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new UsageError(`--seed must be a whole number 0..4294967295, not "${flags.seed}"`);
  const options: Record<string, number | boolean> = { seed };
  const replay = [`--seed ${seed}`];
  const own = new Set(def.options.map((o) => o.flag));
  for (const { spec } of simScenarioFlags()) {
    const raw = flags[camel(spec.flag)];
    if (raw === undefined) continue;
    if (!own.has(spec.flag))
      throw new UsageError(`--${spec.flag} is not an option of the ${scenario} scenario`);
    options[spec.name] = parseOption(spec, raw);
    replay.push(raw === true ? `--${spec.flag}` : `--${spec.flag} ${raw}`);
  }
  let format: 'svg' | 'html' | undefined;
  if (flags.report !== undefined) {
    const ext = extname(flags.report).toLowerCase();
    if (ext !== '.svg' && ext !== '.html')
      throw new UsageError(`--report must name a .svg or .html file, not "${flags.report}"`);
    format = ext === '.svg' ? 'svg' : 'html';
  }

  let report: SimRunReport;
  let first: SimRunReport | undefined;
  if (flags.progress) watchProgress(progressLines(runtime.clock));
  try {
    if (flags.checkDeterminism) {
      const both = await runTwiceAndCompare(scenario, options);
      first = both.first;
      report = both.second;
    } else report = await runScenario(scenario, options);
  } catch (error) {
    process.stderr.write(
      `shoal: the ${scenario} scenario failed with seed ${seed}; replay: ${replayLine(scenario, replay)}\n`,
    );
    throw error;
  } finally {
    watchProgress(undefined);
  }
  if (format !== undefined && flags.report !== undefined)
    await runtime.fs.writeFileAtomic(flags.report, Buffer.from(renderReport(report, format)));

  if (flags.json) {
    const { figures, charts: _charts, summary: _summary, ...fixed } = report;
    process.stdout.write(
      `${JSON.stringify({ ...fixed, ...(first && { firstTraceDigest: first.traceDigest }), ...figures })}\n`,
    );
  } else {
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
    const lines = [
      `scenario ${scenario}, seed ${seed}`,
      ...report.summary.map((l) => `  ${l}`),
      `trace digest ${report.traceDigest}`,
      ...(first
        ? [
            report.deterministic
              ? 'determinism: two runs, same digest'
              : `determinism: DIFFERENT digests (first ${first.traceDigest})`,
          ]
        : []),
      `${report.events} events in ${report.wallSeconds} s (${report.eventsPerSecond} events/s); ` +
        `${(report.memoryPerNodeBytes / 1024).toFixed(1)} KiB per simulated node, peak RSS ${mib(report.peakRssBytes)}`,
      ...(flags.report ? [`report written to ${flags.report}`] : []),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  const problems = [...report.failures];
  if (report.deterministic === false)
    problems.push(
      `two runs gave different trace digests (${first?.traceDigest} vs ${report.traceDigest})`,
    );
  if (problems.length > 0) {
    process.stderr.write(
      `shoal: ${scenario} scenario FAILED: ${problems.join('; ')}\n` +
        `replay: ${replayLine(scenario, replay)}\n`,
    );
    return 1;
  }
  return 0;
}
