import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { simScenarioFlags } from '../../src/cli/commands/sim.js';

const CLI = fileURLToPath(new URL('../../src/bin/shoal.js', import.meta.url));
const README = fileURLToPath(new URL('../../../README.md', import.meta.url));

test('every sim rate flag (--…-kbps) is in kbit/s: its help says so and the run uses it', async () => {
  const rateFlags = simScenarioFlags().filter(({ spec }) => spec.flag.endsWith('-kbps'));
  assert.ok(rateFlags.length >= 6, 'the scenarios have rate flags');
  for (const { spec } of rateFlags) {
    assert.match(spec.description, /kbit\/s/, `--${spec.flag}: ${spec.description}`);
    assert.doesNotMatch(spec.description, /KB\/s|kB\/s/, `--${spec.flag}`);
  }
  // 8000 kbit/s is 1,000,000 bytes per second: T_min for one leecher of 1 MiB is F / u_s.
  const { stdout } = await promisify(execFile)(process.execPath, [
    CLI,
    'sim',
    'swarm',
    '--leechers',
    '1',
    '--file-mib',
    '1',
    '--up-kbps',
    '8000',
    '--down-kbps',
    '80000',
    '--json',
  ]);
  const r = JSON.parse(stdout) as { seedUpBytesPerSecond: number; tminSeconds: number };
  assert.equal(r.seedUpBytesPerSecond, 1_000_000);
  assert.equal(r.tminSeconds, Number((1_048_576 / 1_000_000).toFixed(2)));
});

test('the README names every sim rate flag and says they are in kbit/s', async () => {
  const readme = await readFile(README, 'utf8');
  const section = readme.slice(
    readme.indexOf('### `shoal sim`'),
    readme.indexOf('### Port mapping'),
  );
  for (const { spec } of simScenarioFlags().filter(({ spec }) => spec.flag.endsWith('-kbps')))
    assert.ok(section.includes(`--${spec.flag}`), `README lists --${spec.flag}`);
  assert.match(section, /kbit\/s/);
  assert.doesNotMatch(section, /\bKB\/s\b/);
});
