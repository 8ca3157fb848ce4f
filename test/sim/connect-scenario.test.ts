import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runScenario } from '../../src/sim/run.js';

// The connect scenario over the simulator's NAT types: who reaches whom, and how. TCP hole
// punching needs both NATs to keep ports, so pairs with a symmetric NAT behind it are relayed
// (UDP punching over uTP is what would take them direct; see ARCHITECTURE).

test('connect: every pair connects; punched between port-keeping NATs, relayed only with a symmetric one; replays exactly', async () => {
  const options = { seed: 3, perType: 3, attemptsPerPair: 1, warmupSeconds: 90 };
  const first = await runScenario('connect', options);
  const f = first.figures;
  assert.equal(f.successRate, 1, `every attempt connects: ${first.failures.join('; ')}`);
  const cell = (from: string, to: string) => String(f[`pair.${from}.${to}`]);
  const cones = ['full-cone', 'restricted', 'port-restricted'];
  for (const to of ['public', ...cones, 'symmetric']) assert.match(cell('public', to), /^1\/1 d$/);
  for (const from of [...cones, 'symmetric']) assert.match(cell(from, 'public'), /^1\/1 d$/);
  for (const from of cones) {
    for (const to of cones) assert.match(cell(from, to), /^1\/1 p$/, `${from} → ${to} punched`);
    assert.match(cell(from, 'symmetric'), /^1\/1 r$/);
    assert.match(cell('symmetric', from), /^1\/1 r$/);
  }
  assert.ok(
    Number(f.extraRttsOverDirectDialP50) <= 2,
    `median ${f.extraRttsOverDirectDialP50} RTTs over a direct dial`,
  );
  const second = await runScenario('connect', options);
  assert.equal(second.traceDigest, first.traceDigest, 'the run replays exactly');
});
