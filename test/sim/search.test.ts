import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runScenario } from '../../src/sim/run.js';

// A small seeded run of the search scenario: every strategy, churn and the failure phase. It
// checks the figures are sane (not the 10,000-node targets: at 150 nodes nearly every item is
// "popular" and queries often match several items) and that two runs give the same trace.
const options = {
  seed: 5,
  nodes: 150,
  queries: 15,
  items: 150,
  settleSeconds: 120,
  minUptimeSeconds: 30,
  churnSeconds: 60,
};

test('search scenario, 150 nodes: ultrapeers elected, every strategy finds things, the overlay survives 30 % failing, runs repeat exactly', async () => {
  const first = await runScenario('search', options);
  const f = first.figures;
  const num = (k: string) => {
    const v = f[k];
    assert.equal(typeof v, 'number', `${k} is a number (${v})`);
    return v as number;
  };
  assert.ok(num('ultrapeersAtSettle') >= 3, `${f.ultrapeersAtSettle} ultrapeers`);
  assert.ok(num('steady_flood_recall') >= 0.9, `flood recall ${f.steady_flood_recall}`);
  assert.ok(num('steady_ultrapeer_recall') >= 0.5, `ultrapeer recall ${f.steady_ultrapeer_recall}`);
  assert.ok(num('steady_walk_recall') >= 0.5, `walk recall ${f.steady_walk_recall}`);
  assert.ok(num('steady_dht_recall') >= 0.9, `dht recall ${f.steady_dht_recall}`);
  assert.ok(
    num('steady_ultrapeer_messagesMean') < num('steady_flood_messagesMean') / 5,
    'ultrapeer routing costs a fraction of flooding',
  );
  assert.ok(num('largestComponentAt30s') >= 0.99, `component ${f.largestComponentAt30s}`);
  assert.ok(
    num('failure_flood_recall') >= 0.8,
    `flood recall after failure ${f.failure_flood_recall}`,
  );
  assert.equal(
    first.charts.length,
    6,
    'first result, messages, recall by share ×3, after the failure',
  );
  const second = await runScenario('search', options);
  assert.equal(second.traceDigest, first.traceDigest, 'same seed, same run');
});
