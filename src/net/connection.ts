import type { ByteStream } from '../runtime/runtime.js';

/** How a connection reaches its peer; uTP joins TCP with the transports issue. */
export type TransportKind = 'tcp' | 'utp';

/** Which side opened a connection. */
export type Direction = 'inbound' | 'outbound';

/**
 * What the node knows about one connection beyond its bytes: how it was made, and (once a
 * protocol says so) whether its bytes are encrypted. Shown per peer in stats and `--json`.
 */
export interface ConnectionInfo {
  readonly transport: TransportKind;
  readonly direction: Direction;
  /** Set by an encryption layer (MSE/PE, the secure channel) once it is negotiated. */
  encrypted: boolean;
}

/**
 * A connection as engines receive it: the stream to speak their protocol on (which may be an
 * encrypting layer over the managed connection) and what is known about how it was made.
 */
export interface PeerConnection {
  readonly stream: ByteStream;
  readonly info: ConnectionInfo;
}

/**
 * A connection the connection manager admitted: a byte stream that counts what crosses it and
 * gives its slot back when it closes, however it closes. Engines receive these, never raw
 * sockets, so limits and accounting cannot be bypassed.
 */
export class ManagedStream implements ByteStream {
  bytesReceived = 0;
  bytesSent = 0;
  private dataHandler: (data: Buffer) => void = () => {};
  private closeHandler: ((error?: Error) => void) | undefined;
  private closed = false;
  private closeError: Error | undefined;

  constructor(
    private readonly inner: ByteStream,
    readonly info: ConnectionInfo,
    onClosed: (stream: ManagedStream) => void,
  ) {
    inner.onData((data) => {
      this.bytesReceived += data.length;
      this.dataHandler(data);
    });
    inner.onClose((error) => {
      if (this.closed) return;
      this.closed = true;
      this.closeError = error;
      onClosed(this);
      this.closeHandler?.(error);
    });
  }

  get remoteAddress(): string {
    return this.inner.remoteAddress;
  }
  get remotePort(): number {
    return this.inner.remotePort;
  }
  get localAddress(): string {
    return this.inner.localAddress;
  }
  get localPort(): number {
    return this.inner.localPort;
  }
  /** True once the stream has ended. */
  get isClosed(): boolean {
    return this.closed;
  }

  write(data: Uint8Array): boolean {
    this.bytesSent += data.length;
    return this.inner.write(data);
  }

  writev(chunks: readonly Uint8Array[], flushed?: () => void): boolean {
    for (const c of chunks) this.bytesSent += c.length;
    return this.inner.writev(chunks, flushed);
  }

  onData(handler: (data: Buffer) => void): void {
    this.dataHandler = handler;
  }

  onDrain(handler: () => void): void {
    this.inner.onDrain(handler);
  }

  onClose(handler: (error?: Error) => void): void {
    this.closeHandler = handler;
    if (this.closed) handler(this.closeError);
  }

  pause(): void {
    this.inner.pause();
  }
  resume(): void {
    this.inner.resume();
  }
  end(): void {
    this.inner.end();
  }
  destroy(error?: Error): void {
    this.inner.destroy(error);
  }
}
