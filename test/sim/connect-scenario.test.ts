import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runScenario } from '../../src/sim/run.js';

// The connect scenario over the simulator's NAT types: who reaches whom, and how. Between two
// port-keeping NATs (cones) a TCP hole punch; between a cone and a symmetric NAT that maps
// ports in sequence, a one-sided punch at the ports predicted; two symmetric NATs, or one
// that picks ports at random, leave nothing to aim at: relayed.

const cones = ['full-cone', 'restricted', 'port-restricted'];

test('connect: every pair connects; punched unless both NATs are symmetric; replays exactly', async () => {
  const options = { seed: 3, perType: 3, attemptsPerPair: 1, warmupSeconds: 90 };
  const first = await runScenario('connect', options);
  const f = first.figures;
  assert.equal(f.successRate, 1, `every attempt connects: ${first.failures.join('; ')}`);
  const cell = (from: string, to: string) => String(f[`pair.${from}.${to}`]);
  for (const to of ['public', ...cones, 'symmetric']) assert.match(cell('public', to), /^1\/1 d$/);
  for (const from of [...cones, 'symmetric']) assert.match(cell(from, 'public'), /^1\/1 d$/);
  for (const from of cones) {
    for (const to of cones) assert.match(cell(from, to), /^1\/1 p$/, `${from} → ${to} punched`);
    assert.match(cell(from, 'symmetric'), /^1\/1 p$/, `${from} → symmetric punched`);
    assert.match(cell('symmetric', from), /^1\/1 p$/, `symmetric → ${from} punched`);
  }
  assert.match(cell('symmetric', 'symmetric'), /^1\/1 r$/, 'two symmetric NATs: relayed');
  assert.ok(
    Number(f.directOrPunchedUnlessBothSymmetric) >= 0.95,
    `direct or punched for ${f.directOrPunchedUnlessBothSymmetric} of pairs not both symmetric`,
  );
  assert.ok(
    Number(f.extraRttsOverDirectDialP50) <= 2,
    `median ${f.extraRttsOverDirectDialP50} RTTs over a direct dial`,
  );
  assert.ok(first.ok, first.failures.join('; '));
  const second = await runScenario('connect', options);
  assert.equal(second.traceDigest, first.traceDigest, 'the run replays exactly');
});

test('connect with symmetric NATs that pick random ports: their pairs are relayed, the rest punched', async () => {
  const options = { seed: 3, perType: 3, attemptsPerPair: 1, warmupSeconds: 90, randomPorts: true };
  const run = await runScenario('connect', options);
  const f = run.figures;
  assert.equal(f.successRate, 1, `every attempt connects: ${run.failures.join('; ')}`);
  const cell = (from: string, to: string) => String(f[`pair.${from}.${to}`]);
  for (const from of cones) {
    for (const to of cones) assert.match(cell(from, to), /^1\/1 p$/, `${from} → ${to} punched`);
    assert.match(cell(from, 'symmetric'), /^1\/1 r$/, `${from} → symmetric relayed`);
    assert.match(cell('symmetric', from), /^1\/1 r$/, `symmetric → ${from} relayed`);
  }
  assert.equal(f.directOrPunchedWithoutSymmetric, 1);
  assert.ok(run.ok, run.failures.join('; '));
});
