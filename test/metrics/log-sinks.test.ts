import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LogError, MetricsError } from '../../src/metrics/errors.js';
import {
  formatJson,
  formatText,
  jsonLinesSink,
  type LogRecord,
  MemorySink,
  plainValue,
  textSink,
} from '../../src/metrics/log-sinks.js';

const record = (over: Partial<LogRecord> = {}): LogRecord => ({
  time: Date.UTC(2024, 0, 2, 3, 4, 5, 678),
  level: 'info',
  component: 'dht:lookup',
  message: 'lookup done',
  fields: undefined,
  ...over,
});

test('text lines: time, level, component, message, fields', () => {
  assert.equal(formatText(record()), '2024-01-02T03:04:05.678Z INFO  dht:lookup lookup done\n');
  assert.equal(
    formatText(record({ level: 'warn', fields: { hops: 3, ms: 120.5, ok: true, none: null } })),
    '2024-01-02T03:04:05.678Z WARN  dht:lookup lookup done hops=3 ms=120.5 ok=true none=null\n',
  );
});

test('text fields: plain words bare, anything else quoted; one record stays one line', () => {
  const line = formatText(
    record({
      message: 'two\nlines\tand \u001b[31mcolour',
      fields: {
        peer: '1.2.3.4:6881',
        url: 'udp://tracker.example:80/announce',
        name: 'has spaces "and quotes"',
        empty: '',
        big: 12345678901234567890n,
        id: Buffer.from([0xde, 0xad, 0xbe, 0xef]),
        list: [1, 'a'],
        nested: { a: { b: 1 } },
        error: new MetricsError('METRIC_CONFLICT', 'bad\nthing'),
        inf: Number.POSITIVE_INFINITY,
        missing: undefined,
        'odd\nkey': 1,
      },
    }),
  );
  assert.equal(line.split('\n').length, 2, 'one line and the final line feed');
  assert.equal(
    line,
    '2024-01-02T03:04:05.678Z INFO  dht:lookup two\\nlines\\tand \\u001b[31mcolour' +
      ' peer=1.2.3.4:6881 url=udp://tracker.example:80/announce' +
      ' name="has spaces \\"and quotes\\"" empty="" big=12345678901234567890 id=deadbeef' +
      ' list=[1,"a"] nested={"a":{"b":1}} error="MetricsError METRIC_CONFLICT: bad\\nthing"' +
      ' inf=Infinity missing=null odd\\nkey=1\n',
  );
});

test('JSON lines parse back, with fields made JSON-safe', () => {
  const cyclic: Record<string, unknown> = { name: 'loop' };
  cyclic.self = cyclic;
  const line = formatJson(
    record({
      level: 'error',
      fields: {
        n: 1n,
        bytes: new Uint8Array([1, 2]),
        cyclic,
        when: new Date(0),
        error: new Error('x'),
      },
    }),
  );
  assert.ok(line.endsWith('}\n'));
  assert.deepEqual(JSON.parse(line), {
    time: '2024-01-02T03:04:05.678Z',
    level: 'error',
    component: 'dht:lookup',
    msg: 'lookup done',
    fields: {
      n: '1',
      bytes: '0102',
      cyclic: {
        name: 'loop',
        self: { name: 'loop', self: { name: 'loop', self: { name: 'loop', self: '[…]' } } },
      },
      when: '1970-01-01T00:00:00.000Z',
      error: { name: 'Error', message: 'x' },
    },
  });
  assert.deepEqual(Object.keys(JSON.parse(formatJson(record()))), [
    'time',
    'level',
    'component',
    'msg',
  ]);
});

test('field values are bounded: long strings, long arrays, many keys, long byte strings', () => {
  assert.equal((plainValue('x'.repeat(5000)) as string).length, 1025);
  const list = plainValue(Array.from({ length: 100 }, (_, i) => i)) as unknown[];
  assert.equal(list.length, 65);
  assert.equal(list[64], '… 36 more');
  const keys = Object.keys(
    plainValue(Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i]))) as object,
  );
  assert.equal(keys.length, 65);
  assert.equal(plainValue(new Uint8Array(100)), `${'00'.repeat(64)}…`);
  assert.equal(plainValue(new Date(Number.NaN)), null);
  assert.equal(plainValue(Symbol('s')), 'Symbol(s)');
});

test('text and JSON sinks hand whole lines to their writer', () => {
  const out: string[] = [];
  textSink((s) => out.push(s))(record());
  jsonLinesSink((s) => out.push(s))(record());
  assert.equal(out.length, 2);
  assert.ok(out.every((s) => s.endsWith('\n') && s.indexOf('\n') === s.length - 1));
  assert.equal(JSON.parse(out[1]!).msg, 'lookup done');
});

test('the memory sink keeps the last records, oldest first, and counts the overwritten', () => {
  const memory = new MemorySink(3);
  for (const message of ['a', 'b']) memory.sink(record({ message }));
  assert.deepEqual(
    memory.records().map((r) => r.message),
    ['a', 'b'],
  );
  for (const message of ['c', 'd', 'e']) memory.sink(record({ message }));
  assert.deepEqual(
    memory.records().map((r) => r.message),
    ['c', 'd', 'e'],
  );
  assert.equal(memory.overwritten, 2);
  memory.clear();
  assert.deepEqual(memory.records(), []);
  assert.equal(memory.overwritten, 0);
  for (const bad of [0, -1, 1.5, Number.NaN])
    assert.throws(
      () => new MemorySink(bad),
      (e: unknown) => e instanceof LogError && e.code === 'LOG_OPTIONS_INVALID',
    );
});
