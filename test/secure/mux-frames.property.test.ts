import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Mux } from '../../src/secure/mux.js';
import { MuxError } from '../../src/secure/mux-errors.js';
import {
  type ChannelRef,
  decodeFrame,
  encodeCredit,
  encodeEmpty,
  encodeMessageHeader,
  encodeOpen,
  encodeReject,
  FrameKind,
  FrameReader,
} from '../../src/secure/mux-frames.js';
import { fakeStream } from '../support/fake-stream.js';
import { assertDecoderSafe, FUZZ_RUNS, mutated } from '../support/fuzz.js';

const ref = fc.record({
  number: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  openedByReceiver: fc.boolean(),
});

/** A valid frame (bytes, length field included) and what it decodes to. */
const frame = fc.oneof(
  fc
    .tuple(
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      fc.string({ minLength: 1, maxLength: 40 }),
      fc.uint8Array({ maxLength: 40 }),
    )
    .map(([number, protocol, id]) => ({
      bytes: encodeOpen(number, protocol, id),
      expect: {
        number,
        openedByReceiver: false,
        kind: FrameKind.OPEN,
        protocol,
        id: Buffer.from(id),
      },
    })),
  fc.tuple(ref, fc.constantFrom(FrameKind.ACCEPT, FrameKind.CLOSE)).map(([r, kind]) => ({
    bytes: encodeEmpty(kind, r),
    expect: { ...r, kind },
  })),
  fc
    .tuple(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.string({ maxLength: 60 }))
    .map(([number, reason]) => ({
      bytes: encodeReject(number, reason),
      expect: { number, openedByReceiver: true, kind: FrameKind.REJECT, reason },
    })),
  fc.tuple(ref, fc.integer({ min: 0, max: 2 ** 32 - 1 })).map(([r, credit]) => ({
    bytes: encodeCredit(r, credit),
    expect: { ...r, kind: FrameKind.CREDIT, credit },
  })),
  fc
    .tuple(ref, fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 300 }))
    .map(([r, type, payload]) => ({
      bytes: Buffer.concat([encodeMessageHeader(r, type, payload.length), payload]),
      expect: { ...r, kind: FrameKind.MESSAGE, type, payload: Buffer.from(payload) },
    })),
);

/** Frames read from `bytes` fed in chunks of the given lengths. */
function readAll(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const reader = new FrameReader();
  const out: Buffer[] = [];
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    reader.push(bytes.subarray(at, at + cut), (body) => {
      out.push(Buffer.from(body));
      return true;
    });
    at += cut;
    if (at >= bytes.length) break;
  }
  return out;
}

const cuts = fc.array(fc.integer({ min: 1, max: 400 }), { maxLength: 20 });

test('every frame kind encodes and decodes back, from every split point', () => {
  fc.assert(
    fc.property(fc.array(frame, { minLength: 1, maxLength: 8 }), cuts, (frames, cs) => {
      const bodies = readAll(Buffer.concat(frames.map((f) => f.bytes)), cs);
      assert.equal(bodies.length, frames.length);
      bodies.forEach((body, i) => {
        assert.deepEqual(decodeFrame(body), frames[i]!.expect);
      });
    }),
    { numRuns: Math.min(FUZZ_RUNS, 20_000) },
  );
});

test('random bytes only raise MuxError, in the reader and the decoder', () => {
  assertDecoderSafe(
    fc.tuple(fc.uint8Array({ maxLength: 200 }), cuts),
    ([bytes, cs]) => {
      for (const body of readAll(Buffer.from(bytes), cs)) decodeFrame(body);
    },
    MuxError,
  );
});

test('a frame length over the limit is refused before buffering', () => {
  const reader = new FrameReader();
  assert.throws(() => reader.push(Buffer.from([0x7f, 0xff, 0xff, 0xff, 0]), () => true), {
    code: 'MUX_PROTOCOL',
  });
});

test('a multiplexer fed mutated or random frames never throws, and closes only with MuxError', () => {
  const session = Buffer.concat([
    encodeOpen(0, 'shoal/ping', Buffer.alloc(0)),
    encodeMessageHeader({ number: 0, openedByReceiver: false } as ChannelRef, 0, 8),
    Buffer.alloc(8),
    encodeCredit({ number: 0, openedByReceiver: false }, 1000),
    encodeEmpty(FrameKind.CLOSE, { number: 0, openedByReceiver: false }),
    encodeOpen(1, 'other', Buffer.from('id')),
  ]);
  fc.assert(
    fc.property(
      fc.oneof(mutated(session), fc.uint8Array({ maxLength: 200 })),
      cuts,
      (bytes, cs) => {
        let onData: (data: Buffer) => void = () => {};
        const stream = {
          ...fakeStream(() => true),
          onData: (h: (d: Buffer) => void) => {
            onData = h;
          },
        };
        const mux = new Mux(stream);
        mux.handle('shoal/ping', (r) => r.accept());
        let closedWith: Error | undefined;
        mux.onClose((e) => {
          closedWith = e;
        });
        let at = 0;
        for (const cut of [...cs, bytes.length]) {
          onData(Buffer.from(bytes).subarray(at, at + cut));
          at += cut;
          if (at >= bytes.length) break;
        }
        if (closedWith !== undefined) assert.ok(closedWith instanceof MuxError);
      },
    ),
    { numRuns: Math.min(FUZZ_RUNS, 20_000) },
  );
});
