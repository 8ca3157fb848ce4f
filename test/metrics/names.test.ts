import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MetricsError } from '../../src/metrics/errors.js';
import { assertLabelNames, assertMetricName, type MetricType } from '../../src/metrics/names.js';

const invalidName = (why: RegExp) => (error: unknown) =>
  error instanceof MetricsError && error.code === 'METRIC_NAME_INVALID' && why.test(error.message);

test('names that follow the conventions pass', () => {
  const good: [string, MetricType][] = [
    ['shoal_peer_bytes_total', 'counter'],
    ['shoal_peer_messages_total', 'counter'],
    ['shoal_dht_lookup_hops', 'histogram'],
    ['shoal_dht_lookup_duration_seconds', 'histogram'],
    ['shoal_torrent_progress_ratio', 'gauge'],
    ['shoal_dht_nodes', 'gauge'],
    ['shoal_total', 'counter'],
    ['a1_b2', 'gauge'],
  ];
  for (const [name, type] of good) assertMetricName(name, type);
});

test('each rule rejects its names with a message that says what to write', () => {
  const bad: [string, MetricType, RegExp][] = [
    ['shoalPeerBytes_total', 'counter', /lower-case words/],
    ['shoal__x_total', 'counter', /single underscores/],
    ['_shoal_total', 'counter', /lower-case/],
    ['shoal_x_', 'gauge', /lower-case/],
    ['shoal:x', 'gauge', /lower-case/],
    ['9lives', 'gauge', /lower-case/],
    ['', 'gauge', /lower-case/],
    ['shoal_peer_bytes', 'counter', /ends in _total/],
    ['shoal_peers_total', 'gauge', /only counters end in _total/],
    ['shoal_lookup_count', 'gauge', /_count is reserved/],
    ['shoal_lookup_sum', 'histogram', /_sum is reserved/],
    ['shoal_x_bucket', 'gauge', /_bucket is reserved/],
    ['shoal_requests_counter_total', 'counter', /leave the type/],
    ['shoal_queue_gauge', 'gauge', /leave the type/],
    ['shoal_rtt_ms', 'gauge', /abbreviated/],
    ['shoal_sent_kb_total', 'counter', /abbreviated/],
    ['shoal_uptime_s', 'gauge', /abbreviated/],
    ['shoal_rtt_milliseconds', 'histogram', /base unit seconds/],
    ['shoal_uptime_hours', 'gauge', /base unit seconds/],
    ['shoal_sent_bits_total', 'counter', /base unit bytes/],
    ['shoal_cache_megabytes', 'gauge', /base unit bytes/],
    ['shoal_progress_percent', 'gauge', /base unit ratio/],
    ['shoal_bytes_sent_total', 'counter', /comes last, before _total/],
    ['shoal_seconds_waited', 'gauge', /comes last$/],
    [`shoal_${'x'.repeat(200)}`, 'gauge', /longer than/],
  ];
  for (const [name, type, why] of bad)
    assert.throws(() => assertMetricName(name, type), invalidName(why), `${name} (${type})`);
});

test('label names: snake case, not reserved, not repeated', () => {
  assertLabelNames('m', ['direction', 'type', 'torrent', 'le_x']);
  const bad: [string[], RegExp][] = [
    [['Direction'], /lower-case/],
    [['peerType'], /lower-case/],
    [['__name'], /lower-case/],
    [['a-b'], /lower-case/],
    [['le'], /reserved/],
    [['quantile'], /reserved/],
    [['type', 'type'], /given twice/],
    [['x'.repeat(201)], /longer than/],
  ];
  for (const [names, why] of bad)
    assert.throws(() => assertLabelNames('m', names), invalidName(why), names.join(','));
});
