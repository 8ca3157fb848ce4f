import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  escapeLabelValue,
  formatValue,
  PROMETHEUS_CONTENT_TYPE,
} from '../../src/metrics/exposition.js';
import { createMetricsRegistry, type MetricsRegistry } from '../../src/metrics/registry.js';
import { requireTool } from '../interop/helpers.js';
import { FUZZ_RUNS } from '../support/fuzz.js';

test('the exposition of a small registry, line by line', () => {
  const r = createMetricsRegistry();
  const c = r.counter({
    name: 'shoal_peer_messages_total',
    help: 'Peer wire messages by direction and type.',
    labelNames: ['direction', 'type'],
  });
  c.inc({ direction: 'in', type: 'piece' }, 3);
  c.inc({ direction: 'out', type: 'have' });
  r.gauge({ name: 'shoal_peers', help: 'Help with a \\ backslash\nand a line feed.' }).set(2.5);
  const h = r.histogram({ name: 'shoal_dht_lookup_hops', help: 'Hops.', buckets: [1, 2.5] });
  h.observe(1);
  h.observe(2);
  h.observe(9);
  const expected = [
    '# HELP shoal_metrics_series_dropped_total New label sets not recorded because their metric had reached its series limit.',
    '# TYPE shoal_metrics_series_dropped_total counter',
    '# HELP shoal_metrics_collect_errors_total Computed metrics whose collector threw or returned something malformed.',
    '# TYPE shoal_metrics_collect_errors_total counter',
    '# HELP shoal_peer_messages_total Peer wire messages by direction and type.',
    '# TYPE shoal_peer_messages_total counter',
    'shoal_peer_messages_total{direction="in",type="piece"} 3',
    'shoal_peer_messages_total{direction="out",type="have"} 1',
    '# HELP shoal_peers Help with a \\\\ backslash\\nand a line feed.',
    '# TYPE shoal_peers gauge',
    'shoal_peers 2.5',
    '# HELP shoal_dht_lookup_hops Hops.',
    '# TYPE shoal_dht_lookup_hops histogram',
    'shoal_dht_lookup_hops_bucket{le="1"} 1',
    'shoal_dht_lookup_hops_bucket{le="2.5"} 2',
    'shoal_dht_lookup_hops_bucket{le="+Inf"} 3',
    'shoal_dht_lookup_hops_sum 12',
    'shoal_dht_lookup_hops_count 3',
    '',
  ];
  assert.equal(r.exposition(), expected.join('\n'));
  assert.equal(PROMETHEUS_CONTENT_TYPE, 'text/plain; version=0.0.4; charset=utf-8');
});

test('label values escape backslash, double quote and line feed only', () => {
  assert.equal(escapeLabelValue('plain'), 'plain');
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  assert.equal(escapeLabelValue('tab\there\r{},='), 'tab\there\r{},=');
});

test('values: integers, decimals, exponents and the special values Go reads', () => {
  assert.equal(formatValue(0), '0');
  assert.equal(formatValue(-0), '0');
  assert.equal(formatValue(42), '42');
  assert.equal(formatValue(-1.25), '-1.25');
  assert.equal(formatValue(1e21), '1e+21');
  assert.equal(formatValue(1e-7), '1e-7');
  assert.equal(formatValue(Number.POSITIVE_INFINITY), '+Inf');
  assert.equal(formatValue(Number.NEGATIVE_INFINITY), '-Inf');
  assert.equal(formatValue(Number.NaN), 'NaN');
});

/** Reads the label values back from one sample line, undoing the escapes (a test-side parser). */
function parseLabels(line: string): Record<string, string> {
  const open = line.indexOf('{');
  const labels: Record<string, string> = {};
  let i = open + 1;
  while (line[i] !== '}') {
    const eq = line.indexOf('=', i);
    const name = line.slice(i, eq);
    assert.equal(line[eq + 1], '"');
    let value = '';
    let j = eq + 2;
    for (; line[j] !== '"'; j++) {
      if (line[j] === '\\') {
        j++;
        value += line[j] === 'n' ? '\n' : line[j];
      } else value += line[j];
    }
    labels[name] = value;
    i = j + 1;
    if (line[i] === ',') i++;
  }
  return labels;
}

test('any label value reads back the same from the exposition', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }), fc.string(), (a, b) => {
      const r = createMetricsRegistry();
      r.child({ torrent: b })
        .gauge({ name: 'shoal_x', help: 'h', labelNames: ['v'] })
        .set({ v: a }, 1);
      const line = r
        .exposition()
        .split('\n')
        .find((l) => l.startsWith('shoal_x{'));
      assert.ok(line !== undefined);
      assert.ok(line.endsWith('} 1'));
      assert.deepEqual(parseLabels(line), { torrent: b, v: a });
    }),
    { numRuns: Math.min(FUZZ_RUNS, 2_000) },
  );
});

/** A registry using every metric kind, computed metrics, children and awkward label values. */
function everything(): MetricsRegistry {
  const r = createMetricsRegistry();
  const nasty = [
    '',
    'quote " inside',
    'back\\slash',
    'trailing backslash \\',
    'line\nfeed',
    '\\n literally',
    'braces {} and, commas = signs',
    'unicode ✓ ünï 中文 🐟',
    'lone \uD800 surrogate',
    'tab\tand\rreturn',
  ];
  const messages = r.counter({
    name: 'shoal_peer_messages_total',
    help: 'Peer wire messages, by direction and type.',
    labelNames: ['direction', 'type'],
  });
  nasty.forEach((type, i) => {
    messages.inc({ direction: 'in', type }, i);
  });
  r.counter({ name: 'shoal_node_restarts_total', help: 'Help with "quotes", \\ and\nnewline.' });
  const gauges = r.gauge({ name: 'shoal_test_values', help: 'Odd values.', labelNames: ['kind'] });
  gauges.set({ kind: 'nan' }, Number.NaN);
  gauges.set({ kind: 'inf' }, Number.POSITIVE_INFINITY);
  gauges.set({ kind: 'minus_inf' }, Number.NEGATIVE_INFINITY);
  gauges.set({ kind: 'big' }, 1e300);
  gauges.set({ kind: 'tiny' }, -1e-300);
  const h = r.histogram({
    name: 'shoal_dht_lookup_duration_seconds',
    help: 'Lookup durations.',
    labelNames: ['kind'],
    buckets: [0.005, 0.1, 1, 10],
  });
  for (const v of [0.001, 0.05, 0.5, 5, 50]) h.observe({ kind: nasty[1]! }, v);
  r.histogram({ name: 'shoal_empty_seconds', help: 'Nothing observed.', buckets: [1] });
  r.histogram({
    name: 'shoal_labelled_seconds',
    help: 'No series.',
    buckets: [1],
    labelNames: ['x'],
  });
  r.gauge({ name: 'shoal_dht_nodes', help: 'Computed.', collect: () => 123 });
  r.counter({
    name: 'shoal_dht_queries_total',
    help: 'Computed, labelled.',
    labelNames: ['type'],
    collect: () => nasty.map((type, i): [{ type: string }, number] => [{ type }, i]),
  });
  for (const torrent of ['a'.repeat(40), 'b\n"\\']) {
    const t = r.child({ torrent });
    t.counter({
      name: 'shoal_torrent_bytes_total',
      help: 'Payload bytes.',
      labelNames: ['direction'],
    }).inc({ direction: 'in' }, 1024);
    t.gauge({ name: 'shoal_torrent_progress_ratio', help: 'Progress.', collect: () => 0.25 });
    t.histogram({ name: 'shoal_piece_verify_seconds', help: 'Verify.', buckets: [0.01] }).observe(
      0.02,
    );
  }
  const capped = r.counter({
    name: 'shoal_capped_total',
    help: 'Capped.',
    labelNames: ['k'],
    maxSeries: 2,
  });
  for (const k of ['1', '2', '3']) capped.inc({ k });
  r.gauge({
    name: 'shoal_broken',
    help: 'Throws.',
    collect: () => {
      throw new Error('x');
    },
  });
  r.exposition(); // a first read, so the error counters have series
  return r;
}

test('promtool check metrics accepts the exposition of every metric kind and label edge case', (t) => {
  if (!requireTool(t, 'promtool')) return;
  const text = everything().exposition();
  assert.ok(text.includes('shoal_metrics_collect_errors_total{metric="shoal_broken"}'));
  assert.ok(text.includes('shoal_torrent_bytes_total{torrent="b\\n\\"\\\\",direction="in"} 1024'));
  const result = spawnSync('promtool', ['check', 'metrics'], {
    input: text,
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(result.error, undefined);
  assert.equal(`${result.stdout}${result.stderr}`, '', 'promtool has no complaint');
  assert.equal(result.status, 0);
});

test('promtool rejects a broken exposition (the check can fail)', (t) => {
  if (!requireTool(t, 'promtool')) return;
  const bad = everything().exposition().replace('\\"', '\\q');
  const result = spawnSync('promtool', ['check', 'metrics'], { input: bad, encoding: 'utf8' });
  assert.notEqual(result.status, 0);
  assert.match(result.stderr, /invalid escape sequence/);
});
