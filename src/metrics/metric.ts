import { MetricsError } from './errors.js';
import {
  type HistogramSample,
  type LabelValues,
  renderLabels,
  type ScalarSample,
} from './exposition.js';
import type { MetricType } from './names.js';
import { type AnySeries, CounterSeries, GaugeSeries, HistogramSeries } from './series.js';

/** Label values of one series by label name; `L` is the union of a metric's label names. */
export type Labels<L extends string> = { readonly [K in L]: string };

/**
 * Computes a metric's value when it is read (scraped or snapshotted), so an expensive value
 * costs nothing until someone looks: one number for a metric without labels, else the value
 * of each label set. Values given for one label set, by one collector or by several declared
 * under one name in one registry, are added up.
 */
export type Collector<L extends string> = () => number | readonly (readonly [Labels<L>, number])[];

/** The handle of a computed metric. */
export interface CollectedMetric {
  readonly name: string;
  /** Stops calling this collector (disposing of its registry does too). */
  unregister(): void;
}

/** A metric as declared the first time: what the series of every registry of it share. */
export interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  /** The constant label names of the declaring registry (exported first). */
  readonly constNames: readonly string[];
  readonly labelNames: readonly string[];
  readonly buckets: readonly number[] | undefined;
  readonly computed: boolean;
  /** Each registry's series of this metric. */
  readonly bindings: Set<Binding<AnySeries> | Computed>;
}

/** What a metric needs from the registry holding it. */
export interface SeriesOwner {
  readonly constLabels: LabelValues;
  /** Counts a label set refused because its metric is at its series limit. */
  countDropped(metric: string): void;
  /** Counts a collector that threw or returned something malformed. */
  countCollectError(metric: string): void;
}

/**
 * Series by label values, one map level per label: a lookup hashes the value strings given
 * (usually interned literals) instead of building a key string per call.
 */
type SeriesIndex = Map<string, unknown>;

const NO_LABELS: LabelValues = Object.freeze({});

/** The series of one metric in one registry, by label set. */
export abstract class Binding<S extends AnySeries> {
  private index: SeriesIndex | undefined;
  /** The one series of a metric without labels. */
  private readonly only: S | undefined;
  private overflow: S | undefined;
  private size = 0;

  constructor(
    readonly family: Family,
    readonly owner: SeriesOwner,
    private readonly maxSeries: number,
  ) {
    if (family.labelNames.length === 0) {
      this.only = this.make();
      this.size = 1;
    }
  }

  protected abstract make(): S;

  /** The series of one label set, made on first use; keep it where a count is hot. */
  labels(values: Readonly<Record<string, string>>): S {
    return this.find(values) ?? this.create(values);
  }

  /** Forgets one label set's series (e.g. a tracker URL no longer used). */
  remove(values: Readonly<Record<string, string>>): void {
    const clean = wellFormedLabels(this.checked(values));
    const names = this.family.labelNames;
    if (this.index === undefined || this.find(clean) === undefined) return;
    const path: SeriesIndex[] = [this.index];
    for (let i = 0; i < names.length - 1; i++)
      path.push(path[i]!.get(clean[names[i]!]!) as SeriesIndex);
    // Delete the leaf, then every map on its path left empty.
    for (let i = names.length - 1; i >= 0; i--) {
      path[i]!.delete(clean[names[i]!]!);
      if (path[i]!.size > 0) break;
    }
    this.size--;
  }

  /** The series of a label set if it exists, for readers. */
  protected existing(values: Readonly<Record<string, string>> | undefined): S | undefined {
    return this.find(wellFormedLabels(this.checked(values ?? NO_LABELS)));
  }

  /** Every series with its labels (rendered here, so a series costs only its value). */
  samples<T>(sample: (series: S, labels: LabelValues, labelText: string) => T): T[] {
    if (this.only !== undefined) return [sample(this.only, NO_LABELS, '')];
    const out: T[] = [];
    const names = this.family.labelNames;
    const path: string[] = [];
    const walk = (node: SeriesIndex, depth: number) => {
      for (const [value, child] of node) {
        path[depth] = value;
        if (depth < names.length - 1) {
          walk(child as SeriesIndex, depth + 1);
          continue;
        }
        const labels: Record<string, string> = {};
        names.forEach((name, i) => {
          labels[name] = path[i]!;
        });
        out.push(sample(child as S, labels, renderLabels(labels)));
      }
    };
    if (this.index !== undefined) walk(this.index, 0);
    return out;
  }

  private find(values: Readonly<Record<string, string>>): S | undefined {
    if (this.only !== undefined) return this.only;
    const names = this.family.labelNames;
    const last = names.length - 1;
    let node = this.index;
    for (let i = 0; i < last && node !== undefined; i++)
      node = node.get(values[names[i]!]!) as SeriesIndex | undefined;
    return node?.get(values[names[last]!]!) as S | undefined;
  }

  private create(raw: Readonly<Record<string, string>>): S {
    const values = wellFormedLabels(this.checked(raw));
    const known = this.find(values);
    if (known !== undefined) return known;
    if (this.size >= this.maxSeries) {
      this.owner.countDropped(this.family.name);
      this.overflow ??= this.make();
      return this.overflow;
    }
    const names = this.family.labelNames;
    this.index ??= new Map();
    let node = this.index;
    for (let i = 0; i < names.length - 1; i++) {
      const value = values[names[i]!]!;
      let next = node.get(value) as SeriesIndex | undefined;
      if (next === undefined) {
        next = new Map();
        node.set(value, next);
      }
      node = next;
    }
    const made = this.make();
    node.set(values[names[names.length - 1]!]!, made);
    this.size++;
    return made;
  }

  private checked(values: Readonly<Record<string, unknown>>): Readonly<Record<string, string>> {
    const names = this.family.labelNames;
    const keys = Object.keys(values);
    if (keys.length !== names.length || !names.every((n) => typeof values[n] === 'string'))
      throw new MetricsError(
        'METRIC_LABELS_INVALID',
        `${this.family.name} takes labels (${names.join(', ')}) as strings, got (${keys.join(', ')})`,
      );
    return values as Readonly<Record<string, string>>;
  }
}

/** A counter: labelled series that only go up. */
export class Counter<L extends string> extends Binding<CounterSeries> {
  protected make(): CounterSeries {
    return new CounterSeries();
  }

  /** The series of one label set; its `inc()` is one addition. */
  override labels(values: Labels<L>): CounterSeries {
    return super.labels(values);
  }

  /** Adds `n` (default 1) to the series without labels, or to the one of `labels`. */
  inc(n?: number): void;
  inc(labels: Labels<L>, n?: number): void;
  inc(a?: Labels<L> | number, n = 1): void {
    if (a === undefined || typeof a === 'number') this.labels(NO_LABELS as Labels<L>).inc(a ?? 1);
    else this.labels(a).inc(n);
  }

  /** The value of a label set; 0 when it has none yet. */
  get(labels?: Labels<L>): number {
    return this.existing(labels)?.value ?? 0;
  }
}

/** A gauge: labelled series that go up and down. */
export class Gauge<L extends string> extends Binding<GaugeSeries> {
  protected make(): GaugeSeries {
    return new GaugeSeries();
  }

  override labels(values: Labels<L>): GaugeSeries {
    return super.labels(values);
  }

  set(value: number): void;
  set(labels: Labels<L>, value: number): void;
  set(a: Labels<L> | number, value?: number): void {
    if (typeof a === 'number') this.labels(NO_LABELS as Labels<L>).set(a);
    else this.labels(a).set(value ?? 0);
  }

  inc(n?: number): void;
  inc(labels: Labels<L>, n?: number): void;
  inc(a?: Labels<L> | number, n = 1): void {
    if (a === undefined || typeof a === 'number') this.labels(NO_LABELS as Labels<L>).inc(a ?? 1);
    else this.labels(a).inc(n);
  }

  dec(n?: number): void;
  dec(labels: Labels<L>, n?: number): void;
  dec(a?: Labels<L> | number, n = 1): void {
    if (a === undefined || typeof a === 'number') this.labels(NO_LABELS as Labels<L>).dec(a ?? 1);
    else this.labels(a).dec(n);
  }

  /** The value of a label set; 0 when it has none yet. */
  get(labels?: Labels<L>): number {
    return this.existing(labels)?.value ?? 0;
  }
}

/** A histogram: observations counted into fixed buckets. */
export class Histogram<L extends string> extends Binding<HistogramSeries> {
  protected make(): HistogramSeries {
    return new HistogramSeries(this.family.buckets!);
  }

  override labels(values: Labels<L>): HistogramSeries {
    return super.labels(values);
  }

  observe(value: number): void;
  observe(labels: Labels<L>, value: number): void;
  observe(a: Labels<L> | number, value?: number): void {
    if (typeof a === 'number') this.labels(NO_LABELS as Labels<L>).observe(a);
    else this.labels(a).observe(value ?? Number.NaN);
  }

  /** Every series, for readers. */
  histogramSamples(): HistogramSample[] {
    return this.samples((s, labels, labelText) => ({
      labels,
      labelText,
      counts: s.counts,
      sum: s.sum,
      count: s.count,
    }));
  }
}

type MutableSample = { -readonly [K in keyof ScalarSample]: ScalarSample[K] };

/** The collectors of a computed metric in one registry. */
export class Computed {
  private readonly collectors = new Set<Collector<string>>();

  constructor(
    readonly family: Family,
    readonly owner: SeriesOwner,
    private readonly maxSeries: number,
  ) {}

  /** Adds a collector; its handle removes it again. */
  add(collector: Collector<string>): CollectedMetric {
    this.collectors.add(collector);
    return {
      name: this.family.name,
      unregister: () => {
        this.collectors.delete(collector);
      },
    };
  }

  /** Runs the collectors; a failure or a malformed answer is counted, never thrown. */
  samples(): ScalarSample[] {
    const bySet = new Map<string, MutableSample>();
    for (const collector of this.collectors) {
      let result: ReturnType<Collector<string>>;
      try {
        result = collector();
      } catch {
        this.failed();
        continue;
      }
      if (typeof result === 'number') {
        if (this.family.labelNames.length > 0) this.failed();
        else this.accumulate(bySet, NO_LABELS, '', result);
      } else if (!Array.isArray(result)) this.failed();
      else
        for (const entry of result as unknown[]) {
          const labels = this.entryLabels(entry);
          if (labels === undefined) this.failed();
          else
            this.accumulate(bySet, labels, renderLabels(labels), (entry as [unknown, number])[1]);
        }
    }
    return [...bySet.values()];
  }

  /** The labels of one `[labels, value]` entry of a collector's answer, if it is well formed. */
  private entryLabels(entry: unknown): LabelValues | undefined {
    if (!Array.isArray(entry) || entry.length !== 2) return undefined;
    const [raw, value] = entry as [unknown, unknown];
    if (typeof value !== 'number' || typeof raw !== 'object' || raw === null) return undefined;
    const names = this.family.labelNames;
    const given = raw as Record<string, unknown>;
    if (Object.keys(given).length !== names.length) return undefined;
    if (!names.every((n) => typeof given[n] === 'string')) return undefined;
    const labels: Record<string, string> = {};
    for (const n of names) labels[n] = toWellFormed(given[n] as string);
    return labels;
  }

  private accumulate(
    bySet: Map<string, MutableSample>,
    labels: LabelValues,
    labelText: string,
    value: number,
  ): void {
    const known = bySet.get(labelText);
    if (known !== undefined) known.value += value;
    else if (bySet.size < this.maxSeries) bySet.set(labelText, { labels, labelText, value });
    else this.owner.countDropped(this.family.name);
  }

  private failed(): void {
    this.owner.countCollectError(this.family.name);
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * `value` with lone surrogates replaced by U+FFFD, as UTF-8 encoding would do anyway; done
 * before a series is looked up so two label values never become one exported series twice.
 */
export function toWellFormed(value: string): string {
  return value.replace(LONE_SURROGATE, '\uFFFD');
}

function wellFormedLabels(
  values: Readonly<Record<string, string>>,
): Readonly<Record<string, string>> {
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
