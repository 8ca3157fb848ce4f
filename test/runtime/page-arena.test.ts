/**
 * The page arena lends page-sized slots of one shared memory, takes them back for reuse, stays
 * within its limit, and recognises its own aligned memory (what may be written direct in place).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { copyBytes, PAGE_BYTES, PageArena, pageArena } from '../../src/runtime/page-arena.js';

const MiB = 1024 * 1024;

test('slots are whole pages of shared memory, at page offsets, apart from one another', () => {
  const arena = new PageArena(4 * MiB);
  const a = arena.take(1000)!;
  const b = arena.take(PAGE_BYTES * 3 + 1)!;
  assert.equal(a.byteLength, PAGE_BYTES);
  assert.equal(b.byteLength, PAGE_BYTES * 4);
  assert.ok(a.buffer instanceof SharedArrayBuffer);
  for (const s of [a, b]) assert.equal(s.byteOffset % PAGE_BYTES, 0);
  a.fill(1);
  b.fill(2);
  assert.ok(a.every((x) => x === 1));
  assert.ok(arena.owns(a) && arena.owns(b) && arena.owns(b.subarray(PAGE_BYTES)));
  assert.ok(!arena.owns(b.subarray(100)), 'not on a page boundary');
  assert.ok(!arena.owns(new Uint8Array(PAGE_BYTES)), 'ordinary memory');
  assert.ok(!new PageArena(MiB).owns(a), "another arena's memory");
});

test('a slot handed back is lent again; foreign, resized and repeated gives are ignored', () => {
  const arena = new PageArena(MiB);
  const a = arena.take(PAGE_BYTES)!;
  arena.give(new Uint8Array(PAGE_BYTES)); // not the arena's
  arena.give(a.subarray(0, 10)); // a view of its start: taken back
  arena.give(a); // twice: ignored
  const again = arena.take(PAGE_BYTES)!;
  assert.equal(again.byteOffset, a.byteOffset);
  const next = arena.take(PAGE_BYTES)!;
  assert.notEqual(next.byteOffset, a.byteOffset, 'the slot was lent once, not twice');
});

test('the arena grows to its limit and then lends nothing; older slots stay its own', () => {
  const arena = new PageArena(2 * MiB);
  const slots: Uint8Array[] = [];
  for (let s = arena.take(300 * 1024); s !== undefined; s = arena.take(300 * 1024)) slots.push(s);
  assert.equal(slots.length, Math.floor((2 * MiB) / (300 * 1024)));
  for (const s of slots) assert.ok(arena.owns(s), 'slots cut before the memory grew');
  assert.equal(arena.take(PAGE_BYTES * 100), undefined, 'past the limit');
  arena.give(slots[0]!);
  assert.ok(arena.take(300 * 1024), 'a slot handed back is there again');
});

test('slots never overlap, whatever the order of takes and gives (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.integer({ min: 1, max: 200_000 }), fc.constant(-1)), {
        maxLength: 60,
      }),
      (steps) => {
        const arena = new PageArena(4 * MiB);
        const held: Uint8Array[] = [];
        for (const step of steps) {
          if (step < 0) {
            const s = held.shift();
            if (s) arena.give(s);
            continue;
          }
          const s = arena.take(step);
          if (s === undefined) continue;
          assert.ok(s.byteLength >= step);
          for (const h of held) {
            const apart =
              s.byteOffset + s.byteLength <= h.byteOffset ||
              h.byteOffset + h.byteLength <= s.byteOffset;
            assert.ok(apart, 'two slots lent at once overlap');
          }
          held.push(s);
        }
      },
    ),
    { numRuns: 200, seed: 7 },
  );
});

test('the process arena is one, made once', () => {
  assert.equal(pageArena(), pageArena());
});

test('copyBytes copies into and out of shared and ordinary memory at any offset (property)', () => {
  const arena = new PageArena(MiB);
  const shared = arena.take(64 * 1024)!;
  const plain = new Uint8Array(64 * 1024);
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 4096 }),
      fc.nat(60 * 1024),
      fc.boolean(),
      (bytes, at, intoShared) => {
        const target = intoShared ? shared : plain;
        const other = intoShared ? plain : shared;
        target.fill(0xee);
        copyBytes(target, bytes, at);
        assert.deepEqual(target.subarray(at, at + bytes.length), bytes);
        assert.equal(target[at - 1] ?? 0xee, 0xee, 'the byte before is untouched');
        assert.equal(target[at + bytes.length] ?? 0xee, 0xee, 'the byte after is untouched');
        // And back out of it into the other kind of memory.
        copyBytes(other, target.subarray(at, at + bytes.length));
        assert.deepEqual(other.subarray(0, bytes.length), bytes);
      },
    ),
  );
  assert.throws(() => copyBytes(plain, new Uint8Array(2), plain.length - 1), RangeError);
  assert.throws(() => copyBytes(plain, new Uint8Array(1), -1), RangeError);
  copyBytes(plain, new Uint8Array(0), plain.length); // nothing to copy, nowhere: fine
});
