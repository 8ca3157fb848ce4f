import type { ByteStream } from '../../runtime/runtime.js';

/** What a {@link UtpStream} asks of the socket that owns its connection. */
export interface UtpStreamControl {
  write(chunk: Uint8Array, flushed?: () => void): boolean;
  pause(): void;
  resume(): void;
  end(): void;
  destroy(error?: Error): void;
}

/**
 * A uTP connection as the runtime's {@link ByteStream}, so a peer over uTP is just another
 * stream. Received chunks are lent for the `onData` call; until a data handler is set the
 * connection holds what arrives (it starts paused). `onClose` fires once, after the current
 * call stack, like a socket's 'close'.
 */
export class UtpStream implements ByteStream {
  private dataHandler: ((data: Buffer) => void) | undefined;
  private drainHandler: (() => void) | undefined;
  private closeHandler: ((error?: Error) => void) | undefined;
  private closed = false;
  private closeNotified = false;
  private closeError: Error | undefined;
  private userPaused = false;

  constructor(
    readonly remoteAddress: string,
    readonly remotePort: number,
    readonly localAddress: string,
    readonly localPort: number,
    private readonly control: UtpStreamControl,
  ) {}

  write(data: Uint8Array): boolean {
    if (this.closed) return false;
    return this.control.write(data);
  }

  writev(chunks: readonly Uint8Array[], flushed?: () => void): boolean {
    if (this.closed) return false;
    let ok = true;
    for (let i = 0; i < chunks.length; i++)
      ok = this.control.write(chunks[i]!, i === chunks.length - 1 ? flushed : undefined);
    if (chunks.length === 0 && flushed !== undefined) ok = this.control.write(EMPTY, flushed);
    return ok;
  }

  onData(handler: (data: Buffer) => void): void {
    const first = this.dataHandler === undefined;
    this.dataHandler = handler;
    if (first && !this.userPaused) this.control.resume();
  }

  onDrain(handler: () => void): void {
    this.drainHandler = handler;
  }

  onClose(handler: (error?: Error) => void): void {
    this.closeHandler = handler;
    if (this.closeNotified) handler(this.closeError);
  }

  pause(): void {
    this.userPaused = true;
    this.control.pause();
  }

  resume(): void {
    if (!this.userPaused) return;
    this.userPaused = false;
    if (this.dataHandler !== undefined) this.control.resume();
  }

  end(): void {
    if (!this.closed) this.control.end();
  }

  destroy(error?: Error): void {
    if (!this.closed) this.control.destroy(error);
  }

  /** In-order bytes from the connection (lent for the call). */
  emitData(chunk: Buffer): void {
    this.dataHandler?.(chunk);
  }

  /** The connection can take more bytes. */
  emitDrain(): void {
    this.drainHandler?.();
  }

  /** The connection ended; the handler runs once the current call stack is done. */
  emitClose(error: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = error;
    queueMicrotask(() => {
      this.closeNotified = true;
      this.closeHandler?.(error);
    });
  }
}

const EMPTY = new Uint8Array(0);
