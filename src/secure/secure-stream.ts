import type { Identity, IdentityKey } from '../crypto/identity.js';
import type { ByteStream, RandomSource, Timers } from '../runtime/runtime.js';
import { SecureChannelError } from './errors.js';
import { SecureHandshake, type SecureSession } from './secure-handshake.js';
import { TransportDecoder, TransportEncoder } from './transport.js';

/** How long a handshake may take before the connection is dropped. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** What both ends of a secure channel need. */
export interface SecureChannelOptions {
  readonly identity: Identity;
  readonly random: RandomSource;
  readonly timers: Timers;
  /** Default {@link DEFAULT_HANDSHAKE_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
}

/**
 * Opens a secure channel over `stream`, which we dialled: IK when `remote` (the identity we mean
 * to reach) is given, else XX. Resolves once the peer has proven its identity; rejects with
 * `SecureChannelError` (and destroys `stream`) when the handshake fails, times out, or reaches
 * someone else.
 */
export function secureConnect(
  stream: ByteStream,
  options: SecureChannelOptions & { readonly remote?: IdentityKey },
): Promise<SecureStream> {
  const handshake = new SecureHandshake({
    initiator: true,
    identity: options.identity,
    ...(options.remote !== undefined && { remote: options.remote }),
    random: options.random,
  });
  return runHandshake(stream, handshake, options, handshake.opening(), undefined);
}

/**
 * Answers a secure channel on `stream`, which a peer dialled. `initialBytes` are the bytes the
 * inbound demultiplexer already read (starting with the magic); the rest is read from `stream`.
 */
export function secureAccept(
  stream: ByteStream,
  options: SecureChannelOptions & { readonly initialBytes?: Uint8Array },
): Promise<SecureStream> {
  const handshake = new SecureHandshake({
    initiator: false,
    identity: options.identity,
    random: options.random,
  });
  return runHandshake(stream, handshake, options, undefined, options.initialBytes);
}

/** The thin I/O around {@link SecureHandshake}: feed it, send its replies, time it out. */
function runHandshake(
  stream: ByteStream,
  handshake: SecureHandshake,
  options: SecureChannelOptions,
  opening: Buffer | undefined,
  initialBytes: Uint8Array | undefined,
): Promise<SecureStream> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: SecureChannelError) => {
      if (settled) return;
      settled = true;
      timer.cancel();
      stream.onData(() => {});
      stream.onClose(() => {});
      stream.destroy(error);
      reject(error);
    };
    const timer = options.timers.setTimeout(
      () => fail(new SecureChannelError('SECURE_TIMEOUT', 'the secure handshake timed out')),
      options.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    );
    const receive = (chunk: Uint8Array) => {
      if (settled) return;
      let reply: Buffer;
      try {
        reply = handshake.receive(chunk);
      } catch (error) {
        if (error instanceof SecureChannelError) return fail(error);
        throw error;
      }
      if (reply.length > 0) stream.write(reply);
      const session = handshake.session;
      if (session === undefined) return;
      settled = true;
      timer.cancel();
      resolve(new SecureStream(stream, session, handshake.takeLeftover()));
    };
    stream.onData(receive);
    stream.onClose((error) =>
      fail(
        new SecureChannelError(
          'SECURE_CLOSED',
          'the peer closed the connection during the secure handshake (with IK: it may not hold the key dialled)',
          { cause: error },
        ),
      ),
    );
    if (opening !== undefined) stream.write(opening);
    if (initialBytes !== undefined && initialBytes.length > 0) receive(initialBytes);
  });
}

/**
 * A secure channel as a `ByteStream`, so anything that runs over TCP runs over it: writes are
 * encrypted into transport frames (several chunks of one `writev` share frames, none is copied),
 * received frames are checked and decrypted, and a frame that fails destroys the connection
 * with `SECURE_FRAME`. Back-pressure passes straight through: `write` returns what the
 * underlying stream returns, `onDrain`, `pause` and `resume` are the underlying stream's.
 * Received data waits (the underlying stream paused) until a data handler is set.
 */
export class SecureStream implements ByteStream {
  /** The peer's identity, proven by the handshake. */
  readonly remoteIdentity: IdentityKey;
  /** Unique to this session and equal on both ends (for channel binding). */
  readonly handshakeHash: Buffer;
  /** Whether we dialled. */
  readonly initiator: boolean;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;

  private readonly encoder: TransportEncoder;
  private readonly decoder: TransportDecoder;
  private handler: ((data: Buffer) => void) | undefined;
  private closeHandler: (error?: Error) => void = () => {};
  /** Plaintexts decrypted while no handler was set or while paused, in order. */
  private held: Buffer[] = [];
  private paused = false;
  private closed = false;
  private closeError: Error | undefined;

  constructor(
    private readonly raw: ByteStream,
    session: SecureSession,
    leftover: Buffer,
  ) {
    this.remoteIdentity = session.remote;
    this.handshakeHash = session.handshakeHash;
    this.initiator = session.initiator;
    this.remoteAddress = raw.remoteAddress;
    this.remotePort = raw.remotePort;
    this.localAddress = raw.localAddress;
    this.localPort = raw.localPort;
    this.encoder = new TransportEncoder(session.send);
    this.decoder = new TransportDecoder(session.receive);
    raw.pause();
    raw.onData((chunk) => this.receive(chunk));
    raw.onClose((error) => this.onRawClose(error));
    if (leftover.length > 0) this.receive(leftover);
  }

  /** Encrypts and sends `data`; false when the connection asks us to wait for `onDrain`. */
  write(data: Uint8Array): boolean {
    return this.writev([data]);
  }

  writev(chunks: readonly Uint8Array[], flushed?: () => void): boolean {
    if (this.closed) return false;
    const frames: Uint8Array[] = [];
    this.encoder.encode(chunks, frames);
    const ok = frames.length === 0 || this.raw.writev(frames);
    // The chunks were encrypted into new buffers: the caller may reuse them at once.
    if (flushed !== undefined) queueMicrotask(flushed);
    return ok;
  }

  onData(handler: (data: Buffer) => void): void {
    const first = this.handler === undefined;
    this.handler = handler;
    if (first) {
      this.release();
      if (!this.paused && !this.closed) this.raw.resume();
    }
  }

  onDrain(handler: () => void): void {
    this.raw.onDrain(handler);
  }

  onClose(handler: (error?: Error) => void): void {
    this.closeHandler = handler;
    if (this.closed) handler(this.closeError);
  }

  pause(): void {
    this.paused = true;
    this.raw.pause();
  }

  /** Hands on held data, then reads again. */
  resume(): void {
    this.paused = false;
    this.release();
    if (!this.paused && this.handler !== undefined && !this.closed) this.raw.resume();
  }

  end(): void {
    this.raw.end();
  }

  destroy(error?: Error): void {
    this.raw.destroy(error);
  }

  private receive(chunk: Uint8Array): void {
    if (this.closed) return;
    try {
      this.decoder.push(chunk, (plaintext) => {
        const handler = this.handler;
        if (handler === undefined || this.paused || this.held.length > 0) this.held.push(plaintext);
        else handler(plaintext);
        return !this.closed;
      });
    } catch (error) {
      if (!(error instanceof SecureChannelError)) throw error;
      this.raw.destroy(error);
    }
  }

  /** Hands on held plaintexts while a handler is set and we are not paused. */
  private release(): void {
    while (this.held.length > 0 && this.handler !== undefined && !this.paused) {
      this.handler(this.held.shift()!);
    }
  }

  private onRawClose(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = error;
    this.closeHandler(error);
  }
}
