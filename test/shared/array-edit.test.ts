import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { insertAt, removeAt } from '../../src/shared/array-edit.js';

test('property: insertAt and removeAt edit a list as splice does', () => {
  const edit = fc.tuple(fc.boolean(), fc.nat(40), fc.integer());
  fc.assert(
    fc.property(fc.array(edit, { maxLength: 100 }), (edits) => {
      const list: number[] = [];
      const reference: number[] = [];
      for (const [inserting, at, value] of edits) {
        if (inserting) {
          const index = at % (list.length + 1);
          insertAt(list, index, value);
          reference.splice(index, 0, value);
        } else {
          const index = at - 2; // sometimes out of range: nothing happens
          const removed = removeAt(list, index);
          const expected = index >= 0 ? reference.splice(index, 1)[0] : undefined;
          assert.equal(removed, expected);
        }
        assert.deepEqual(list, reference);
      }
    }),
    { numRuns: 500 },
  );
});
