/**
 * Application bytes waiting to be cut into packets. Chunks are kept as given (not copied) and
 * copied once, straight into a packet buffer, when the window lets a packet go; a `writev`'s
 * `flushed` callback runs when its last byte has been copied out.
 */
export class SendQueue {
  /** Bytes queued and not yet copied into packets. */
  bytes = 0;
  private chunks: Uint8Array[] = [];
  private flushed: ((() => void) | undefined)[] = [];
  private head = 0;
  private offset = 0;

  /** Queues `chunk`; `flushed` (if any) runs once all of it has been taken. */
  push(chunk: Uint8Array, flushed?: () => void): void {
    if (chunk.length === 0) {
      if (flushed !== undefined) {
        if (this.bytes === 0) flushed();
        else this.attachToLast(flushed);
      }
      return;
    }
    this.chunks.push(chunk);
    this.flushed.push(flushed);
    this.bytes += chunk.length;
  }

  /** Copies up to `n` bytes into `target` at `at`; returns how many were copied. */
  take(target: Uint8Array, at: number, n: number): number {
    let copied = 0;
    while (copied < n && this.head < this.chunks.length) {
      const chunk = this.chunks[this.head]!;
      const k = Math.min(n - copied, chunk.length - this.offset);
      target.set(
        this.offset === 0 && k === chunk.length
          ? chunk
          : chunk.subarray(this.offset, this.offset + k),
        at + copied,
      );
      copied += k;
      this.offset += k;
      if (this.offset === chunk.length) {
        const done = this.flushed[this.head];
        this.chunks[this.head] = EMPTY;
        this.flushed[this.head] = undefined;
        this.head++;
        this.offset = 0;
        done?.();
      }
    }
    this.bytes -= copied;
    if (this.head > 64 && this.head * 2 > this.chunks.length) this.compact();
    return copied;
  }

  /** Drops everything queued; pending `flushed` callbacks are never called. */
  clear(): void {
    this.chunks = [];
    this.flushed = [];
    this.head = 0;
    this.offset = 0;
    this.bytes = 0;
  }

  private attachToLast(flushed: () => void): void {
    const i = this.flushed.length - 1;
    const earlier = this.flushed[i];
    this.flushed[i] =
      earlier === undefined
        ? flushed
        : () => {
            earlier();
            flushed();
          };
  }

  private compact(): void {
    this.chunks = this.chunks.slice(this.head);
    this.flushed = this.flushed.slice(this.head);
    this.head = 0;
  }
}

const EMPTY = new Uint8Array(0);
