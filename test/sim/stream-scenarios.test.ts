import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runTwiceAndCompare } from '../../src/sim/run.js';

test('stream: a minute of 4 Mbit/s from rate-limited peers plays without stalling; replays exactly', async () => {
  const { first, second } = await runTwiceAndCompare('stream', { seed: 3, minutes: 1 });
  assert.equal(second.deterministic, true, 'same seed, same trace digest');
  assert.equal(first.figures.finished, true);
  assert.ok((first.figures.stalledPercent as number) <= 0.5, String(first.figures.stalledPercent));
  assert.ok((first.figures.startupSeconds as number) < 10);
  assert.ok((first.figures.downloadedOverFile as number) < 1.1, 'little downloaded twice');
});

test('offload: viewers share a web-seeded video among themselves; replays exactly', async () => {
  const options = { seed: 2, viewers: 8, joinSeconds: 15, minutes: 0.5 };
  const { first, second } = await runTwiceAndCompare('offload', options);
  assert.equal(second.deterministic, true, 'same seed, same trace digest');
  const f = first.figures;
  assert.equal(f.finished, 8);
  assert.ok((f.startupSecondsMax as number) <= 5, String(f.startupSecondsMax));
  // The origin sends at least one copy and far less than one per viewer.
  assert.ok((f.webSeedCopies as number) >= 1 && (f.webSeedCopies as number) < 4);
  assert.equal(f.webSeedBytesCounted, f.originBytes, 'viewers count what the origin sent');
});
