import type { ByteStream } from '../../src/runtime/runtime.js';

/**
 * A stream to a pretend peer at 127.0.0.9 that only hands what is written to `writev` (and
 * `write`, as a one-chunk writev); it never receives, drains or closes.
 */
export function fakeStream(writev: ByteStream['writev']): ByteStream {
  return {
    remoteAddress: '127.0.0.9',
    remotePort: 6881,
    localAddress: '127.0.0.1',
    localPort: 6881,
    write: (data) => writev([data]),
    writev,
    onData: () => {},
    onDrain: () => {},
    onClose: () => {},
    pause: () => {},
    resume: () => {},
    end: () => {},
    destroy: () => {},
  };
}

/**
 * Decides how a {@link streamPair} cuts one direction's bytes into received chunks: given the
 * offset of the next undelivered byte in that direction and how many are waiting, returns the
 * size of the next chunk (at least 1; larger than `available` means all of them).
 */
export type Chunker = (offset: number, available: number) => number;

/** One end of a {@link streamPair}, with what a test needs to look at. */
export interface PairEnd extends ByteStream {
  /** True once this end was destroyed or ended, or the other end went away. */
  readonly closed: boolean;
  /** Writes whose `flushed` callback has been called. */
  readonly flushes: number;
  /** The chunks this end received, as they were on the wire (when recording). */
  readonly wire: readonly Buffer[];
}

/**
 * Two connected in-memory streams, like a loopback TCP connection. Bytes written on one end
 * reach the other on a later microtask, cut into chunks by a `Chunker` (per direction; by
 * default everything queued goes as one chunk, writes merged as TCP does). Each chunk is delivered from a buffer that is overwritten with 0xEE right after the
 * handler returns, so code that keeps a lent chunk instead of copying it reads garbage. A write
 * is reported flushed once its bytes are delivered; nothing is delivered before a data handler
 * is set or while paused; `end`/`destroy` close both ends (the other one after what is in flight has arrived).
 */
export function streamPair(
  options: { a?: Chunker; b?: Chunker; record?: boolean } = {},
): [PairEnd, PairEnd] {
  const record = options.record ?? false;
  const a = new PairStream('127.0.0.1', 40001, '127.0.0.2', 6881, options.b, record);
  const b = new PairStream('127.0.0.2', 6881, '127.0.0.1', 40001, options.a, record);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

class PairStream implements PairEnd {
  peer!: PairStream;
  closed = false;
  flushes = 0;
  readonly wire: Buffer[] = [];
  private readonly incoming: { data: Buffer; flushed: (() => void) | undefined }[] = [];
  private received = 0;
  private paused = false;
  private scheduled = false;
  private closeNotified = false;
  private data: ((d: Buffer) => void) | undefined;
  private close: (error?: Error) => void = () => {};

  constructor(
    readonly localAddress: string,
    readonly localPort: number,
    readonly remoteAddress: string,
    readonly remotePort: number,
    /** Cuts the bytes this end receives. */
    private readonly chunker: Chunker | undefined,
    private readonly record: boolean,
  ) {}

  write(data: Uint8Array): boolean {
    return this.writev([data]);
  }

  writev(chunks: readonly Uint8Array[], flushed?: () => void): boolean {
    if (this.closed) return false;
    const data = Buffer.concat(chunks);
    this.peer.enqueue(data, () => {
      this.flushes += flushed ? 1 : 0;
      flushed?.();
    });
    return true;
  }

  onData(handler: (d: Buffer) => void): void {
    this.data = handler;
    this.schedule();
  }

  /** Writes never report backpressure here, so there is never a drain. */
  onDrain(_handler: () => void): void {}

  onClose(handler: (error?: Error) => void): void {
    this.close = handler;
    if (this.closeNotified) handler();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.schedule();
  }

  end(): void {
    this.destroy();
  }

  destroy(): void {
    if (this.closed) return;
    this.shut();
    // the peer sees the close after the bytes already sent to it
    this.peer.enqueue(Buffer.alloc(0), () => this.peer.shut());
  }

  private shut(): void {
    if (this.closed) return;
    this.closed = true;
    queueMicrotask(() => {
      this.closeNotified = true;
      this.close();
    });
  }

  private enqueue(data: Buffer, delivered: () => void): void {
    this.incoming.push({ data, flushed: delivered });
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.deliver();
    });
  }

  private deliver(): void {
    if (this.paused || this.data === undefined) return;
    for (let head = this.incoming[0]; head?.data.length === 0; head = this.incoming[0]) {
      this.incoming.shift(); // a close marker
      head.flushed?.();
    }
    if (this.closed || this.incoming.length === 0) return;
    let available = 0;
    for (const e of this.incoming) {
      if (e.data.length === 0) break;
      available += e.data.length;
    }
    const want = this.chunker?.(this.received, available) ?? available;
    const n = Math.max(1, Math.min(want, available));
    // a chunk may span several writes, as TCP merges them
    const lent = Buffer.allocUnsafe(n);
    const done: ((() => void) | undefined)[] = [];
    for (let at = 0; at < n; ) {
      const head = this.incoming[0]!;
      const take = Math.min(n - at, head.data.length);
      head.data.copy(lent, at, 0, take);
      head.data = head.data.subarray(take);
      at += take;
      if (head.data.length === 0) {
        this.incoming.shift();
        done.push(head.flushed);
      }
    }
    this.received += n;
    if (this.record) this.wire.push(Buffer.from(lent));
    this.data(lent);
    lent.fill(0xee);
    for (const flushed of done) flushed?.();
    // one chunk per microtask, so handlers may change between chunks as with real sockets
    if (this.incoming.length > 0) this.schedule();
  }
}
