import { MetricsError } from './errors.js';

/** The metric types shoal exports (Prometheus names them the same). */
export type MetricType = 'counter' | 'gauge' | 'histogram';

/** Lower-case words joined by single underscores: `shoal_peer_bytes_total`. */
const SNAKE_CASE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
const MAX_NAME_LENGTH = 200;

/** Words that name a type: the type is in `# TYPE` already. */
const TYPE_WORDS = new Set(['counter', 'gauge', 'histogram', 'summary']);
/** Abbreviated units Prometheus tooling warns about; spell the base unit out. */
const ABBREVIATED_UNITS = new Set([
  's',
  'ms',
  'us',
  'ns',
  'sec',
  'secs',
  'b',
  'kb',
  'mb',
  'gb',
  'tb',
  'pb',
  'm',
  'h',
  'd',
]);
/** Suffixes the exposition format gives to a histogram's own series. */
const RESERVED_SUFFIXES = new Set(['bucket', 'count', 'sum']);
/** Base units; when a name has one it comes last (before `_total` in a counter). */
const BASE_UNITS = new Set(['seconds', 'bytes', 'ratio']);
const SI_PREFIXES = [
  'pico',
  'nano',
  'micro',
  'milli',
  'centi',
  'deci',
  'kilo',
  'kibi',
  'mega',
  'mebi',
  'giga',
  'gibi',
  'tera',
  'tebi',
];
/** Units that have a base unit to use instead, with that base unit. */
const NON_BASE_UNITS = new Map<string, string>([
  ['minutes', 'seconds'],
  ['hours', 'seconds'],
  ['days', 'seconds'],
  ['weeks', 'seconds'],
  ['bits', 'bytes'],
  ['percent', 'ratio'],
  ...SI_PREFIXES.flatMap((p): [string, string][] => [
    [`${p}seconds`, 'seconds'],
    [`${p}bytes`, 'bytes'],
  ]),
]);

/** Label names the exposition format reserves (histogram bounds, summary quantiles). */
const RESERVED_LABELS = new Set(['le', 'quantile']);

/**
 * Checks a metric name against Prometheus' conventions (what `promtool check metrics` lints,
 * and a little more): snake case, `_total` on counters and only on counters, base units
 * spelled out and last, no type words or reserved suffixes.
 * @throws {MetricsError} `METRIC_NAME_INVALID`, saying which rule and what to write instead
 */
export function assertMetricName(name: string, type: MetricType): void {
  const fail = (why: string): never => {
    throw new MetricsError('METRIC_NAME_INVALID', `metric name '${name}': ${why}`);
  };
  if (name.length > MAX_NAME_LENGTH) fail(`longer than ${MAX_NAME_LENGTH} characters`);
  if (!SNAKE_CASE.test(name))
    fail('use lower-case words of a-z and 0-9 joined by single underscores');
  const words = name.split('_');
  const last = words[words.length - 1]!;
  if (type === 'counter' && last !== 'total') fail("a counter's name ends in _total");
  if (type !== 'counter' && last === 'total') fail(`only counters end in _total, not a ${type}`);
  if (RESERVED_SUFFIXES.has(last)) fail(`_${last} is reserved for the series of histograms`);
  const unitAt = type === 'counter' ? words.length - 2 : words.length - 1;
  words.forEach((word, i) => {
    if (TYPE_WORDS.has(word)) fail(`leave the type ('${word}') out of the name`);
    if (ABBREVIATED_UNITS.has(word)) fail(`spell the unit out ('${word}' is abbreviated)`);
    const base = NON_BASE_UNITS.get(word);
    if (base !== undefined) fail(`use the base unit ${base}, not ${word}`);
    if (BASE_UNITS.has(word) && i !== unitAt)
      fail(`the unit (${word}) comes last${type === 'counter' ? ', before _total' : ''}`);
  });
}

/**
 * Checks label names: snake case, not reserved, no duplicates among `names` (which include
 * the constant labels of a child registry).
 * @throws {MetricsError} `METRIC_NAME_INVALID`
 */
export function assertLabelNames(metric: string, names: readonly string[]): void {
  const seen = new Set<string>();
  for (const label of names) {
    const fail = (why: string): never => {
      throw new MetricsError('METRIC_NAME_INVALID', `label '${label}' of '${metric}': ${why}`);
    };
    if (label.length > MAX_NAME_LENGTH) fail(`longer than ${MAX_NAME_LENGTH} characters`);
    if (!SNAKE_CASE.test(label))
      fail('use lower-case words of a-z and 0-9 joined by single underscores');
    if (RESERVED_LABELS.has(label)) fail('reserved by the exposition format');
    if (seen.has(label)) fail('given twice');
    seen.add(label);
  }
}
