/**
 * uTP's LEDBAT gives way to TCP on a slow link (issue 16's target), measured for real: network
 * namespaces sender → router → receiver, the router's uplink limited to 2 MB/s with tc tbf
 * (250 ms of buffer), one uTP flow alone and then beside one TCP (cubic) flow. The harness is
 * the `ledbat` benchmark's (bench/ledbat.ts), shortened. Once TCP runs, uTP must take at most
 * 10 % of the link; alone, it must fill most of the link while holding the queue near its
 * 100 ms target (checked with 10 % slack: the probes' round trips also cross the receiver's
 * busy event loop).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_LEDBAT_OPTIONS, measureLedbat } from '../../bench/ledbat.js';
import { netnsProbe, requireTool } from './helpers.js';

test('uTP takes ≤ 10% of a 2 MB/s link beside TCP, and alone adds about 100 ms of queue at most', {
  timeout: 90_000,
}, async (t) => {
  if (!requireTool(t, 'netns', netnsProbe)) return;
  if (!requireTool(t, 'tc', ['tc', '-V'])) return;
  const f = await measureLedbat({
    ...DEFAULT_LEDBAT_OPTIONS,
    aloneSeconds: 8,
    togetherSeconds: 12,
  });
  const link = f.options.rateBytesPerSecond;
  const series = f.perSecond
    .map(
      (s) =>
        `${s.second}s uTP ${(s.utpBytesPerSecond / 1e6).toFixed(2)} TCP ${(s.tcpBytesPerSecond / 1e6).toFixed(2)} MB/s, ${s.delayMedianMs.toFixed(0)} ms`,
    )
    .join('\n');
  t.diagnostic(
    `alone: ${(f.alone.utpBytesPerSecond / 1e6).toFixed(2)} MB/s, delay ${f.alone.delayMedianMs.toFixed(0)} ms; ` +
      `beside TCP: uTP ${(f.together.utpShareOfLink * 100).toFixed(1)}% of the link`,
  );
  assert.ok(f.alone.utpBytesPerSecond > 0.8 * link, `uTP alone fills the link\n${series}`);
  assert.ok(f.alone.delayMedianMs <= 110, `uTP alone holds the queue near 100 ms\n${series}`);
  assert.ok(f.together.utpShareOfLink <= 0.1, `uTP yields to TCP\n${series}`);
  assert.ok(f.together.tcpBytesPerSecond > 0.8 * link, `TCP takes the link\n${series}`);
});
