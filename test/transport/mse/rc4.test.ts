import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRandom } from '../../../src/runtime/seeded-random.js';
import { Rc4 } from '../../../src/transport/mse/rc4.js';

/** Keystream = RC4 over zeros. */
function keystream(key: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  new Rc4(Buffer.from(key, 'hex')).process(out);
  return out;
}

// RFC 6229 section 2: 16 keystream bytes at each offset (decimal) for some of its keys.
const RFC_6229: readonly { key: string; at: Record<number, string> }[] = [
  {
    key: '0102030405',
    at: {
      0: 'b2396305f03dc027ccc3524a0a1118a8',
      16: '6982944f18fc82d589c403a47a0d0919',
      240: '28cb1132c96ce286421dcaadb8b69eae',
      256: '1cfcf62b03eddb641d77dfcf7f8d8c93',
      1008: '45129048e6a0ed0b56b490338f078da5',
      1024: '30abbcc7c20b01609f23ee2d5f6bb7df',
      1536: 'd8729db41882259bee4f825325f5a130',
      1552: 'fc44ee7070acb398bd11a3e32b550b88',
      2048: 'cc582f8ba9f265e2b1be9112e975d2d7',
      3072: 'ec0e11c479dc329dc8da7968fe965681',
      4096: 'ff25b58995996707e51fbdf08b34d875',
    },
  },
  {
    key: '0102030405060708090a0b0c0d0e0f10',
    at: {
      0: '9ac7cc9a609d1ef7b2932899cde41b97',
      16: '5248c4959014126a6e8a84f11d1a9e1c',
      240: '065902e4b620f6cc36c8589f66432f2b',
      1024: 'bdf0324e6083dcc6d3cedd3ca8c53c16',
      1536: 'ffa0b514647ec04f6306b892ae661181',
      4096: 'a36a4c301ae8ac13610ccbc12256cacc',
    },
  },
  {
    key: '833222772a',
    at: {
      0: '80ad97bdc973df8a2e879e92a497efda',
      1024: '7828d074119cab5c22b294d7a9bfa0bb',
      1536: '6251d87fd4aaae9a7e4ad5c217d3f300',
      4096: 'bf42c3018c2f7c66bfde524975768115',
    },
  },
];

test('RC4 produces the keystreams of RFC 6229', () => {
  for (const { key, at } of RFC_6229) {
    const stream = keystream(key, 4096 + 16);
    for (const [offset, hex] of Object.entries(at)) {
      const o = Number(offset);
      assert.equal(stream.subarray(o, o + 16).toString('hex'), hex, `key ${key} at ${o}`);
    }
  }
});

test('the classic "Key"/"Plaintext" example encrypts and decrypts', () => {
  const data = Buffer.from('Plaintext');
  new Rc4(Buffer.from('Key')).process(data);
  assert.equal(data.toString('hex'), 'bbf316e8d940af0ad3');
  new Rc4(Buffer.from('Key')).process(data);
  assert.equal(data.toString(), 'Plaintext');
});

test('calls continue the keystream: any split gives the bytes of one call', () => {
  const random = new SeededRandom(6229);
  const key = random.bytes(20);
  const whole = random.bytes(5000);
  const expected = Buffer.from(whole);
  new Rc4(key).process(expected);
  for (let round = 0; round < 50; round++) {
    const rc4 = new Rc4(key);
    const data = Buffer.from(whole);
    for (let at = 0; at < data.length; ) {
      const n = Math.min(data.length - at, random.int(round < 25 ? 9 : 700));
      if (random.int(2) === 0) rc4.process(data.subarray(at, at + n));
      else rc4.process(data, at, at + n);
      at += n;
    }
    assert.ok(data.equals(expected), `round ${round}`);
  }
});

test('discard(n) skips exactly n keystream bytes', () => {
  for (const n of [0, 1, 3, 1023, 1024, 1025, 3000]) {
    const skipped = new Rc4(Buffer.from('0102030405', 'hex'));
    skipped.discard(n);
    const rest = Buffer.alloc(32);
    skipped.process(rest);
    assert.ok(rest.equals(keystream('0102030405', n + 32).subarray(n)), `discard ${n}`);
  }
});

test('keys must be 1 to 256 bytes', () => {
  assert.throws(() => new Rc4(Buffer.alloc(0)), RangeError);
  assert.throws(() => new Rc4(Buffer.alloc(257)), RangeError);
  assert.doesNotThrow(() => new Rc4(Buffer.alloc(256)));
});
