import type { IdentityKey } from '../crypto/identity.js';
import type { Clock, Timers } from '../runtime/runtime.js';
import type { Mux } from '../secure/mux.js';
import { Pinger } from '../secure/ping.js';
import type { SecureStream } from '../secure/secure-stream.js';

/**
 * How a secure connection reaches its peer: `direct` (one side dialled the other's address),
 * `punched` (both dialled at once through their NATs, coordinated by a rendezvous node) or
 * `relayed` (carried, end-to-end encrypted, by a third node).
 */
export type ConnectionKind = 'direct' | 'punched' | 'relayed';

/** Every kind, in order of preference. */
export const CONNECTION_KINDS: readonly ConnectionKind[] = ['direct', 'punched', 'relayed'];

/** What a new {@link PeerConnection} is made of. */
export interface PeerConnectionParts {
  readonly stream: SecureStream;
  readonly mux: Mux;
  readonly kind: ConnectionKind;
  /** Our own identity (the table's tie-break compares both ends' keys). */
  readonly localKey: IdentityKey;
  /** For a relayed connection, the relay's identity. */
  readonly via?: IdentityKey;
  readonly clock: Clock;
  readonly timers: Timers;
}

/**
 * One authenticated, encrypted connection to a peer identified by its key: the
 * {@link Mux} to open named protocol channels on (and to register handlers for the peer's),
 * how it was made, and a ping. Closing it closes every channel.
 */
export class PeerConnection {
  /** The peer's identity, proven by the handshake. */
  readonly key: IdentityKey;
  /** Our identity. */
  readonly localKey: IdentityKey;
  readonly kind: ConnectionKind;
  readonly mux: Mux;
  readonly stream: SecureStream;
  readonly via: IdentityKey | undefined;
  /** When the handshake completed, on the runtime's clock. */
  readonly openedAt: number;
  private pinger: Pinger | undefined;
  private closed = false;
  private readonly closeHandlers: ((error?: Error) => void)[] = [];

  constructor(private readonly parts: PeerConnectionParts) {
    this.key = parts.stream.remoteIdentity;
    this.localKey = parts.localKey;
    this.kind = parts.kind;
    this.mux = parts.mux;
    this.stream = parts.stream;
    this.via = parts.via;
    this.openedAt = parts.clock.now();
    parts.mux.onClose((error) => {
      this.closed = true;
      for (const handler of this.closeHandlers.splice(0)) handler(error);
    });
  }

  /** Whether we ran the handshake as initiator (dialled, or the lower key of a punch). */
  get initiator(): boolean {
    return this.stream.initiator;
  }

  /** The address the underlying stream leads to (for a relayed connection, the relay's). */
  get remoteAddress(): string {
    return this.stream.remoteAddress;
  }

  get remotePort(): number {
    return this.stream.remotePort;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Round-trip time in milliseconds over the `shoal/ping` channel. */
  ping(timeoutMs?: number): Promise<number> {
    this.pinger ??= new Pinger(this.mux, this.parts.clock, this.parts.timers);
    return this.pinger.ping(timeoutMs);
  }

  /** Called once when the connection ends, however it ends. */
  onClose(handler: (error?: Error) => void): void {
    if (this.closed) handler();
    else this.closeHandlers.push(handler);
  }

  /** Closes every channel and the connection. */
  close(): void {
    if (this.closed) return;
    this.mux.close();
  }
}
