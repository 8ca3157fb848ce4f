/**
 * Bytes a handshake has received and not yet consumed. Chunks are lent only for the call that
 * delivers them, so they are copied in; fields are read as views that stay valid until the next
 * {@link push}. Callers bound how much they let accumulate.
 */
export class Inbox {
  private buf = Buffer.alloc(0);
  private start = 0;
  private end = 0;

  get length(): number {
    return this.end - this.start;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.end + chunk.length > this.buf.length) {
      const needed = this.length + chunk.length;
      if (needed <= this.buf.length) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        const grown = Buffer.allocUnsafe(Math.max(needed, 2 * this.buf.length, 256));
        this.buf.copy(grown, 0, this.start, this.end);
        this.buf = grown;
      }
      this.end -= this.start;
      this.start = 0;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }

  /** Everything unconsumed, as a view. */
  peek(): Buffer {
    return this.buf.subarray(this.start, this.end);
  }

  /** The next `n` bytes as a view, consumed. The caller checks {@link length} first. */
  take(n: number): Buffer {
    const out = this.buf.subarray(this.start, this.start + n);
    this.start += n;
    return out;
  }

  /** Drops the next `n` bytes. */
  skip(n: number): void {
    this.start += n;
  }

  /** A copy of everything unconsumed, consumed. */
  drain(): Buffer {
    const out = Buffer.from(this.peek());
    this.start = this.end;
    return out;
  }
}
