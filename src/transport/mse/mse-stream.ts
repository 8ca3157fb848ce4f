import type { ByteStream } from '../../runtime/runtime.js';
import type { MseCiphers } from './protocol.js';
import { lease } from './send-arena.js';

/** Decrypted bytes held for an owner that has not set its data handler yet, before pausing. */
const MAX_BACKLOG_BYTES = 1024 * 1024;

/**
 * The payload stream after an MSE handshake, as a `ByteStream`: with RC4 selected, writes are
 * encrypted (into memory of our own, so callers may reuse theirs once `flushed` says so, as
 * with any stream) and received chunks are decrypted in place before the owner sees them (a
 * lent chunk is the receiver's to overwrite during the call). With plaintext selected, bytes
 * pass through untouched. Either way the bytes that arrived with the end of the handshake are
 * delivered first, on a microtask after the owner sets its data handler.
 */
export class MseStream implements ByteStream {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  private handler: ((data: Buffer) => void) | undefined;
  /** Bytes received (decrypted) that the owner has not been given yet, in order. */
  private readonly backlog: Buffer[] = [];
  private backlogBytes = 0;
  private flushScheduled = false;
  private ownerPaused = false;
  private backlogPaused = false;

  constructor(
    private readonly inner: ByteStream,
    private readonly ciphers: MseCiphers | undefined,
    leftover: Buffer,
  ) {
    this.remoteAddress = inner.remoteAddress;
    this.remotePort = inner.remotePort;
    this.localAddress = inner.localAddress;
    this.localPort = inner.localPort;
    if (leftover.length > 0) this.hold(leftover);
    inner.onData((chunk) => this.receive(chunk));
  }

  /** True when the payload is RC4-encrypted on the wire. */
  get encrypted(): boolean {
    return this.ciphers !== undefined;
  }

  write(data: Uint8Array): boolean {
    return this.writev([data]);
  }

  writev(chunks: readonly Uint8Array[], flushed?: () => void): boolean {
    if (this.ciphers === undefined) return this.inner.writev(chunks, flushed);
    let total = 0;
    for (const c of chunks) total += c.length;
    if (total === 0) return this.inner.writev([], flushed);
    const space = lease(total);
    let at = 0;
    for (const c of chunks) {
      space.bytes.set(c, at);
      at += c.length;
    }
    this.ciphers.encrypt.process(space.bytes);
    return this.inner.writev([space.bytes], () => {
      space.release();
      flushed?.();
    });
  }

  onData(handler: (data: Buffer) => void): void {
    this.handler = handler;
    if (this.backlog.length > 0) this.scheduleFlush();
  }

  onDrain(handler: () => void): void {
    this.inner.onDrain(handler);
  }

  onClose(handler: (error?: Error) => void): void {
    this.inner.onClose(handler);
  }

  pause(): void {
    this.ownerPaused = true;
    this.inner.pause();
  }

  resume(): void {
    this.ownerPaused = false;
    if (!this.backlogPaused) this.inner.resume();
    if (this.backlog.length > 0) this.scheduleFlush();
  }

  end(): void {
    this.inner.end();
  }

  destroy(error?: Error): void {
    this.inner.destroy(error);
  }

  private receive(chunk: Buffer): void {
    if (this.ciphers !== undefined) this.ciphers.decrypt.process(chunk);
    if (this.handler !== undefined && this.backlog.length === 0 && !this.ownerPaused) {
      this.handler(chunk);
      return;
    }
    this.hold(Buffer.from(chunk)); // lent for this call only
  }

  private hold(data: Buffer): void {
    this.backlog.push(data);
    this.backlogBytes += data.length;
    if (this.backlogBytes >= MAX_BACKLOG_BYTES && !this.backlogPaused) {
      this.backlogPaused = true;
      this.inner.pause();
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Hands the backlog to the owner, in order, unless it paused or replaced the handler. */
  private flush(): void {
    for (;;) {
      const handler = this.handler;
      if (handler === undefined || this.ownerPaused) return;
      const next = this.backlog.shift();
      if (next === undefined) break;
      this.backlogBytes -= next.length;
      handler(next);
    }
    if (this.backlogPaused) {
      this.backlogPaused = false;
      if (!this.ownerPaused) this.inner.resume();
    }
  }
}
