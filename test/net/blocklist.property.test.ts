import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  BlocklistError,
  formatBlocklist,
  IpBlocklist,
  parseBlocklist,
} from '../../src/net/blocklist.js';
import { assertDecoderSafe, FUZZ_RUNS, mutated } from '../support/fuzz.js';

const ip = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
const range = fc
  .tuple(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }))
  .map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as [number, number]);

test('the P2P format: descriptions with colons, comments, CIDR, bare ranges; bad lines skipped', () => {
  const { list, skipped } = parseBlocklist(
    [
      '# a comment',
      '// another',
      '',
      'Evil Corp: ads:10.0.0.0-10.0.0.255',
      '  Spaces : 192.168.1.10 - 192.168.1.20  ',
      '172.16.0.0/12',
      '1.2.3.4-1.2.3.4',
      'garbage line',
      'backwards:9.9.9.9-9.9.9.1',
      'too big:1.2.3.256-1.2.3.300',
      'zeros:001.002.003.010-001.002.003.020',
    ].join('\r\n'),
  );
  assert.equal(skipped, 3);
  for (const yes of ['10.0.0.0', '10.0.0.128', '10.0.0.255', '192.168.1.15', '172.20.1.1'])
    assert.ok(list.has(yes), yes);
  for (const yes of ['1.2.3.4', '1.2.3.15', '::ffff:10.0.0.7']) assert.ok(list.has(yes), yes);
  for (const no of ['10.0.1.0', '9.255.255.255', '192.168.1.21', '172.32.0.0', '1.2.3.5', '::1'])
    assert.ok(!list.has(no), no);
});

test('limits: over the byte or line cap is a BlocklistError, not a hang or a huge allocation', () => {
  assert.throws(
    () => parseBlocklist('1.1.1.1-1.1.1.1\n'.repeat(10), { maxBytes: 1000, maxLines: 5 }),
    BlocklistError,
  );
  assert.throws(
    () => parseBlocklist('x'.repeat(2000), { maxBytes: 1000, maxLines: 5 }),
    BlocklistError,
  );
});

test('has() agrees with a plain scan of the ranges, and merging keeps the same set', () => {
  fc.assert(
    fc.property(
      fc.array(range, { maxLength: 30 }),
      fc.array(fc.nat({ max: 0xffffffff })),
      (ranges, probes) => {
        const list = new IpBlocklist(ranges);
        const near = ranges.flatMap(([a, b]) =>
          [a, b, a - 1, b + 1].filter((x) => x >= 0 && x <= 0xffffffff),
        );
        for (const p of [...probes, ...near]) {
          const want = ranges.some(([a, b]) => a <= p && p <= b);
          assert.equal(list.has(ip(p)), want, ip(p));
        }
        // Merged ranges are sorted, disjoint and not adjacent.
        const merged = list.ranges();
        for (let i = 1; i < merged.length; i++) assert.ok(merged[i]![0] > merged[i - 1]![1] + 1);
      },
    ),
    { numRuns: Math.min(FUZZ_RUNS, 5000) },
  );
});

test('format then parse gives the same ranges', () => {
  fc.assert(
    fc.property(fc.array(range, { maxLength: 30 }), (ranges) => {
      const list = new IpBlocklist(ranges);
      const back = parseBlocklist(formatBlocklist(list.ranges()));
      assert.equal(back.skipped, 0);
      assert.deepEqual(back.list.ranges(), list.ranges());
    }),
    { numRuns: Math.min(FUZZ_RUNS, 5000) },
  );
});

test('random and mutated text never makes the parser throw anything but BlocklistError', () => {
  const limits = { maxBytes: 4096, maxLines: 64 };
  assertDecoderSafe(
    fc.string({ unit: 'binary', maxLength: 200 }),
    (text) => parseBlocklist(text, limits),
    BlocklistError,
  );
  const seed = Buffer.from(
    '# list\nA:1.2.3.0-1.2.3.255\nB:b:10.0.0.0-10.255.255.255\n192.168.0.0/16\n5.5.5.5-5.5.5.9\n',
  );
  assertDecoderSafe(
    mutated(seed),
    (bytes) => parseBlocklist(Buffer.from(bytes).toString('latin1'), limits),
    BlocklistError,
  );
});
