import {
  type CounterSeries,
  exponentialBuckets,
  type HistogramSeries,
  type MetricsRegistry,
} from '../metrics/registry.js';
import type { RpcCounters } from './rpc.js';

/** Query types counted by name; anything else a peer sends is `other`. */
const QUERY_TYPES = [
  'ping',
  'find_node',
  'get_peers',
  'announce_peer',
  'get',
  'put',
  'sample_infohashes',
] as const;

/** Lookup kinds: what a lookup was for. */
export type LookupKind = 'find_node' | 'get_peers' | 'get' | 'bootstrap' | 'refresh';

/** What the DHT's computed gauges read. */
export interface DhtGaugeSource {
  nodes(): number;
  storedInfoHashes(): number;
  storedItems(): number;
}

/**
 * The series every DHT node counts into, made once per registry: the simulator gives thousands
 * of nodes one registry, and each node holding its own maps of the same series cost ~2 KB apiece.
 */
export class DhtSeries {
  readonly queriesIn = new Map<string, CounterSeries>();
  readonly queriesOut = new Map<string, CounterSeries>();
  readonly otherIn: CounterSeries;
  readonly otherOut: CounterSeries;
  readonly responses: CounterSeries;
  readonly errors: CounterSeries;
  readonly timeouts: CounterSeries;
  readonly malformed: CounterSeries;
  readonly unexpected: CounterSeries;
  readonly rateLimited: CounterSeries;
  readonly lookups = new Map<LookupKind, CounterSeries>();
  readonly hops = new Map<LookupKind, HistogramSeries>();
  readonly lookupQueries = new Map<LookupKind, HistogramSeries>();
  readonly lookupSeconds = new Map<LookupKind, HistogramSeries>();
  /**
   * The nodes whose tables and stores the gauges add up: three collectors per registry rather
   * than three per node (a closure, a handle and a set entry each).
   */
  readonly sources = new Set<DhtGaugeSource>();

  private static readonly byRegistry = new WeakMap<MetricsRegistry, DhtSeries>();

  static of(registry: MetricsRegistry): DhtSeries {
    let series = DhtSeries.byRegistry.get(registry);
    if (!series) {
      series = new DhtSeries(registry);
      DhtSeries.byRegistry.set(registry, series);
    }
    return series;
  }

  private constructor(registry: MetricsRegistry) {
    const queries = registry.counter({
      name: 'shoal_dht_queries_total',
      help: 'KRPC queries, by direction and query type.',
      labelNames: ['direction', 'type'],
    });
    for (const type of QUERY_TYPES) {
      this.queriesIn.set(type, queries.labels({ direction: 'in', type }));
      this.queriesOut.set(type, queries.labels({ direction: 'out', type }));
    }
    this.otherIn = queries.labels({ direction: 'in', type: 'other' });
    this.otherOut = queries.labels({ direction: 'out', type: 'other' });
    const responses = registry.counter({
      name: 'shoal_dht_responses_total',
      help: 'Answers to our queries, by result.',
      labelNames: ['result'],
    });
    this.responses = responses.labels({ result: 'ok' });
    this.errors = responses.labels({ result: 'error' });
    this.timeouts = responses.labels({ result: 'timeout' });
    const dropped = registry.counter({
      name: 'shoal_dht_dropped_datagrams_total',
      help: 'Datagrams the DHT dropped, by reason.',
      labelNames: ['reason'],
    });
    this.malformed = dropped.labels({ reason: 'malformed' });
    this.unexpected = dropped.labels({ reason: 'unexpected' });
    this.rateLimited = dropped.labels({ reason: 'rate_limited' });
    const lookups = registry.counter({
      name: 'shoal_dht_lookups_total',
      help: 'Iterative lookups, by kind.',
      labelNames: ['type'],
    });
    const hops = registry.histogram({
      name: 'shoal_dht_lookup_hops',
      help: 'Steps from the seeds to the closest node that answered.',
      labelNames: ['type'],
      buckets: [1, 2, 3, 4, 5, 6, 8, 10, 12, 16],
    });
    const queried = registry.histogram({
      name: 'shoal_dht_lookup_queries',
      help: 'Queries one lookup sent.',
      labelNames: ['type'],
      buckets: exponentialBuckets(4, 2, 8),
    });
    const seconds = registry.histogram({
      name: 'shoal_dht_lookup_duration_seconds',
      help: 'Time a lookup took.',
      labelNames: ['type'],
      buckets: exponentialBuckets(0.05, 2, 10),
    });
    for (const type of ['find_node', 'get_peers', 'get', 'bootstrap', 'refresh'] as const) {
      this.lookups.set(type, lookups.labels({ type }));
      this.hops.set(type, hops.labels({ type }));
      this.lookupQueries.set(type, queried.labels({ type }));
      this.lookupSeconds.set(type, seconds.labels({ type }));
    }
    const total = (read: (source: DhtGaugeSource) => number) => () => {
      // No node running: no sample, as when each node registered its own collector.
      if (this.sources.size === 0) return [];
      let sum = 0;
      for (const source of this.sources) sum += read(source);
      return sum;
    };
    registry.gauge({
      name: 'shoal_dht_nodes',
      help: 'Nodes in the routing table.',
      collect: total((s) => s.nodes()),
    });
    registry.gauge({
      name: 'shoal_dht_stored_info_hashes',
      help: 'Info-hashes we store announced peers for.',
      collect: total((s) => s.storedInfoHashes()),
    });
    registry.gauge({
      name: 'shoal_dht_stored_items',
      help: 'BEP 44 items we store.',
      collect: total((s) => s.storedItems()),
    });
  }
}

/**
 * What a DHT node counts: queries each way by type, answers to ours by result, datagrams
 * dropped, and its lookups (how many, hops, queries, time). The simulator gives every node the
 * same registry, so the counts add up to the network's.
 */
export class DhtMetrics {
  /** The counters, shared by every node of one registry (answers, errors, drops…). */
  readonly series: DhtSeries;

  constructor(
    registry: MetricsRegistry,
    private readonly source: DhtGaugeSource,
  ) {
    this.series = DhtSeries.of(registry);
    this.series.sources.add(source);
  }

  queryIn(type: string): void {
    (this.series.queriesIn.get(type) ?? this.series.otherIn).inc();
  }

  queryOut(type: string): void {
    (this.series.queriesOut.get(type) ?? this.series.otherOut).inc();
  }

  /** A lookup finished. */
  lookup(kind: LookupKind, hops: number, queried: number, ms: number): void {
    const s = this.series;
    s.lookups.get(kind)!.inc();
    s.hops.get(kind)!.observe(hops);
    s.lookupQueries.get(kind)!.observe(queried);
    s.lookupSeconds.get(kind)!.observe(ms / 1000);
  }

  /** The classic counters, for status lines and `stats()`. */
  counters(): RpcCounters {
    const s = this.series;
    let queriesIn = s.otherIn.value;
    for (const c of s.queriesIn.values()) queriesIn += c.value;
    let queriesOut = s.otherOut.value;
    for (const c of s.queriesOut.values()) queriesOut += c.value;
    return {
      queriesIn,
      queriesOut,
      responsesIn: s.responses.value,
      errorsIn: s.errors.value,
      timeouts: s.timeouts.value,
      rateLimited: s.rateLimited.value,
      dropped: s.malformed.value + s.unexpected.value,
    };
  }

  /** The DHT stopped; the registry may outlive it (the simulator's does). */
  close(): void {
    this.series.sources.delete(this.source);
  }
}
