import type { PeerEndpoint } from '../codec/compact.js';
import { plainHost } from './endpoint.js';

/**
 * What a node knows of how others can reach it: `public` (peers see it at its own address, or
 * someone connected to its listening port), `nat` (peers see another address: it is behind a
 * NAT and needs a rendezvous), or `unknown` (no peer has told it yet).
 */
export type ReachabilityState = 'unknown' | 'public' | 'nat';

/**
 * Learns the node's reachability from what peers report (the address a rendezvous sees each
 * connection come from) and from connections arriving on its listening port. Behind a NAT it
 * also learns whether the NAT keeps a connection's source port, which TCP hole punching needs:
 * a NAT that rewrites ports (symmetric, or Linux's `--random-fully`) can be punched only when
 * its next ports can be predicted, and only from a peer whose NAT keeps them.
 */
export class Reachability {
  state: ReachabilityState = 'unknown';
  /** Whether the NAT kept the source port of the connections peers saw (undefined: no report). */
  portPreserving: boolean | undefined;
  /** Our address as others see it (when public: the one to publish). */
  publicHost: string | undefined;
  private readonly listeners: (() => void)[] = [];
  private pinned = false;

  /** Called whenever the state changes. */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /**
   * A peer saw our connection come from `observed`; we sent it from `local`. `outbound`: we
   * dialled it, so its source port was ours to compare.
   */
  observe(observed: PeerEndpoint, local: PeerEndpoint, outbound: boolean): void {
    if (this.pinned) return;
    const before = `${this.state}/${this.portPreserving}/${this.publicHost}`;
    if (plainHost(observed.host) === plainHost(local.host)) {
      this.state = 'public';
      this.publicHost = plainHost(observed.host);
    } else {
      this.state = 'nat';
      this.publicHost = undefined;
      if (outbound) this.portPreserving = observed.port === local.port;
    }
    if (`${this.state}/${this.portPreserving}/${this.publicHost}` !== before) this.changed();
  }

  /**
   * Someone connected to our listening port at `localAddress`: that address is reachable
   * (unless a peer already said we are behind a NAT — a connection from our own network
   * proves nothing about the Internet).
   */
  inbound(localAddress: string): void {
    if (this.pinned || this.state !== 'unknown') return;
    this.state = 'public';
    this.publicHost = plainHost(localAddress);
    this.changed();
  }

  /**
   * Sets the state and stops learning: for a node that knows better than its peers can tell
   * (a forwarded port, a test that plays a NAT on loopback).
   */
  pin(state: ReachabilityState, portPreserving?: boolean, publicHost?: string): void {
    this.pinned = true;
    this.state = state;
    this.portPreserving = portPreserving;
    this.publicHost = publicHost;
    this.changed();
  }

  /** Whether we can offer our own port to a TCP hole punch (our NAT, if any, keeps it). */
  get canPunch(): boolean {
    return this.state === 'public' || (this.state === 'nat' && this.portPreserving === true);
  }

  /**
   * Whether we are behind a NAT that changed a connection's source port (symmetric, or one
   * that picks ports at random): a punch then needs the ports it will map to predicted.
   */
  get changesPorts(): boolean {
    return this.state === 'nat' && this.portPreserving === false;
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}
