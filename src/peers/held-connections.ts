import type { IdentityKey } from '../crypto/identity.js';
import type { Timers } from '../runtime/runtime.js';
import type { PeerConnection } from './peer-connection.js';

/**
 * How long an incoming connection waits, unregistered, for our own dial to the same key to
 * finish, when ours is the one both ends will keep (so a caller never gets a connection that
 * is about to be closed).
 */
const HOLD_MS = 2_000;

/**
 * Incoming connections held back while our own dial to the same key is under way and is the
 * one both ends will keep: each waits up to {@link HOLD_MS} for that dial to settle, then is
 * released to the table unless someone took it first. At most one is held per key.
 */
export class HeldConnections {
  private readonly held = new Map<string, PeerConnection>();

  constructor(
    private readonly timers: Timers,
    /** Admits a connection whose wait is over. */
    private readonly release: (peer: PeerConnection) => void,
  ) {}

  /** Holds `peer`, whose key is `id` (replacing, and closing, one held for that key). */
  hold(id: string, peer: PeerConnection): void {
    this.held.get(id)?.close();
    this.held.set(id, peer);
    this.timers.setTimeout(() => {
      if (this.held.get(id) !== peer) return;
      this.held.delete(id);
      this.release(peer);
    }, HOLD_MS);
  }

  /** Takes the connection held for `key`, if any: it is the caller's now. */
  take(key: IdentityKey): PeerConnection | undefined {
    const id = key.toString();
    const held = this.held.get(id);
    this.held.delete(id);
    return held;
  }

  /** Closes every held connection. */
  closeAll(): void {
    for (const peer of this.held.values()) peer.close();
    this.held.clear();
  }
}
