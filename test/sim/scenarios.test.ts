import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runScenario } from '../../src/sim/run.js';
import { dhtScenario, swarmScenario } from '../../src/sim/scenarios/index.js';

// Small scenarios with fixed seeds: regression tests for the engines at (simulated) scale, and
// for the simulator's determinism. Each takes a few seconds.

test('dht: 200 nodes, 100 lookups — every announced peer is found; same seed, same digest', async () => {
  const options = { seed: 42, nodes: 200, lookups: 100, infoHashes: 20 };
  const first = await runScenario('dht', options);
  assert.ok(first.ok, first.failures.join('; '));
  assert.equal(first.figures.lookups, 100);
  assert.ok(Number(first.figures.successRate) >= 0.99, `success ${first.figures.successRate}`);
  assert.ok(Number(first.figures.hopsP99) <= 6);
  assert.ok(Number(first.figures.rttMsP50) > 60 && Number(first.figures.rttMsP50) < 100);
  assert.ok(first.memoryPerNodeBytes > 0);
  const second = await runScenario('dht', options);
  assert.equal(second.traceDigest, first.traceDigest, 'the run replays exactly');
  const other = await runScenario('dht', { ...options, seed: 43 });
  assert.notEqual(other.traceDigest, first.traceDigest, 'another seed, another run');
});

test('dht with churn and NAT: lookups still find live announcers', async () => {
  const r = await dhtScenario({
    seed: 7,
    nodes: 200,
    lookups: 100,
    infoHashes: 20,
    churn: true,
    medianSessionMin: 20,
    nat: 0.3,
  });
  assert.ok(Number(r.figures.departures) > 20, `departures ${r.figures.departures}`);
  assert.ok(Number(r.figures.datagramsFiltered) > 0, 'NATs dropped unsolicited datagrams');
  assert.ok(Number(r.figures.successRate) >= 0.9, `success ${r.figures.successRate}`);
});

test('swarm: 10 leechers all complete, within a few × the Kumar–Ross bound; replays exactly', async () => {
  const options = { seed: 5, leechers: 10, fileMiB: 4, pieceKiB: 64, upKbps: 2000 };
  const first = await runScenario('swarm', options);
  assert.ok(first.ok, first.failures.join('; '));
  assert.equal(first.figures.completed, 10);
  const ratio = Number(first.figures.lastCompletionOverTmin);
  assert.ok(ratio >= 1 && ratio < 4, `last completion ${ratio} × T_min`);
  const second = await runScenario('swarm', options);
  assert.equal(second.traceDigest, first.traceDigest);
});

test('swarm: heterogeneous capacities still complete', async () => {
  const r = await swarmScenario({
    seed: 9,
    leechers: 8,
    fileMiB: 2,
    pieceKiB: 32,
    heterogeneous: true,
  });
  assert.ok(r.ok, r.failures.join('; '));
});
