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
  toSnapshot,
} from './exposition.js';
import { assertLabelNames, assertMetricName, type MetricType } from './names.js';

/** Label values of one series by label name; `L` is the union of a metric's label names. */
export type Labels<L extends string> = { readonly [K in L]: string };

/** What every metric is declared with. */
export interface MetricOptions<L extends string> {
  /** Prometheus conventions apply (docs/METRICS.md); checked when declared. */
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

/**
 * Computes a metric's value when it is read (scraped or snapshotted), so an expensive value
 * costs nothing until someone looks: one number for a metric without labels, else the value
 * of each label set (a label set given twice keeps its last value).
 */
export type Collector<L extends string> = () => number | readonly (readonly [Labels<L>, number])[];

/** Options of a counter or gauge whose value a {@link Collector} computes. */
export interface CollectedOptions<L extends string> extends MetricOptions<L> {
  readonly collect: Collector<L>;
}

/** The handle of a computed metric; it stays registered until its registry is disposed. */
export interface CollectedMetric {
  readonly name: string;
}

/** Options of a registry. */
export interface MetricsRegistryOptions {
  /** Default of {@link MetricOptions.maxSeries}; 1000 unless given. */
  readonly maxSeries?: number;
}

/**
 * One set of metrics, shared by everything a node runs. Engines declare what they count in
 * their constructor (declaring the same metric again with the same definition returns the same
 * handle) and keep the handles; `/metrics`, `--json` progress lines and simulator reports read
 * the registry.
 */
export interface MetricsRegistry {
  /** The constant labels every series of this registry carries (empty for the root). */
  readonly constLabels: LabelValues;
  counter<const L extends string = never>(options: CollectedOptions<L>): CollectedMetric;
  counter<const L extends string = never>(options: MetricOptions<L>): Counter<L>;
  gauge<const L extends string = never>(options: CollectedOptions<L>): CollectedMetric;
  gauge<const L extends string = never>(options: MetricOptions<L>): Gauge<L>;
  histogram<const L extends string = never>(options: HistogramOptions<L>): Histogram<L>;
  /**
   * A registry whose series all carry `constLabels` (e.g. `{ torrent: infoHash }`) besides
   * their own; its metrics are the parent's families, so they are exported once. Dispose of it
   * when its subject goes away: its series leave the registry.
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

/** A counter series: it only goes up. */
export class CounterSeries implements ScalarSample {
  value = 0;
  constructor(
    readonly labels: LabelValues,
    readonly labelText: string,
  ) {}

  /** Adds `n` (default 1). @throws {MetricsError} `METRIC_VALUE_INVALID` when `n` < 0 or NaN */
  inc(n = 1): void {
    if (!(n >= 0)) throw badValue(`a counter cannot go down (inc(${n}))`);
    this.value += n;
  }
}

/** A gauge series: a value that goes up and down. */
export class GaugeSeries implements ScalarSample {
  value = 0;
  constructor(
    readonly labels: LabelValues,
    readonly labelText: string,
  ) {}

  set(value: number): void {
    this.value = value;
  }

  inc(n = 1): void {
    this.value += n;
  }

  dec(n = 1): void {
    this.value -= n;
  }
}

/** A histogram series: counts of observations per bucket, their sum and count. */
export class HistogramSeries implements HistogramSample {
  /** Per bucket, not cumulative; the last one is `+Inf`. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    private readonly bounds: readonly number[],
    readonly labels: LabelValues,
    readonly labelText: string,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    // NaN passes every `!(value <= bound)` test and lands in +Inf, as Prometheus clients do.
    while (i < bounds.length && !(value <= bounds[i]!)) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

type AnySeries = CounterSeries | GaugeSeries | HistogramSeries;

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  /** Constant label names first (from the declaring registry), then the metric's own. */
  readonly constNames: readonly string[];
  readonly labelNames: readonly string[];
  readonly buckets: readonly number[] | undefined;
  readonly computed: boolean;
  readonly bindings: Set<Binding<AnySeries> | Computed>;
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

/**
 * Series by label values, one map level per label: a lookup hashes the (usually interned)
 * value strings themselves instead of building a key string per call.
 */
type SeriesIndex = Map<string, unknown>;

/** The series of one metric in one registry, by label set. */
abstract class Binding<S extends AnySeries> {
  private readonly index: SeriesIndex = new Map();
  /** Every series, in the order made. */
  private readonly all = new Set<S>();
  /** The one series of a metric without labels. */
  private readonly only: S | undefined;
  private overflow: S | undefined;
  private readonly names: readonly string[];
  private readonly prefix: string;

  constructor(
    readonly family: Family,
    readonly scope: Scope,
    private readonly maxSeries: number,
  ) {
    this.names = family.labelNames;
    this.prefix = renderLabels(scope.constLabels);
    if (this.names.length === 0) {
      this.only = this.make(scope.constLabels, this.prefix);
      this.all.add(this.only);
    }
  }

  protected abstract make(labels: LabelValues, labelText: string): S;

  /** The series of one label set, made on first use; keep it where a count is hot. */
  labels(values: Readonly<Record<string, string>>): S {
    return this.find(values) ?? this.create(values);
  }

  /** The current series, for readers. */
  samples(): Iterable<S> {
    return this.all;
  }

  /** Forgets one label set's series (e.g. a tracker URL no longer used). */
  remove(values: Readonly<Record<string, string>>): void {
    const clean = wellFormed(this.checked(values));
    const found = this.find(clean);
    if (found === undefined || found === this.only) return;
    this.all.delete(found);
    // Delete the leaf, then every map on its path left empty.
    const path: SeriesIndex[] = [this.index];
    for (let i = 0; i < this.names.length - 1; i++)
      path.push(path[i]!.get(clean[this.names[i]!]!) as SeriesIndex);
    for (let i = this.names.length - 1; i >= 0; i--) {
      path[i]!.delete(clean[this.names[i]!]!);
      if (path[i]!.size > 0) break;
    }
  }

  protected value(values: Readonly<Record<string, string>> | undefined): S | undefined {
    return this.find(wellFormed(this.checked(values ?? {})));
  }

  private find(values: Readonly<Record<string, string>>): S | undefined {
    const names = this.names;
    const last = names.length - 1;
    if (last < 0) return this.only;
    let node = this.index;
    for (let i = 0; i < last; i++) {
      const next = node.get(values[names[i]!]!) as SeriesIndex | undefined;
      if (next === undefined) return undefined;
      node = next;
    }
    return node.get(values[names[last]!]!) as S | undefined;
  }

  private create(raw: Readonly<Record<string, string>>): S {
    const values = wellFormed(this.checked(raw));
    const known = this.find(values);
    if (known !== undefined) return known;
    if (this.all.size >= this.maxSeries) {
      this.scope.shared.dropped?.labels({ metric: this.family.name }).inc();
      this.overflow ??= this.make({}, '');
      return this.overflow;
    }
    const own: Record<string, string> = {};
    for (const name of this.names) own[name] = values[name]!;
    const text = renderLabels(own);
    const made = this.make(
      { ...this.scope.constLabels, ...own },
      this.prefix.length === 0 || text.length === 0 ? this.prefix + text : `${this.prefix},${text}`,
    );
    let node = this.index;
    const last = this.names.length - 1;
    for (let i = 0; i < last; i++) {
      const value = own[this.names[i]!]!;
      let next = node.get(value) as SeriesIndex | undefined;
      if (next === undefined) {
        next = new Map();
        node.set(value, next);
      }
      node = next;
    }
    node.set(own[this.names[last]!]!, made);
    this.all.add(made);
    return made;
  }

  private checked(values: Readonly<Record<string, unknown>>): Readonly<Record<string, string>> {
    const keys = Object.keys(values);
    const ok =
      keys.length === this.names.length && this.names.every((n) => typeof values[n] === 'string');
    if (!ok)
      throw new MetricsError(
        'METRIC_LABELS_INVALID',
        `${this.family.name} takes labels (${this.names.join(', ')}) as strings, got (${keys.join(', ')})`,
      );
    return values as Readonly<Record<string, string>>;
  }
}

/** A counter: labelled series that only go up. */
export class Counter<L extends string> extends Binding<CounterSeries> {
  protected make(labels: LabelValues, labelText: string): CounterSeries {
    return new CounterSeries(labels, labelText);
  }

  /** The series of one label set; its `inc()` is one addition. */
  override labels(values: Labels<L>): CounterSeries {
    return super.labels(values);
  }

  /** Adds `n` (default 1) to the series without labels, or to the one of `labels`. */
  inc(n?: number): void;
  inc(labels: Labels<L>, n?: number): void;
  inc(a?: Labels<L> | number, n = 1): void {
    if (a === undefined || typeof a === 'number') this.labels({} as Labels<L>).inc(a ?? 1);
    else this.labels(a).inc(n);
  }

  /** The value of a label set; 0 when it has none yet. */
  get(labels?: Labels<L>): number {
    return this.value(labels)?.value ?? 0;
  }
}

/** A gauge: labelled series that go up and down. */
export class Gauge<L extends string> extends Binding<GaugeSeries> {
  protected make(labels: LabelValues, labelText: string): GaugeSeries {
    return new GaugeSeries(labels, labelText);
  }

  override labels(values: Labels<L>): GaugeSeries {
    return super.labels(values);
  }

  set(value: number): void;
  set(labels: Labels<L>, value: number): void;
  set(a: Labels<L> | number, value?: number): void {
    if (typeof a === 'number') this.labels({} as Labels<L>).set(a);
    else this.labels(a).set(value ?? 0);
  }

  inc(n?: number): void;
  inc(labels: Labels<L>, n?: number): void;
  inc(a?: Labels<L> | number, n = 1): void {
    if (a === undefined || typeof a === 'number') this.labels({} as Labels<L>).inc(a ?? 1);
    else this.labels(a).inc(n);
  }

  dec(n?: number): void;
  dec(labels: Labels<L>, n?: number): void;
  dec(a?: Labels<L> | number, n = 1): void {
    if (a === undefined || typeof a === 'number') this.labels({} as Labels<L>).dec(a ?? 1);
    else this.labels(a).dec(n);
  }

  /** The value of a label set; 0 when it has none yet. */
  get(labels?: Labels<L>): number {
    return this.value(labels)?.value ?? 0;
  }
}

/** A histogram: observations counted into fixed buckets. */
export class Histogram<L extends string> extends Binding<HistogramSeries> {
  protected make(labels: LabelValues, labelText: string): HistogramSeries {
    return new HistogramSeries(this.family.buckets!, labels, labelText);
  }

  override labels(values: Labels<L>): HistogramSeries {
    return super.labels(values);
  }

  observe(value: number): void;
  observe(labels: Labels<L>, value: number): void;
  observe(a: Labels<L> | number, value?: number): void {
    if (typeof a === 'number') this.labels({} as Labels<L>).observe(a);
    else this.labels(a).observe(value ?? Number.NaN);
  }
}

/** A computed metric in one registry. */
class Computed implements CollectedMetric {
  constructor(
    readonly family: Family,
    readonly scope: Scope,
    private readonly maxSeries: number,
    private readonly collector: Collector<string>,
  ) {}

  get name(): string {
    return this.family.name;
  }

  /** Runs the collector; a failure or a malformed answer is counted, never thrown. */
  samples(): ScalarSample[] {
    const { family, scope } = this;
    const failed = () => scope.shared.collectErrors?.labels({ metric: family.name }).inc();
    let result: ReturnType<Collector<string>>;
    try {
      result = this.collector();
    } catch {
      failed();
      return [];
    }
    const prefix = renderLabels(scope.constLabels);
    if (typeof result === 'number') {
      if (family.labelNames.length > 0) {
        failed();
        return [];
      }
      return [{ labels: scope.constLabels, labelText: prefix, value: result }];
    }
    if (!Array.isArray(result)) {
      failed();
      return [];
    }
    const byKey = new Map<string, ScalarSample>();
    for (const entry of result as unknown[]) {
      const sample = this.sample(entry, prefix);
      if (sample === undefined) failed();
      else if (byKey.size < this.maxSeries || byKey.has(sample.key)) byKey.set(sample.key, sample);
      else scope.shared.dropped?.labels({ metric: family.name }).inc();
    }
    return [...byKey.values()];
  }

  private sample(entry: unknown, prefix: string): (ScalarSample & { key: string }) | undefined {
    if (!Array.isArray(entry) || entry.length !== 2) return undefined;
    const [raw, value] = entry as [unknown, unknown];
    if (typeof value !== 'number' || typeof raw !== 'object' || raw === null) return undefined;
    const names = this.family.labelNames;
    const given = raw as Record<string, unknown>;
    if (Object.keys(given).length !== names.length) return undefined;
    if (!names.every((n) => typeof given[n] === 'string')) return undefined;
    const own: Record<string, string> = {};
    for (const n of names) own[n] = toWellFormed(given[n] as string);
    const text = renderLabels(own);
    const labelText =
      prefix.length === 0 || text.length === 0 ? prefix + text : `${prefix},${text}`;
    return {
      key: labelText,
      labels: { ...this.scope.constLabels, ...own },
      labelText,
      value,
    };
  }
}

class Scope implements MetricsRegistry {
  private readonly children = new Set<Scope>();
  private readonly bindings = new Map<string, Binding<AnySeries> | Computed>();
  private readonly scopeKey: string;
  private disposed = false;

  constructor(
    readonly shared: Shared,
    private readonly parent: Scope | undefined,
    readonly constLabels: LabelValues,
  ) {
    this.scopeKey = Object.keys(constLabels)
      .sort()
      .map((k) => `${k}=${escapeLabelValue(constLabels[k]!)}`)
      .join('\n');
    if (parent === undefined) {
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
  }

  counter<const L extends string = never>(options: CollectedOptions<L>): CollectedMetric;
  counter<const L extends string = never>(options: MetricOptions<L>): Counter<L>;
  counter<L extends string>(
    options: MetricOptions<L> | CollectedOptions<L>,
  ): Counter<L> | CollectedMetric {
    return this.declare('counter', options, (f, max) => new Counter<L>(f, this, max));
  }

  gauge<const L extends string = never>(options: CollectedOptions<L>): CollectedMetric;
  gauge<const L extends string = never>(options: MetricOptions<L>): Gauge<L>;
  gauge<L extends string>(
    options: MetricOptions<L> | CollectedOptions<L>,
  ): Gauge<L> | CollectedMetric {
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
        `a child registry with labels ${renderLabels(merged)} is live already; dispose of it first`,
      );
    this.shared.liveScopes.add(scope.scopeKey);
    this.children.add(scope);
    return scope;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const child of this.children) child.dispose();
    for (const binding of this.bindings.values()) binding.family.bindings.delete(binding);
    this.bindings.clear();
    this.parent?.children.delete(this);
    if (this.parent !== undefined) this.shared.liveScopes.delete(this.scopeKey);
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
    for (const family of this.shared.families.values()) {
      if (select !== undefined && !select(family.name)) continue;
      const bindings = [...family.bindings].filter((b) => root || b.scope.within(this));
      if (bindings.length === 0 && !root) continue;
      const { name, help } = family;
      if (family.type === 'histogram') {
        const samples: HistogramSample[] = [];
        for (const b of bindings) if (b instanceof Histogram) samples.push(...b.samples());
        out.push({ name, help, type: 'histogram', buckets: family.buckets!, samples });
      } else {
        const samples: ScalarSample[] = [];
        for (const b of bindings)
          samples.push(
            ...(b instanceof Computed ? b.samples() : (b.samples() as Iterable<ScalarSample>)),
          );
        out.push({ name, help, type: family.type, samples });
      }
    }
    return out;
  }

  /** Whether this registry is `other` or one of its descendants. */
  within(other: Scope): boolean {
    for (let s: Scope | undefined = this; s !== undefined; s = s.parent)
      if (s === other) return true;
    return false;
  }

  private declare<B extends Binding<AnySeries>>(
    type: MetricType,
    options: MetricOptions<string> & { collect?: Collector<string>; buckets?: readonly number[] },
    bind: (family: Family, maxSeries: number) => B,
  ): B | CollectedMetric {
    this.assertLive();
    const family = this.family(type, options);
    const existing = this.bindings.get(family.name);
    if (existing !== undefined) {
      if (options.collect !== undefined)
        throw conflict(family.name, 'a computed metric is declared once per registry');
      return existing as B | Computed;
    }
    const maxSeries = options.maxSeries ?? this.shared.maxSeries;
    assertMaxSeries(family.name, maxSeries);
    const binding =
      options.collect === undefined
        ? bind(family, maxSeries)
        : new Computed(family, this, maxSeries, options.collect);
    family.bindings.add(binding);
    this.bindings.set(family.name, binding);
    return binding;
  }

  /** The family of `options.name`, made on first declaration, checked on every other. */
  private family(
    type: MetricType,
    options: MetricOptions<string> & { collect?: Collector<string>; buckets?: readonly number[] },
  ): Family {
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
      const family: Family = {
        name,
        help: options.help,
        type,
        constNames,
        labelNames,
        buckets: options.buckets ? [...options.buckets] : undefined,
        computed,
        bindings: new Set(),
      };
      this.shared.families.set(name, family);
      return family;
    }
    const differs = (what: string, mine: unknown, theirs: unknown) => {
      if (JSON.stringify(mine) !== JSON.stringify(theirs))
        throw conflict(
          name,
          `${what} ${JSON.stringify(mine)} here, ${JSON.stringify(theirs)} before`,
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
        `the registry ${renderLabels(this.constLabels)} was disposed of; make a new child`,
      );
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * `value` with lone surrogates replaced by U+FFFD, as UTF-8 encoding would do anyway; done
 * before keying so two label values never become one series name twice.
 */
function toWellFormed(value: string): string {
  return value.replace(LONE_SURROGATE, '\uFFFD');
}

function wellFormed(values: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  let copy: Record<string, string> | undefined;
  for (const name in values) {
    const fixed = toWellFormed(values[name]!);
    if (fixed !== values[name]) {
      copy ??= { ...values };
      copy[name] = fixed;
    }
  }
  return copy ?? values;
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

function conflict(name: string, message: string): MetricsError {
  return new MetricsError('METRIC_CONFLICT', `metric '${name}' declared differently: ${message}`);
}

/** `count` bucket bounds `start`, `start + width`, …: for values spread evenly. */
export function linearBuckets(start: number, width: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start + i * width);
}

/** `count` bucket bounds `start`, `start × factor`, …: for durations and sizes. */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start * factor ** i);
}
