import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LogError } from '../../src/metrics/errors.js';
import {
  formatLogSpec,
  isComponentName,
  LOG_LEVELS,
  type LogSpec,
  levelFor,
  parseLogSpec,
} from '../../src/metrics/log-spec.js';
import { assertDecoderSafe, FUZZ_RUNS, mutated } from '../support/fuzz.js';

test('a spec: a default level and pattern=level rules', () => {
  assert.deepEqual(parseLogSpec('info,dht:*=debug,swarm=warn'), {
    defaultLevel: 'info',
    rules: [
      { pattern: 'dht:*', level: 'debug' },
      { pattern: 'swarm', level: 'warn' },
    ],
  });
  assert.deepEqual(parseLogSpec(''), { defaultLevel: 'info', rules: [] });
  assert.deepEqual(parseLogSpec(' DEBUG , , Swarm = Trace ,warn,'), {
    defaultLevel: 'warn',
    rules: [{ pattern: 'swarm', level: 'trace' }],
  });
  assert.deepEqual(parseLogSpec('off').defaultLevel, 'off');
});

test('mistakes are explained', () => {
  const cases: [string, RegExp][] = [
    [
      'verbose',
      /entry 1 \('verbose'\) is not a level \(use error, warn, info, debug, trace or off\)/,
    ],
    ['info,dht', /entry 2 \('dht'\) is not a level \(.*\); to select a component write dht=debug/],
    ['dht=loud', /'loud' is not a level/],
    ['=debug', /'' is no component pattern/],
    ['a b=debug', /'a b' is no component pattern/],
    ['dht::x=debug', /no component pattern/],
    ['a=b=c', /more than one '='/],
    ['info!', /'info!'\) is not a level \(use error, warn, info, debug, trace or off\)$/],
    ['x'.repeat(5000), /at most 4096/],
    [Array.from({ length: 300 }, (_, i) => `c${i}=info`).join(','), /more than 256 rules/],
  ];
  for (const [spec, why] of cases)
    assert.throws(
      () => parseLogSpec(spec),
      (e: unknown) =>
        e instanceof LogError &&
        e.code === 'LOG_SPEC_INVALID' &&
        e.message.startsWith('log spec: ') &&
        why.test(e.message),
      spec.slice(0, 40),
    );
});

test('which rule wins: the most literal characters, then the later one', () => {
  const spec = parseLogSpec('warn,dht=info,dht:lookup=trace,*:rpc=debug,d*t=error,*=off');
  assert.equal(levelFor(spec, 'dht:lookup'), 'trace');
  assert.equal(levelFor(spec, 'dht:lookup:step'), 'trace');
  assert.equal(levelFor(spec, 'dht:rpc'), 'debug'); // '*:rpc' (4) beats 'dht' (3)
  assert.equal(levelFor(spec, 'dht'), 'info'); // 'dht' (3) beats 'd*t' (2)
  assert.equal(levelFor(spec, 'dot'), 'error');
  assert.equal(levelFor(spec, 'swarm'), 'off'); // '*' selects everything
  assert.equal(levelFor(parseLogSpec('warn,a=info,a=debug'), 'a'), 'debug');
  assert.equal(levelFor(parseLogSpec('warn,dht:*=debug'), 'dht'), 'warn');
  assert.equal(levelFor(parseLogSpec('warn,dh=debug'), 'dht'), 'warn');
  assert.equal(levelFor(parseLogSpec('warn,*a*a*=debug'), 'aa'), 'debug');
  assert.equal(levelFor(parseLogSpec('warn,*a*a*=debug'), 'a'), 'warn');
  assert.equal(levelFor(parseLogSpec('warn,a*b*c=debug'), 'abc'), 'debug');
  assert.equal(levelFor(parseLogSpec('warn,a*b*c=debug'), 'acb'), 'warn');
  assert.equal(levelFor(parseLogSpec('warn,ab*bc=debug'), 'abc'), 'warn');
});

const segment = fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{0,6}$/);
const component = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join(':'));
const threshold = fc.constantFrom(...LOG_LEVELS, 'off' as const);
const pattern = fc.oneof(
  component,
  fc
    .array(fc.oneof(segment, fc.constant('*'), fc.stringMatching(/^[a-z*]{1,5}$/)), {
      minLength: 1,
      maxLength: 3,
    })
    .map((s) => s.join(':')),
);
const spec: fc.Arbitrary<LogSpec> = fc.record(
  {
    defaultLevel: threshold,
    rules: fc.array(fc.record({ pattern, level: threshold }, { noNullPrototype: true }), {
      maxLength: 6,
    }),
  },
  { noNullPrototype: true },
);

test('format then parse gives the spec back', () => {
  fc.assert(
    fc.property(spec, (s) => {
      assert.deepEqual(parseLogSpec(formatLogSpec(s)), s);
    }),
    { numRuns: Math.min(FUZZ_RUNS, 20_000) },
  );
});

test('every generated component name is valid and gets a level', () => {
  fc.assert(
    fc.property(spec, component, (s, c) => {
      assert.ok(isComponentName(c));
      const level = levelFor(s, c);
      assert.ok([...LOG_LEVELS, 'off'].includes(level));
      // A rule naming the component exactly, added last, always decides.
      assert.equal(
        levelFor({ ...s, rules: [...s.rules, { pattern: c, level: 'trace' }] }, c),
        'trace',
      );
    }),
    { numRuns: Math.min(FUZZ_RUNS, 20_000) },
  );
});

test('random text never makes parseLogSpec throw anything but LogError', () => {
  assertDecoderSafe(fc.string({ maxLength: 80 }), (text) => parseLogSpec(text), LogError);
  assertDecoderSafe(
    fc.string({ unit: fc.constantFrom(...'abdeginoprtw*:=, .-_'), maxLength: 60 }),
    (text) => parseLogSpec(text),
    LogError,
  );
});

test('mutated valid specs never make parseLogSpec throw anything but LogError', () => {
  const seed = Buffer.from('info,dht:*=debug,swarm=warn,*:rpc=trace,lsd=off', 'latin1');
  assertDecoderSafe(
    mutated(seed),
    (bytes) => parseLogSpec(Buffer.from(bytes).toString('latin1')),
    LogError,
  );
});
