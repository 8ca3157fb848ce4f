import { MetricsError } from './errors.js';
import {
  type CollectedFamily,
  escapeLabelValue,
  formatPrometheus,
  type HistogramSample,
  type LabelValues,
  type MetricsSnapshot,
  renderLabels,
  type ScalarSample,
  type SeriesGroup,
  toSnapshot,
} from './exposition.js';
import {
  type Binding,
  type CollectedMetric,
  type Collector,
  Computed,
  Counter,
  type Family,
  Gauge,
  Histogram,
  type SeriesOwner,
  toWellFormed,
} from './metric.js';
import { assertLabelNames, assertMetricName, type MetricType } from './names.js';
import type { AnySeries } from './series.js';

export type { CollectedMetric, Collector, Counter, Gauge, Histogram, Labels } from './metric.js';
export type { CounterSeries, GaugeSeries, HistogramSeries } from './series.js';
export { exponentialBuckets, linearBuckets } from './series.js';

/** What every metric is declared with. */
export interface MetricOptions<L extends string> {
  /** Prometheus conventions apply (docs/METRICS.md); checked when first declared. */
  readonly name: string;
  /** One sentence for `# HELP`. */
  readonly help: string;
  readonly labelNames?: readonly L[];
  /**
   * Most series this metric may have in one registry (a child registry counts its own); a
   * new label set beyond it is not recorded and counts in `shoal_metrics_series_dropped_total`.
   */
  readonly maxSeries?: number;
}

/** A histogram's options: its bucket upper bounds, increasing (`+Inf` is implied). */
export interface HistogramOptions<L extends string> extends MetricOptions<L> {
  readonly buckets: readonly number[];
}

/** Options of a counter or gauge whose value a {@link Collector} computes when read. */
export interface CollectedOptions<L extends string> extends MetricOptions<L> {
  readonly collect: Collector<L>;
}

/** Options of a registry. */
export interface MetricsRegistryOptions {
  /** Default of {@link MetricOptions.maxSeries}; 1000 unless given. */
  readonly maxSeries?: number;
}

/**
 * One set of metrics, shared by everything a node runs. Engines declare what they count in
 * their constructor (declaring a metric again with the same definition returns the same
 * handle) and keep the handles; `/metrics`, `--json` progress lines and simulator reports read
 * the registry.
 */
export interface MetricsRegistry {
  /** The constant labels every series of this registry carries (none for the root). */
  readonly constLabels: LabelValues;
  counter<const L extends string = never>(options: CollectedOptions<L>): CollectedMetric;
  counter<const L extends string = never>(options: MetricOptions<L>): Counter<L>;
  gauge<const L extends string = never>(options: CollectedOptions<L>): CollectedMetric;
  gauge<const L extends string = never>(options: MetricOptions<L>): Gauge<L>;
  histogram<const L extends string = never>(options: HistogramOptions<L>): Histogram<L>;
  /**
   * A registry whose series all carry `constLabels` (e.g. `{ torrent: infoHash }`) besides
   * their own; its metrics are the parent's families, exported once. Dispose of it when its
   * subject goes away: its series leave the registry.
   * @throws {MetricsError} `METRICS_SCOPE_INVALID` when a live registry has the same labels
   */
  child(constLabels: Readonly<Record<string, string>>): MetricsRegistry;
  /** Removes every series this registry and its children declared; idempotent. */
  dispose(): void;
  /** Everything this registry (and its children) holds, in the Prometheus text format. */
  exposition(): string;
  /** A JSON-ready copy, without this registry's constant labels; `select` filters by name. */
  snapshot(select?: (name: string) => boolean): MetricsSnapshot;
  /** The families with their current series, computed metrics evaluated. */
  collect(select?: (name: string) => boolean): CollectedFamily[];
}

/** Creates a root registry. */
export function createMetricsRegistry(options: MetricsRegistryOptions = {}): MetricsRegistry {
  const maxSeries = options.maxSeries ?? 1000;
  assertMaxSeries('registry', maxSeries);
  return new Scope(new Shared(maxSeries), undefined, {});
}

/** State shared by a root registry and all its children. */
class Shared {
  readonly families = new Map<string, Family>();
  /** Constant label sets of live registries, so two never export the same series. */
  readonly liveScopes = new Set<string>();
  dropped: Counter<'metric'> | undefined;
  collectErrors: Counter<'metric'> | undefined;

  constructor(readonly maxSeries: number) {}
}

type AnyBinding = Binding<AnySeries> | Computed;

type DeclareOptions = MetricOptions<string> & {
  readonly collect?: Collector<string>;
  readonly buckets?: readonly number[];
};

class Scope implements MetricsRegistry, SeriesOwner {
  private children: Set<Scope> | undefined;
  private readonly bindings = new Map<string, AnyBinding>();
  private readonly scopeKey: string;
  /** The constant labels rendered, for the groups a read returns. */
  readonly constText: string;
  private disposed = false;

  constructor(
    private readonly shared: Shared,
    private readonly parent: Scope | undefined,
    readonly constLabels: LabelValues,
  ) {
    this.constText = renderLabels(constLabels);
    this.scopeKey = Object.keys(constLabels)
      .sort()
      .map((k) => `${k}=${escapeLabelValue(constLabels[k]!)}`)
      .join('\n');
    if (parent !== undefined) return;
    // Reserves the empty label set: a child without constant labels would repeat our series.
    shared.liveScopes.add(this.scopeKey);
    shared.dropped = this.counter({
      name: 'shoal_metrics_series_dropped_total',
      help: 'New label sets not recorded because their metric had reached its series limit.',
      labelNames: ['metric'],
    });
    shared.collectErrors = this.counter({
      name: 'shoal_metrics_collect_errors_total',
      help: 'Computed metrics whose collector threw or returned something malformed.',
      labelNames: ['metric'],
    });
  }

  counter<const L extends string = never>(options: CollectedOptions<L>): CollectedMetric;
  counter<const L extends string = never>(options: MetricOptions<L>): Counter<L>;
  counter<L extends string>(options: DeclareOptions): Counter<L> | CollectedMetric {
    return this.declare('counter', options, (f, max) => new Counter<L>(f, this, max));
  }

  gauge<const L extends string = never>(options: CollectedOptions<L>): CollectedMetric;
  gauge<const L extends string = never>(options: MetricOptions<L>): Gauge<L>;
  gauge<L extends string>(options: DeclareOptions): Gauge<L> | CollectedMetric {
    return this.declare('gauge', options, (f, max) => new Gauge<L>(f, this, max));
  }

  histogram<const L extends string = never>(options: HistogramOptions<L>): Histogram<L> {
    assertBuckets(options.name, options.buckets);
    const made = this.declare('histogram', options, (f, max) => new Histogram<L>(f, this, max));
    return made as Histogram<L>;
  }

  child(constLabels: Readonly<Record<string, string>>): MetricsRegistry {
    this.assertLive();
    const merged: Record<string, string> = { ...this.constLabels };
    for (const [name, value] of Object.entries(constLabels)) {
      if (name in merged)
        throw new MetricsError('METRICS_SCOPE_INVALID', `constant label '${name}' is set already`);
      if (typeof value !== 'string')
        throw new MetricsError('METRIC_LABELS_INVALID', `constant label '${name}' is not a string`);
      merged[name] = toWellFormed(value);
    }
    assertLabelNames('child registry', Object.keys(merged));
    const scope = new Scope(this.shared, this, merged);
    if (this.shared.liveScopes.has(scope.scopeKey))
      throw new MetricsError(
        'METRICS_SCOPE_INVALID',
        `a child registry with labels ${scope.constText} is live already; dispose of it first`,
      );
    this.shared.liveScopes.add(scope.scopeKey);
    this.children ??= new Set();
    this.children.add(scope);
    return scope;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.children !== undefined) for (const child of this.children) child.dispose();
    for (const binding of this.bindings.values()) binding.family.bindings.delete(binding);
    this.bindings.clear();
    if (this.parent === undefined) return;
    this.parent.children?.delete(this);
    this.shared.liveScopes.delete(this.scopeKey);
  }

  exposition(): string {
    return formatPrometheus(this.collect());
  }

  snapshot(select?: (name: string) => boolean): MetricsSnapshot {
    return toSnapshot(this.collect(select), new Set(Object.keys(this.constLabels)));
  }

  collect(select?: (name: string) => boolean): CollectedFamily[] {
    const out: CollectedFamily[] = [];
    const root = this.parent === undefined;
    const subtree = root ? [] : this.subtree();
    for (const family of this.shared.families.values()) {
      if (select !== undefined && !select(family.name)) continue;
      const bindings = root
        ? [...family.bindings]
        : subtree.flatMap((scope) => scope.bindings.get(family.name) ?? []);
      if (bindings.length === 0 && !root) continue;
      const { name, help } = family;
      if (family.type === 'histogram') {
        const groups = bindings.map((b) =>
          group<HistogramSample>(b.owner as Scope, (b as Histogram<string>).histogramSamples()),
        );
        out.push({ name, help, type: 'histogram', buckets: family.buckets!, groups });
      } else {
        const groups = bindings.map((b) => group(b.owner as Scope, scalarSamples(b)));
        out.push({ name, help, type: family.type, groups });
      }
    }
    return out;
  }

  countDropped(metric: string): void {
    this.shared.dropped?.labels({ metric }).inc();
  }

  countCollectError(metric: string): void {
    this.shared.collectErrors?.labels({ metric }).inc();
  }

  /** This registry and its descendants. */
  private subtree(): Scope[] {
    const out: Scope[] = [this];
    for (let i = 0; i < out.length; i++) out.push(...(out[i]!.children ?? []));
    return out;
  }

  private declare<B extends Binding<AnySeries>>(
    type: MetricType,
    options: DeclareOptions,
    bind: (family: Family, maxSeries: number) => B,
  ): B | CollectedMetric {
    this.assertLive();
    const family = this.family(type, options);
    const known = this.bindings.get(family.name);
    if (known instanceof Computed) return known.add(options.collect!);
    if (known !== undefined) return known as B;
    const maxSeries = options.maxSeries ?? this.shared.maxSeries;
    assertMaxSeries(family.name, maxSeries);
    const binding: B | Computed =
      options.collect === undefined
        ? bind(family, maxSeries)
        : new Computed(family, this, maxSeries);
    family.bindings.add(binding);
    this.bindings.set(family.name, binding);
    return binding instanceof Computed ? binding.add(options.collect!) : binding;
  }

  /** The family of `options.name`, made on first declaration, compared on every other. */
  private family(type: MetricType, options: DeclareOptions): Family {
    const { name } = options;
    const constNames = Object.keys(this.constLabels);
    const labelNames = [...(options.labelNames ?? [])];
    const computed = options.collect !== undefined;
    const known = this.shared.families.get(name);
    if (known === undefined) {
      assertMetricName(name, type);
      assertLabelNames(name, [...constNames, ...labelNames]);
      if (typeof options.help !== 'string' || options.help.trim().length === 0)
        throw new MetricsError('METRIC_NAME_INVALID', `metric '${name}' needs help text`);
      const buckets = options.buckets ? [...options.buckets] : undefined;
      const { help } = options;
      const made: Family = {
        ...{ name, help, type, constNames, labelNames, buckets, computed },
        bindings: new Set(),
      };
      this.shared.families.set(name, made);
      return made;
    }
    const differs = (what: string, mine: unknown, theirs: unknown) => {
      if (!sameDeclaration(mine, theirs))
        throw new MetricsError(
          'METRIC_CONFLICT',
          `metric '${name}' declared differently: ${what} ${JSON.stringify(mine)} here, ${JSON.stringify(theirs)} before`,
        );
    };
    differs('type', type, known.type);
    differs('help', options.help, known.help);
    differs('constant labels', constNames, known.constNames);
    differs('labels', labelNames, known.labelNames);
    differs('buckets', options.buckets, known.buckets);
    differs('computed', computed, known.computed);
    return known;
  }

  private assertLive(): void {
    if (this.disposed)
      throw new MetricsError(
        'METRICS_SCOPE_INVALID',
        `the registry ${this.constText} was disposed of; make a new child`,
      );
  }
}

/**
 * Whether two parts of a metric's declaration are equal: each torrent of 10,000 declares its
 * families again, so plain values and arrays of them are compared without serialising.
 */
function sameDeclaration(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const sameItems =
    Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => x === b[i]);
  return sameItems || JSON.stringify(a) === JSON.stringify(b);
}

function group<S>(owner: Scope, samples: S[]): SeriesGroup<S> {
  return { constLabels: owner.constLabels, constText: owner.constText, samples };
}

function scalarSamples(binding: AnyBinding): ScalarSample[] {
  if (binding instanceof Computed) return binding.samples();
  return (binding as Counter<string> | Gauge<string>).samples((s, labels, labelText) => ({
    labels,
    labelText,
    value: s.value,
  }));
}

function assertBuckets(name: string, buckets: readonly number[]): void {
  if (!Array.isArray(buckets))
    throw badValue(`histogram '${name}' needs buckets (an array of upper bounds)`);
  buckets.forEach((b, i) => {
    if (typeof b !== 'number' || !Number.isFinite(b))
      throw badValue(`bucket ${i} of '${name}' is ${b}: bounds are finite (+Inf is implied)`);
    if (i > 0 && !(b > buckets[i - 1]!))
      throw badValue(`buckets of '${name}' must increase (${buckets[i - 1]} then ${b})`);
  });
}

function assertMaxSeries(what: string, maxSeries: number): void {
  if (!Number.isInteger(maxSeries) || maxSeries < 1)
    throw badValue(`maxSeries of ${what} must be a positive integer, got ${maxSeries}`);
}

function badValue(message: string): MetricsError {
  return new MetricsError('METRIC_VALUE_INVALID', message);
}
