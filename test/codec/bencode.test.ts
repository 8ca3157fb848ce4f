import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BencodeError,
  decode,
  decodePrefix,
  encode,
  type Span,
  tryDecode,
} from '../../src/codec/bencode.js';

const b = (s: string) => Buffer.from(s, 'latin1');

test('decodes the BEP 3 examples', () => {
  assert.deepEqual(decode(b('4:spam')), b('spam'));
  assert.equal(decode(b('i3e')), 3);
  assert.equal(decode(b('i-3e')), -3);
  assert.equal(decode(b('i0e')), 0);
  assert.deepEqual(decode(b('l4:spam4:eggse')), [b('spam'), b('eggs')]);
  assert.deepEqual(
    decode(b('d3:cow3:moo4:spam4:eggse')),
    new Map([
      ['cow', b('moo')],
      ['spam', b('eggs')],
    ]),
  );
  assert.deepEqual(decode(b('d4:spaml1:a1:bee')), new Map([['spam', [b('a'), b('b')]]]));
  assert.deepEqual(decode(b('0:')), b(''));
});

test('encodes canonically with sorted keys', () => {
  assert.equal(
    encode({ spam: ['a', 'b'], cow: 'moo' }).toString('latin1'),
    'd3:cow3:moo4:spaml1:a1:bee',
  );
  assert.equal(
    encode(
      new Map([
        ['b', 1],
        ['a', -2],
      ]),
    ).toString(),
    'd1:ai-2e1:bi1ee',
  );
  assert.equal(encode({ x: undefined, y: 0 }).toString(), 'd1:yi0ee');
});

test('large integers round-trip as bigint beyond 2^53', () => {
  assert.equal(decode(b('i9007199254740991e')), 9007199254740991);
  assert.equal(decode(b('i9007199254740993e')), 9007199254740993n);
  assert.equal(encode(9007199254740993n).toString(), 'i9007199254740993e');
});

test('rejects non-canonical and malformed input with a typed error and offset', () => {
  const cases: [string, RegExp][] = [
    ['i03e', /leading zero/],
    ['i-0e', /negative zero/],
    ['ie', /empty integer/],
    ['i-e', /empty integer/],
    ['i1', /unterminated integer/],
    ['03:abc', /leading zero/],
    ['5:abc', /past end/],
    ['d1:b0:1:a0:e', /not sorted/],
    ['d1:a0:1:a0:e', /duplicate/],
    ['di1e0:e', /key is not a string/],
    ['l', /unterminated list/],
    ['d', /unterminated dictionary/],
    ['x', /unexpected byte/],
    ['i1ei2e', /trailing bytes/],
    ['', /unexpected end/],
    ['i1.5e', /bad digit/],
  ];
  for (const [input, why] of cases) {
    assert.throws(
      () => decode(b(input)),
      (e: unknown) => e instanceof BencodeError && why.test(e.message),
      input,
    );
  }
  const r = tryDecode(b('i03e'));
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.equal(r.error.code, 'BENCODE_INVALID');
    assert.equal(r.error.offset, 0);
  }
});

test('enforces depth, string length and value-count limits', () => {
  const deep = `${'l'.repeat(65)}${'e'.repeat(65)}`;
  assert.throws(() => decode(b(deep)), /nesting too deep/);
  assert.doesNotThrow(() => decode(b(deep), { limits: { maxDepth: 70 } }));
  assert.throws(
    () => decode(b('10:0123456789'), { limits: { maxStringBytes: 9 } }),
    /exceeds limit/,
  );
  assert.throws(() => decode(b('li1ei2ei3ee'), { limits: { maxValues: 3 } }), /too many values/);
  // A huge declared length fails without allocating.
  assert.throws(() => decode(b('99999999999:x')), /exceeds limit/);
});

test('records the raw span of nested dictionaries', () => {
  const raw = b('d4:infod6:lengthi5ee3:zzzi1ee');
  const spans = new WeakMap<object, Span>();
  const top = decode(raw, { spans }) as Map<string, object>;
  const span = spans.get(top.get('info')!)!;
  assert.equal(raw.subarray(span.start, span.end).toString('latin1'), 'd6:lengthi5ee');
});

test('decodePrefix stops after one value', () => {
  const raw = b('d8:msg_typei1ee<raw piece data>');
  const { end } = decodePrefix(raw);
  assert.equal(raw.subarray(end).toString(), '<raw piece data>');
});

test('keeps binary keys and strings byte-exact', () => {
  const raw = Buffer.concat([
    b('d2:'),
    Buffer.from([0xff, 0x00]),
    b('1:'),
    Buffer.from([0x80]),
    b('e'),
  ]);
  const v = decode(raw);
  assert.deepEqual(encode(v as Map<string, Uint8Array>), raw);
});
