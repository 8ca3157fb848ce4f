import { LogError } from './errors.js';

/** Log levels, most severe first. */
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug', 'trace'] as const;

/** How much a record matters; a logger at one level also writes the more severe ones. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A level a component is set to: a {@link LogLevel}, or `off` to write nothing. */
export type LogThreshold = LogLevel | 'off';

/** One `pattern=level` entry of a spec. */
export interface LogRule {
  /** A component (`swarm` selects `swarm` and `swarm:…`) or a glob (`dht:*`, `*:rpc`). */
  readonly pattern: string;
  readonly level: LogThreshold;
}

/** Which level each component logs at: parsed from `SHOAL_LOG` or `--log-level`. */
export interface LogSpec {
  /** The level of components no rule selects. */
  readonly defaultLevel: LogThreshold;
  readonly rules: readonly LogRule[];
}

/** Letters of a component name segment (a component is segments joined by `:`). */
const SEGMENT = /^[a-z0-9][a-z0-9_.-]*$/;
const PATTERN_SEGMENT = /^[a-z0-9_.*-]+$/;
const MAX_SPEC_LENGTH = 4096;
const MAX_RULES = 256;
const THRESHOLDS: ReadonlySet<string> = new Set([...LOG_LEVELS, 'off']);

/** Whether `component` is a valid component name (`dht`, `dht:lookup`, `swarm:peer-set`). */
export function isComponentName(component: string): boolean {
  return component.length <= 200 && component.split(':').every((s) => SEGMENT.test(s));
}

/**
 * Parses a spec such as `info,dht:*=debug,swarm=warn`: comma-separated entries, each a level
 * (the default for components no rule selects; the last one wins) or `pattern=level`. Levels
 * are `error`, `warn`, `info`, `debug`, `trace` and `off`; case and spaces around entries do
 * not matter; empty entries are skipped. The default level is `info` unless the spec sets one.
 * @throws {LogError} `LOG_SPEC_INVALID` naming the entry at fault and what to write instead
 */
export function parseLogSpec(text: string): LogSpec {
  if (text.length > MAX_SPEC_LENGTH)
    throw specError(`it is ${text.length} characters long; at most ${MAX_SPEC_LENGTH} are read`);
  let defaultLevel: LogThreshold = 'info';
  const rules: LogRule[] = [];
  const entries = text.toLowerCase().split(',');
  entries.forEach((raw, i) => {
    const entry = raw.trim();
    if (entry.length === 0) return;
    const where = `entry ${i + 1} ('${entry}')`;
    const parts = entry.split('=');
    if (parts.length > 2) throw specError(`${where} has more than one '='`);
    if (parts.length === 1) {
      if (!THRESHOLDS.has(entry))
        throw specError(
          `${where} is not a level (${levelList()})${isPattern(entry) ? `; to select a component write ${entry}=debug` : ''}`,
        );
      defaultLevel = entry as LogThreshold;
      return;
    }
    const pattern = parts[0]!.trim();
    const level = parts[1]!.trim();
    if (!isPattern(pattern))
      throw specError(
        `${where}: '${pattern}' is no component pattern (segments of a-z 0-9 _ . - and *, joined by ':')`,
      );
    if (!THRESHOLDS.has(level))
      throw specError(`${where}: '${level}' is not a level (${levelList()})`);
    if (rules.length === MAX_RULES) throw specError(`more than ${MAX_RULES} rules`);
    rules.push({ pattern, level: level as LogThreshold });
  });
  return { defaultLevel, rules };
}

/** Writes a spec back in the syntax {@link parseLogSpec} reads. */
export function formatLogSpec(spec: LogSpec): string {
  return [spec.defaultLevel, ...spec.rules.map((r) => `${r.pattern}=${r.level}`)].join(',');
}

/**
 * The level of `component` under `spec`: the rule with the most literal characters that
 * selects it wins (the later one on a tie), else the default.
 */
export function levelFor(spec: LogSpec, component: string): LogThreshold {
  let best: LogRule | undefined;
  let bestWeight = -1;
  for (const rule of spec.rules) {
    if (!selects(rule.pattern, component)) continue;
    const weight = rule.pattern.replaceAll('*', '').length;
    if (weight >= bestWeight) {
      best = rule;
      bestWeight = weight;
    }
  }
  return best?.level ?? spec.defaultLevel;
}

/** A glob (`*` is any run of characters, `:` included) matches whole; a plain name also selects its sub-components. */
function selects(pattern: string, component: string): boolean {
  if (!pattern.includes('*')) return component === pattern || component.startsWith(`${pattern}:`);
  const parts = pattern.split('*');
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (component.length < first.length + last.length) return false;
  if (!component.startsWith(first) || !component.endsWith(last)) return false;
  let at = first.length;
  const end = component.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const found = component.indexOf(parts[i]!, at);
    if (found < 0 || found + parts[i]!.length > end) return false;
    at = found + parts[i]!.length;
  }
  return true;
}

function isPattern(text: string): boolean {
  return text.length > 0 && text.split(':').every((s) => PATTERN_SEGMENT.test(s));
}

function levelList(): string {
  return `use ${LOG_LEVELS.join(', ')} or off`;
}

function specError(message: string): LogError {
  return new LogError('LOG_SPEC_INVALID', `log spec: ${message}`);
}
