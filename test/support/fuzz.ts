import fc from 'fast-check';

/**
 * Runs per property-based decoder test: 100,000 by default as CI requires, fewer when
 * SHOAL_FUZZ_RUNS says so for a quick local loop. fast-check prints the seed and path of any
 * failure so it can be replayed with `{ seed, path }`.
 */
export const FUZZ_RUNS = Number(process.env.SHOAL_FUZZ_RUNS ?? 100_000);

/** A byte array with random point mutations: flips, inserts, deletes and truncation. */
export function mutated(base: Uint8Array): fc.Arbitrary<Uint8Array> {
  const edit = fc.record({
    kind: fc.constantFrom('flip', 'set', 'insert', 'delete', 'truncate', 'duplicate'),
    at: fc.nat(),
    byte: fc.integer({ min: 0, max: 255 }),
    len: fc.integer({ min: 1, max: 64 }),
  });
  return fc.array(edit, { minLength: 1, maxLength: 6 }).map((edits) => {
    let b = Buffer.from(base);
    for (const e of edits) {
      const at = b.length === 0 ? 0 : e.at % b.length;
      switch (e.kind) {
        case 'flip':
          if (b.length > 0) b[at] = b[at]! ^ (1 << (e.byte % 8));
          break;
        case 'set':
          if (b.length > 0) b[at] = e.byte;
          break;
        case 'insert':
          b = Buffer.concat([b.subarray(0, at), Buffer.alloc(e.len, e.byte), b.subarray(at)]);
          break;
        case 'delete':
          b = Buffer.concat([b.subarray(0, at), b.subarray(at + e.len)]);
          break;
        case 'truncate':
          b = b.subarray(0, at);
          break;
        case 'duplicate':
          b = Buffer.concat([b.subarray(0, at + e.len), b.subarray(at)]);
          break;
      }
    }
    return b;
  });
}

/** Asserts a thrown value is of one of the expected error classes, rethrowing anything else. */
export function expectOnly(
  error: unknown,
  ...classes: (abstract new (
    ...args: never[]
  ) => Error)[]
): void {
  if (!classes.some((c) => error instanceof c)) throw error;
}

/**
 * The property every decoder must have: on any input from `inputs` it returns or throws one of
 * `errors`, nothing else (no TypeError, no RangeError, no hang). Runs {@link FUZZ_RUNS} cases.
 */
export function assertDecoderSafe<T>(
  inputs: fc.Arbitrary<T>,
  decodeIt: (input: T) => unknown,
  ...errors: (abstract new (
    ...args: never[]
  ) => Error)[]
): void {
  fc.assert(
    fc.property(inputs, (input) => {
      try {
        decodeIt(input);
      } catch (error) {
        expectOnly(error, ...errors);
      }
    }),
    { numRuns: FUZZ_RUNS },
  );
}
