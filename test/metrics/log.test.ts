import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LogError } from '../../src/metrics/errors.js';
import {
  defaultLogRoot,
  LogRoot,
  type LogRootOptions,
  logger,
  setDefaultLogRoot,
} from '../../src/metrics/log.js';
import { MemorySink } from '../../src/metrics/log-sinks.js';
import { ManualClock } from '../../src/runtime/manual-clock.js';

function setup(spec: string, options: Partial<LogRootOptions> = {}) {
  const clock = new ManualClock(0, 1_704_067_200_000);
  const memory = new MemorySink(100);
  const root = new LogRoot({ clock, spec, sinks: [memory.sink], ...options });
  const written = () => memory.records().map((r) => `${r.component} ${r.level} ${r.message}`);
  return { clock, memory, root, written };
}

test('a logger writes its level and the more severe ones, nothing below', () => {
  const { root, written } = setup('warn');
  const log = root.logger('swarm');
  log.trace('t');
  log.debug('d');
  log.info('i');
  log.warn('w');
  log.error('e');
  assert.deepEqual(written(), ['swarm warn w', 'swarm error e']);
  assert.equal(log.enabled('warn'), true);
  assert.equal(log.enabled('info'), false);
});

test('levels per component follow the spec', () => {
  const { root } = setup('info,dht:*=debug,swarm=warn,swarm:picker=trace,lsd=off');
  const levels = Object.fromEntries(
    [
      'dht',
      'dht:lookup',
      'dht:rpc:ping',
      'swarm',
      'swarm:choker',
      'swarm:picker',
      'node',
      'lsd',
    ].map((c) => [c, root.levelOf(c)]),
  );
  assert.deepEqual(levels, {
    dht: 'info',
    'dht:lookup': 'debug',
    'dht:rpc:ping': 'debug',
    swarm: 'warn',
    'swarm:choker': 'warn',
    'swarm:picker': 'trace',
    node: 'info',
    lsd: 'off',
  });
});

test('off writes nothing, not even errors', () => {
  const { root, written } = setup('off');
  root.logger('node').error('x');
  assert.deepEqual(written(), []);
});

test('records carry the clock’s wall time, the component and the fields', () => {
  const { root, clock, memory } = setup('debug');
  clock.advance(1500);
  root.logger('dht:lookup').debug('lookup done', { hops: 3, ms: 120 });
  assert.deepEqual(memory.records(), [
    {
      time: 1_704_067_201_500,
      level: 'debug',
      component: 'dht:lookup',
      message: 'lookup done',
      fields: { hops: 3, ms: 120 },
    },
  ]);
});

test('fields given as a function are computed only when the record is written', () => {
  const { root, memory } = setup('info');
  const log = root.logger('dht');
  let calls = 0;
  const fields = () => {
    calls++;
    return { table: 'big' };
  };
  log.debug('skipped', fields);
  assert.equal(calls, 0);
  log.info('written', fields);
  assert.equal(calls, 1);
  assert.deepEqual(memory.records()[0]?.fields, { table: 'big' });
  log.info('fields fail', () => {
    throw new Error('bug');
  });
  const failed = memory.records()[1]?.fields?.fieldsFailed;
  assert.ok(failed instanceof Error && failed.message === 'bug');
});

test('loggers made earlier follow a new spec and new sinks', () => {
  const { root, written } = setup('error');
  const log = root.logger('tracker');
  log.info('before');
  root.configure('tracker=info');
  log.info('after');
  assert.deepEqual(written(), ['tracker info after']);
  const extra = new MemorySink(10);
  const remove = root.addSink(extra.sink);
  log.info('both');
  remove();
  remove();
  log.info('first only');
  assert.deepEqual(
    extra.records().map((r) => r.message),
    ['both'],
  );
  assert.deepEqual(written(), [
    'tracker info after',
    'tracker info both',
    'tracker info first only',
  ]);
  assert.throws(
    () => root.configure('tracker=loud'),
    (e: unknown) => e instanceof LogError,
  );
});

test('a root without sinks is off, so nothing is computed', () => {
  const root = new LogRoot({ clock: new ManualClock() });
  const log = root.logger('node');
  let calls = 0;
  log.error('x', () => {
    calls++;
    return {};
  });
  assert.equal(calls, 0);
  assert.equal(log.enabled('error'), false);
  assert.equal(root.levelOf('node'), 'off');
});

test('a sink that throws loses the record; other sinks and the caller carry on', () => {
  const { root, written } = setup('info');
  root.addSink(() => {
    throw new Error('disk full');
  });
  const later = new MemorySink(4);
  root.addSink(later.sink);
  root.logger('node').info('hello');
  assert.deepEqual(written(), ['node info hello']);
  assert.equal(later.records().length, 1);
  assert.equal(root.sinkFailures, 1);
});

test('child loggers extend the component; with() adds fields to every record', () => {
  const { root, memory } = setup('trace');
  const swarm = root.logger('swarm').with({ torrent: 'ab12' });
  const picker = swarm.child('picker');
  assert.equal(picker.component, 'swarm:picker');
  picker.trace('picked', { piece: 7, torrent: 'override' });
  swarm.with({ peer: '1.2.3.4:5' }).info('connected');
  swarm.info('plain');
  assert.deepEqual(
    memory.records().map((r) => [r.component, r.fields]),
    [
      ['swarm:picker', { torrent: 'override', piece: 7 }],
      ['swarm', { torrent: 'ab12', peer: '1.2.3.4:5' }],
      ['swarm', { torrent: 'ab12' }],
    ],
  );
});

test('component names are checked', () => {
  const { root } = setup('info');
  for (const bad of ['', 'dht:', ':dht', 'DHT', 'a b', 'a=b', 'a,b', 'dht:*', 'x'.repeat(201)])
    assert.throws(
      () => root.logger(bad),
      (e: unknown) => e instanceof LogError && e.code === 'LOG_COMPONENT_INVALID',
      bad,
    );
  assert.throws(() => root.logger('dht').child('Bad'), LogError);
  root.logger('swarm:peer-set.v2_x');
});

test('logger() follows the default root, which tests can replace', () => {
  const log = logger('node');
  const original = defaultLogRoot();
  assert.equal(log.enabled('error'), false, 'silent until configured');
  const { root, written } = setup('debug');
  const previous = setDefaultLogRoot(root);
  try {
    assert.equal(previous, original);
    log.debug('now visible');
    logger('node:config').info('another');
  } finally {
    setDefaultLogRoot(previous);
  }
  log.error('silent again');
  assert.deepEqual(written(), ['node debug now visible', 'node:config info another']);
});

test('a spec object can be given instead of a string', () => {
  const { root } = setup('info');
  root.configure({ defaultLevel: 'warn', rules: [{ pattern: 'dht', level: 'trace' }] });
  assert.equal(root.levelOf('dht:x'), 'trace');
  assert.equal(root.levelOf('swarm'), 'warn');
  assert.deepEqual(root.spec.rules, [{ pattern: 'dht', level: 'trace' }]);
});
