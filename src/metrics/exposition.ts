/**
 * What a metrics registry holds at one moment, and its two renderings: the Prometheus text
 * exposition format 0.0.4 (for `/metrics`) and a plain JSON-ready object (for `--json`
 * progress lines and the simulator's reports).
 */

/** The `Content-Type` a `/metrics` response carries. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Label values by label name, in the order they are exported. */
export type LabelValues = Readonly<Record<string, string>>;

/** One series of a counter or gauge. */
export interface ScalarSample {
  /** The metric's own labels (the registry's constant labels are in its {@link SeriesGroup}). */
  readonly labels: LabelValues;
  /** The own labels rendered (`a="x",b="y"`), once when the series is made. */
  readonly labelText: string;
  readonly value: number;
}

/** One series of a histogram. */
export interface HistogramSample {
  readonly labels: LabelValues;
  readonly labelText: string;
  /** Observations per bucket, not cumulative; the last entry is the `+Inf` bucket. */
  readonly counts: ArrayLike<number>;
  readonly sum: number;
  readonly count: number;
}

/** The series one registry holds for a metric, and that registry's constant labels. */
export interface SeriesGroup<S> {
  readonly constLabels: LabelValues;
  /** The constant labels rendered. */
  readonly constText: string;
  readonly samples: readonly S[];
}

/** One metric with the series a read found. */
export type CollectedFamily =
  | {
      readonly name: string;
      readonly help: string;
      readonly type: 'counter' | 'gauge';
      readonly groups: readonly SeriesGroup<ScalarSample>[];
    }
  | {
      readonly name: string;
      readonly help: string;
      readonly type: 'histogram';
      /** Upper bounds, increasing, without the implicit `+Inf`. */
      readonly buckets: readonly number[];
      readonly groups: readonly SeriesGroup<HistogramSample>[];
    };

/** A JSON-ready copy of a registry (no `+Inf`, no shared references). */
export interface MetricsSnapshot {
  readonly [name: string]: MetricSnapshot;
}

/** One metric in a {@link MetricsSnapshot}. */
export type MetricSnapshot =
  | {
      readonly type: 'counter' | 'gauge';
      readonly series: readonly { readonly labels: LabelValues; readonly value: number }[];
    }
  | {
      readonly type: 'histogram';
      readonly buckets: readonly number[];
      readonly series: readonly {
        readonly labels: LabelValues;
        /** Observations ≤ each bucket's bound (cumulative); `count` is the `+Inf` bucket. */
        readonly counts: readonly number[];
        readonly sum: number;
        readonly count: number;
      }[];
    };

/** A label value with `\`, `"` and line feeds escaped, as the text format requires. */
export function escapeLabelValue(value: string): string {
  return /[\\"\n]/.test(value)
    ? value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
    : value;
}

/** Help text with `\` and line feeds escaped. */
function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** `name="value"` pairs joined by commas, values escaped. */
export function renderLabels(labels: LabelValues): string {
  let text = '';
  for (const name in labels) {
    if (text.length > 0) text += ',';
    text += `${name}="${escapeLabelValue(labels[name]!)}"`;
  }
  return text;
}

/** A sample value as Go's parser reads it: `+Inf`, `-Inf`, `NaN` or a decimal. */
export function formatValue(value: number): string {
  if (Number.isFinite(value)) return String(value);
  if (Number.isNaN(value)) return 'NaN';
  return value > 0 ? '+Inf' : '-Inf';
}

/** `{a="x",b="y"}` from a group's constant labels and a series' own, or nothing. */
function braces(constText: string, labelText: string): string {
  if (constText.length === 0) return labelText.length === 0 ? '' : `{${labelText}}`;
  return labelText.length === 0 ? `{${constText}}` : `{${constText},${labelText}}`;
}

/**
 * Renders families in the Prometheus text exposition format 0.0.4: `# HELP` and `# TYPE` for
 * every family, then its series; histograms as cumulative `_bucket{le=…}` series ending in
 * `le="+Inf"`, then `_sum` and `_count`.
 */
export function formatPrometheus(families: Iterable<CollectedFamily>): string {
  const out: string[] = [];
  for (const family of families) {
    const { name } = family;
    out.push(`# HELP ${name} ${escapeHelp(family.help)}`, `# TYPE ${name} ${family.type}`);
    if (family.type !== 'histogram') {
      for (const g of family.groups)
        for (const s of g.samples)
          out.push(`${name}${braces(g.constText, s.labelText)} ${formatValue(s.value)}`);
      continue;
    }
    const bounds = family.buckets.map((b) => `le="${formatValue(b)}"`);
    bounds.push('le="+Inf"');
    for (const g of family.groups)
      for (const s of g.samples) {
        const labels = braces(g.constText, s.labelText);
        const prefix = labels.length === 0 ? '{' : `${labels.slice(0, -1)},`;
        let cumulative = 0;
        for (let i = 0; i < bounds.length; i++) {
          cumulative += s.counts[i]!;
          out.push(`${name}_bucket${prefix}${bounds[i]}} ${formatValue(cumulative)}`);
        }
        out.push(`${name}_sum${labels} ${formatValue(s.sum)}`);
        out.push(`${name}_count${labels} ${formatValue(s.count)}`);
      }
  }
  out.push('');
  return out.join('\n');
}

/**
 * Copies families into a {@link MetricsSnapshot}, leaving out the constant labels named in
 * `omit` (a child registry's own, which its reader knows already).
 */
export function toSnapshot(
  families: Iterable<CollectedFamily>,
  omit: ReadonlySet<string>,
): MetricsSnapshot {
  const labelsOf = (constLabels: LabelValues, own: LabelValues): LabelValues => {
    const labels: Record<string, string> = {};
    for (const name in constLabels) if (!omit.has(name)) labels[name] = constLabels[name]!;
    for (const name in own) labels[name] = own[name]!;
    return labels;
  };
  const out: Record<string, MetricSnapshot> = {};
  for (const family of families) {
    if (family.type !== 'histogram') {
      out[family.name] = {
        type: family.type,
        series: family.groups.flatMap((g) =>
          g.samples.map((s) => ({ labels: labelsOf(g.constLabels, s.labels), value: s.value })),
        ),
      };
      continue;
    }
    const buckets = family.buckets;
    out[family.name] = {
      type: 'histogram',
      buckets: [...buckets],
      series: family.groups.flatMap((g) =>
        g.samples.map((s) => {
          const counts: number[] = [];
          let cumulative = 0;
          for (let i = 0; i < buckets.length; i++) {
            cumulative += s.counts[i]!;
            counts.push(cumulative);
          }
          const labels = labelsOf(g.constLabels, s.labels);
          return { labels, counts, sum: s.sum, count: s.count };
        }),
      ),
    };
  }
  return out;
}
