import type { PeerContact } from './contact.js';

/** Why a peer's connection is gone: it could not be made, or it was lost (closed, timed out). */
export type LinkDownReason = 'unreachable' | 'lost';

/** What a protocol of the overlay hears from its links. */
export interface LinkHandler {
  /**
   * A message of this protocol arrived from `from` (whose key the secure channel proved; its
   * addresses are what the link knows, possibly none). `payload` is lent for the call only.
   */
  message(from: PeerContact, type: number, payload: Buffer): void;
  /** The connection to `peerId` could not be made or was lost. */
  down(peerId: string, reason: LinkDownReason): void;
}

/**
 * Connections to peers by key, as the overlay's engines see them: send a typed message of a
 * protocol to a peer (connecting first when needed), hold a connection open while an engine
 * relies on it, and penalise a peer that misbehaved. The real node implements it over secure
 * channels and their multiplexer (`MuxLinks`); the simulator over its message model. Engines
 * never see sockets, so the same code runs in both.
 */
export interface Links {
  /** This node: its key, the addresses it advertises, its flags. */
  readonly self: PeerContact;
  /**
   * Sends a message; never throws. When there is no connection one is made (to the contact's
   * addresses, or wherever the key is found); if that fails, the protocols hear `down`.
   */
  send(to: PeerContact, protocol: string, type: number, payload: Uint8Array): void;
  /** Registers the handler of a protocol's messages (one per protocol). */
  listen(protocol: string, handler: LinkHandler): void;
  /** Keeps the connection to `peerId` open on behalf of `holder` until released. */
  hold(peerId: string, holder: string): void;
  /** Ends `holder`'s claim; a connection nobody holds closes after a while idle. */
  release(peerId: string, holder: string): void;
  /** Whether a connection to the peer is open now. */
  connected(peerId: string): boolean;
  /** The peer broke a protocol: drop its connection and refuse it for a while. */
  penalise(peerId: string, reason: string): void;
  /** Changes the flags this node advertises (e.g. on becoming an ultrapeer). */
  setFlags(flags: number): void;
}
