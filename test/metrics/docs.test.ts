import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { assertLabelNames, assertMetricName, type MetricType } from '../../src/metrics/names.js';

const doc = fileURLToPath(new URL('../../../docs/METRICS.md', import.meta.url));

test('every metric docs/METRICS.md proposes passes the naming rules, once', async () => {
  const table = (await readFile(doc, 'utf8')).split('\n').filter((l) => l.startsWith('| `shoal_'));
  const rows = table
    .map((line) => /^\| `(shoal_\w+)` \| (counter|gauge|histogram) \|([\w, ]*)\|/.exec(line))
    .filter((m) => m !== null);
  assert.equal(rows.length, table.length, 'every row of a metric is read');
  assert.ok(rows.length >= 60, `found ${rows.length} rows`);
  const names = new Set<string>();
  for (const [, name, type, labels] of rows) {
    assertMetricName(name!, type as MetricType);
    assertLabelNames(
      name!,
      labels!
        .split(',')
        .map((l) => l.trim())
        .filter((l) => l.length > 0),
    );
    assert.ok(!names.has(name!), `${name} listed twice`);
    names.add(name!);
  }
});
