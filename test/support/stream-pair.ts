import type { ByteStream } from '../../src/runtime/runtime.js';

/** One end of a {@link streamPair}, with a hook to see or change bytes on their way. */
export interface PairedStream extends ByteStream {
  /** Bytes this end has written, in total. */
  readonly bytesWritten: number;
  /** Applied to each chunk this end writes, before the peer gets it (default: unchanged). */
  tamper: (chunk: Buffer, offset: number) => Buffer;
}

interface PairOptions {
  /** `write` returns false past this many queued bytes (default 64 KiB). */
  readonly highWaterMark?: number;
  /** The peer receives at most this many bytes per `onData` call (default 16 KiB). */
  readonly maxChunk?: number;
}

/**
 * Two connected in-memory `ByteStream`s, for tests: what one writes the other receives on a
 * later macrotask (so handshakes interleave as on a socket), cut into chunks of at most
 * `maxChunk`, copied. Back-pressure is modelled: `write` returns false above `highWaterMark`
 * queued bytes and `onDrain` fires once the queue is delivered; a paused end receives nothing.
 */
export function streamPair(options: PairOptions = {}): [PairedStream, PairedStream] {
  const highWaterMark = options.highWaterMark ?? 64 * 1024;
  const maxChunk = options.maxChunk ?? 16 * 1024;

  class End implements PairedStream {
    peer!: End;
    readonly remoteAddress = '127.0.0.1';
    readonly localAddress = '127.0.0.1';
    remotePort = 0;
    localPort = 0;
    bytesWritten = 0;
    tamper = (chunk: Buffer, _offset: number) => chunk;
    private queue: Buffer[] = [];
    private queued = 0;
    private wantsDrain = false;
    private scheduled = false;
    private ending = false;
    paused = false;
    closed = false;
    dataHandler: (data: Buffer) => void = () => {};
    private drainHandler: () => void = () => {};
    private closeHandler: (error?: Error) => void = () => {};
    private closeError: Error | undefined;

    write(data: Uint8Array): boolean {
      return this.writev([data]);
    }

    writev(chunks: readonly Uint8Array[], flushed?: () => void): boolean {
      if (this.closed || this.ending) return false;
      for (const chunk of chunks) {
        if (chunk.length === 0) continue;
        const copy = this.tamper(Buffer.from(chunk), this.bytesWritten);
        this.bytesWritten += chunk.length;
        this.queue.push(copy);
        this.queued += copy.length;
      }
      if (flushed) queueMicrotask(flushed);
      this.schedule();
      const ok = this.queued <= highWaterMark;
      if (!ok) this.wantsDrain = true;
      return ok;
    }

    schedule(): void {
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.deliver();
      });
    }

    private deliver(): void {
      const peer = this.peer;
      while (this.queue.length > 0 && !peer.paused && !peer.closed && !this.closed) {
        const head = this.queue[0]!;
        const chunk = head.subarray(0, maxChunk);
        if (chunk.length === head.length) this.queue.shift();
        else this.queue[0] = head.subarray(chunk.length);
        this.queued -= chunk.length;
        peer.dataHandler(chunk);
      }
      if (this.queue.length === 0 && this.ending) {
        this.close(undefined);
        peer.close(undefined);
        return;
      }
      if (this.wantsDrain && this.queued <= highWaterMark && !this.closed) {
        this.wantsDrain = false;
        this.drainHandler();
      }
    }

    onData(handler: (data: Buffer) => void): void {
      this.dataHandler = handler;
    }
    onDrain(handler: () => void): void {
      this.drainHandler = handler;
    }
    onClose(handler: (error?: Error) => void): void {
      this.closeHandler = handler;
      if (this.closed) handler(this.closeError);
    }
    pause(): void {
      this.paused = true;
    }
    resume(): void {
      if (!this.paused) return;
      this.paused = false;
      this.peer.schedule();
    }
    end(): void {
      this.ending = true;
      this.schedule();
    }
    destroy(error?: Error): void {
      this.close(error);
      this.peer.close(new Error('connection reset by peer'));
    }
    close(error: Error | undefined): void {
      if (this.closed) return;
      this.closed = true;
      this.closeError = error;
      this.queue = [];
      this.closeHandler(error);
    }
  }

  const a = new End();
  const b = new End();
  a.peer = b;
  b.peer = a;
  a.localPort = b.remotePort = 40001;
  b.localPort = a.remotePort = 40002;
  return [a, b];
}
