import type { IdentityKey } from '../crypto/identity.js';
import type { ChannelRequest } from '../secure/mux.js';
import type { ConnectionKind, PeerConnection } from './peer-connection.js';

/** Handles a peer's request to open a channel of one protocol. */
export type ProtocolHandler = (request: ChannelRequest, peer: PeerConnection) => void;

/** Which of two connections to the same key both ends keep. */
export function preferred(a: PeerConnection, b: PeerConnection): PeerConnection {
  const rank = (kind: ConnectionKind) => (kind === 'relayed' ? 1 : 0);
  if (rank(a.kind) !== rank(b.kind)) return rank(a.kind) < rank(b.kind) ? a : b;
  const initiatorA = initiatorKey(a);
  const initiatorB = initiatorKey(b);
  const order = Buffer.compare(initiatorA, initiatorB);
  if (order !== 0) return order < 0 ? a : b;
  // Same initiator: it dialled again, so it no longer trusts the older one.
  return a.openedAt > b.openedAt ? a : b;
}

/** The identity of the side that ran a connection's handshake as initiator. */
function initiatorKey(c: PeerConnection): Buffer {
  return c.initiator ? c.localKey.bytes : c.key.bytes;
}

/**
 * The node's secure connections, at most one per key. When a second connection to a key
 * appears — both sides dialled at once, a punch raced a reversal, a direct connection arrived
 * while a relayed one was open — both ends keep the same one by the same rule
 * ({@link preferred}: direct or punched over relayed, then the one whose initiator has the lower
 * key, then the newer) and close the other, so neither has to tell the other. Protocol
 * handlers registered here are installed on every connection, present and future.
 */
export class PeerTable {
  private readonly byKey = new Map<string, PeerConnection>();
  private readonly handlers = new Map<string, ProtocolHandler>();
  private readonly waiters = new Map<string, Set<(peer: PeerConnection) => void>>();
  private readonly listeners: ((peer: PeerConnection) => void)[] = [];

  /** Connections open now. */
  get size(): number {
    return this.byKey.size;
  }

  get(key: IdentityKey): PeerConnection | undefined {
    return this.byKey.get(key.toString());
  }

  list(): PeerConnection[] {
    return [...this.byKey.values()];
  }

  /** Open connections by kind. */
  countByKind(): Record<ConnectionKind, number> {
    const out: Record<ConnectionKind, number> = { direct: 0, punched: 0, relayed: 0 };
    for (const c of this.byKey.values()) out[c.kind]++;
    return out;
  }

  /**
   * Adds a connection that completed its handshake. Returns the one kept for its key: this one,
   * or the one already there (and then this one is closed).
   */
  add(peer: PeerConnection): PeerConnection {
    const id = peer.key.toString();
    const current = this.byKey.get(id);
    if (current !== undefined && !current.isClosed) {
      const keep = preferred(current, peer);
      const drop = keep === current ? peer : current;
      drop.close();
      if (keep === current) return current;
    }
    this.byKey.set(id, peer);
    peer.onClose(() => {
      if (this.byKey.get(id) === peer) this.byKey.delete(id);
    });
    for (const [protocol, handler] of this.handlers) {
      peer.mux.handle(protocol, (request) => handler(request, peer));
    }
    for (const listener of this.listeners) listener(peer);
    const waiting = this.waiters.get(id);
    if (waiting !== undefined) {
      this.waiters.delete(id);
      for (const resolve of waiting) resolve(peer);
    }
    return peer;
  }

  /** Installs `handler` for `protocol` on every connection, now and later. */
  handle(protocol: string, handler: ProtocolHandler): void {
    this.handlers.set(protocol, handler);
    for (const peer of this.byKey.values()) {
      peer.mux.handle(protocol, (request) => handler(request, peer));
    }
  }

  /** Called with every connection the table keeps. */
  onPeer(listener: (peer: PeerConnection) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Resolves with the next connection kept for `key` (however it was made); `cancel` stops
   * waiting (the promise then never settles).
   */
  waitFor(key: IdentityKey): { readonly peer: Promise<PeerConnection>; cancel(): void } {
    const id = key.toString();
    let resolver: ((peer: PeerConnection) => void) | undefined;
    const peer = new Promise<PeerConnection>((resolve) => {
      resolver = resolve;
      const set = this.waiters.get(id) ?? new Set();
      set.add(resolve);
      this.waiters.set(id, set);
    });
    return {
      peer,
      cancel: () => {
        const set = this.waiters.get(id);
        if (set === undefined || resolver === undefined) return;
        set.delete(resolver);
        if (set.size === 0) this.waiters.delete(id);
      },
    };
  }

  /** Closes every connection. */
  closeAll(): void {
    for (const peer of [...this.byKey.values()]) peer.close();
  }
}
