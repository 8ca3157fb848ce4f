import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { WireError } from '../../src/wire/errors.js';
import { decodeMetadataMessage, encodeMetadataMessage } from '../../src/wire/ut-metadata.js';
import { decodePex, encodePex } from '../../src/wire/ut-pex.js';
import { expectOnly, FUZZ_RUNS, mutated } from '../support/fuzz.js';

test('ut_metadata messages match BEP 9 byte for byte', () => {
  assert.equal(
    encodeMetadataMessage({ type: 'request', piece: 0 }).toString(),
    'd8:msg_typei0e5:piecei0ee',
  );
  assert.equal(
    encodeMetadataMessage({ type: 'reject', piece: 0 }).toString(),
    'd8:msg_typei2e5:piecei0ee',
  );
  const data = encodeMetadataMessage({
    type: 'data',
    piece: 0,
    totalSize: 3425,
    data: Buffer.from('xyz'),
  });
  assert.equal(data.toString(), 'd8:msg_typei1e5:piecei0e10:total_sizei3425eexyz');
  assert.deepEqual(decodeMetadataMessage(data), {
    type: 'data',
    piece: 0,
    totalSize: 3425,
    data: Buffer.from('xyz'),
  });
  assert.throws(
    () => decodeMetadataMessage(Buffer.from('d8:msg_typei1e5:piecei0ee')),
    /total_size/,
  );
  assert.throws(() => decodeMetadataMessage(Buffer.from('d8:msg_typei9e5:piecei0ee')), /unknown/);
  assert.throws(
    () => decodeMetadataMessage(Buffer.from('d8:msg_typei0e5:piecei-1ee')),
    /out of range/,
  );
});

test('ut_pex messages round-trip with flags and are capped at 50 peers', () => {
  const added = Array.from({ length: 60 }, (_, i) => ({
    host: `10.0.${i}.1`,
    port: 1000 + i,
    flags: i % 32,
  }));
  const m = decodePex(
    encodePex({
      added: [...added, { host: '::1', port: 7, flags: 2 }],
      dropped: [{ host: '10.9.9.9', port: 9 }],
    }),
  );
  assert.equal(m.added.length, 50);
  assert.deepEqual(m.added[3], added[3]);
  assert.deepEqual(m.dropped, [{ host: '10.9.9.9', port: 9 }]);
  const v6 = decodePex(
    encodePex({ added: [{ host: '2001:db8::2', port: 51413, flags: 0x10 }], dropped: [] }),
  );
  assert.deepEqual(v6.added, [{ host: '2001:db8::2', port: 51413, flags: 0x10 }]);
});

test('fuzz: ut_metadata and ut_pex decoders never throw anything but WireError', () => {
  const meta = encodeMetadataMessage({
    type: 'data',
    piece: 1,
    totalSize: 40000,
    data: Buffer.alloc(30, 7),
  });
  const pex = encodePex({
    added: [{ host: '10.1.2.3', port: 4, flags: 1 }],
    dropped: [{ host: '10.3.2.1', port: 5 }],
  });
  for (const [decodeIt, sample] of [
    [decodeMetadataMessage, meta],
    [decodePex, pex],
  ] as const) {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 120 }), mutated(sample)), (bytes) => {
        try {
          decodeIt(bytes);
        } catch (error) {
          expectOnly(error, WireError);
        }
      }),
      { numRuns: FUZZ_RUNS },
    );
  }
});
