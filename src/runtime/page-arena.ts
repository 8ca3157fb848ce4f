import type { WriteMemory } from './runtime.js';

/** Memory and file offsets that O_DIRECT accepts: 4096 covers 512-byte and 4 KiB sectors. */
export const PAGE_BYTES = 4096;
/** The arena's size limit: enough for a download's pieces in flight and its spare buffers. */
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
const WASM_PAGE_BYTES = 65536;

// The one piece of the WebAssembly API used here (Node's types leave the global undeclared).
declare const WebAssembly: {
  Memory: new (descriptor: {
    initial: number;
    maximum: number;
    shared: true;
  }) => { readonly buffer: SharedArrayBuffer; grow(pages: number): number };
};

const fill = Buffer.prototype.fill as (
  this: Uint8Array,
  value: Uint8Array,
  start: number,
  end: number,
) => unknown;

/**
 * Copies `source` into `target` at byte `at` (they must not overlap) at memcpy speed, also when
 * either lives in shared memory such as the arena's: V8 copies into or out of a
 * SharedArrayBuffer with relaxed atomic stores, word by word (`TypedArray#set`: 0.26 s per GiB
 * on a 2-core Xeon VM, against 0.04 s between ordinary buffers), while Node's `Buffer#fill`
 * with a buffer as the value is one native memcpy when the value spans the range.
 * @throws {RangeError} when the bytes would not fit at `at` (Node's own range check)
 */
export function copyBytes(target: Uint8Array, source: Uint8Array, at = 0): void {
  if (source.byteLength > 0) fill.call(target, source, at, at + source.byteLength);
}

/**
 * Page-aligned memory lent out in slots, so that verified pieces can be written past the page
 * cache (O_DIRECT) straight from the buffer they were downloaded into, without a copy into an
 * aligned staging buffer (a memcpy of every byte: 0.17 s of leecher CPU per GiB on a 2-core
 * Xeon VM). Node cannot ask for aligned memory; a WebAssembly memory starts on a page boundary,
 * so slots cut from it at multiples of 4096 are aligned. The memory is shared
 * (SharedArrayBuffer), so hashing workers read a slot in place instead of taking it over.
 *
 * Slots are handed back explicitly ({@link give}) and kept per size for reuse; the arena grows
 * up to a limit and never shrinks. Past the limit {@link take} has nothing, and callers use
 * ordinary memory (whose writes then go through a staging copy): a slot never handed back is
 * lost to the arena, never to correctness.
 */
export class PageArena {
  private readonly memory: { readonly buffer: SharedArrayBuffer; grow(pages: number): number };
  /** Every SharedArrayBuffer object the memory has had (growing makes a new one). */
  private readonly buffers = new WeakSet<SharedArrayBuffer>();
  private readonly free = new Map<number, Uint8Array[]>();
  /** Slots lent out, by start offset: what {@link give} takes back (once). */
  private readonly lent = new Map<number, number>();
  /** Bytes of the memory cut into slots so far. */
  private top = 0;

  /** @throws when the memory cannot be had (no WebAssembly, an address-space limit). */
  constructor(private readonly maxBytes = DEFAULT_MAX_BYTES) {
    this.memory = new WebAssembly.Memory({
      initial: 0,
      maximum: Math.ceil(maxBytes / WASM_PAGE_BYTES),
      shared: true,
    });
    this.buffers.add(this.memory.buffer);
  }

  /** A page-aligned slot of `bytes` (rounded up to whole pages), or undefined when full. */
  take(bytes: number): Uint8Array | undefined {
    const size = Math.max(PAGE_BYTES, Math.ceil(bytes / PAGE_BYTES) * PAGE_BYTES);
    let slot = this.free.get(size)?.pop();
    if (slot === undefined) {
      if (this.top + size > this.maxBytes) return undefined;
      const needed = this.top + size - this.memory.buffer.byteLength;
      if (needed > 0) {
        this.memory.grow(Math.ceil(needed / WASM_PAGE_BYTES));
        this.buffers.add(this.memory.buffer);
      }
      slot = new Uint8Array(this.memory.buffer, this.top, size);
      this.top += size;
    }
    this.lent.set(slot.byteOffset, size);
    return slot;
  }

  /**
   * Takes back a slot from {@link take} (or a view of its start); anything else, or a slot
   * given twice, is ignored.
   */
  give(slot: Uint8Array): void {
    if (!this.owns(slot)) return;
    const size = this.lent.get(slot.byteOffset);
    if (size === undefined || slot.byteLength > size) return;
    this.lent.delete(slot.byteOffset);
    const list = this.free.get(size) ?? [];
    list.push(new Uint8Array(slot.buffer, slot.byteOffset, size));
    this.free.set(size, list);
  }

  /** True when `data` lies in this arena's memory and starts on a page boundary. */
  owns(data: Uint8Array): boolean {
    return (
      data.buffer instanceof SharedArrayBuffer &&
      this.buffers.has(data.buffer) &&
      data.byteOffset % PAGE_BYTES === 0
    );
  }
}

let arena: PageArena | null | undefined;

/** The process's arena, or null where WebAssembly memory cannot be had. */
export function pageArena(): PageArena | null {
  if (arena === undefined) {
    try {
      arena = new PageArena();
    } catch {
      arena = null; // an address-space limit (ulimit -v): ordinary memory and staging copies
    }
  }
  return arena;
}

/** The process's arena as a file system's {@link WriteMemory}, made on the first slot taken. */
export const lazyPageArena: WriteMemory = {
  take: (bytes) => pageArena()?.take(bytes),
  give: (slot) => pageArena()?.give(slot),
};
