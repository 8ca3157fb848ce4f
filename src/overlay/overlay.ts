import type { Identity } from '../crypto/identity.js';
import type { Clock, RandomSource, TimerHandle, Timers } from '../runtime/runtime.js';
import { type BroadcastOptions, Plumtree } from './broadcast.js';
import { decodeBroadcast, encodeBroadcast } from './broadcast-messages.js';
import type { PeerContact } from './contact.js';
import { OverlayMessageError, OverlayUnavailableError } from './errors.js';
import { type GossipEnvelope, signEnvelope, verifyEnvelope } from './gossip-envelope.js';
import type { Links } from './links.js';
import { Membership, type MembershipOptions } from './membership.js';
import { decodeMembership, encodeMembership } from './membership-messages.js';

/** The membership protocol's channel name on the main overlay. */
export const OVERLAY_PROTOCOL = 'shoal/overlay';
/** The broadcast protocol's channel name. */
export const GOSSIP_PROTOCOL = 'shoal/gossip';

/** What an overlay needs from the runtime (a narrow piece of it). */
export interface OverlayEnv {
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: RandomSource;
  /** Signs our broadcasts; without it the overlay relays but cannot publish. */
  readonly identity?: Identity;
}

/** Options of one overlay. */
export interface OverlayOptions {
  /** Channel name of its membership protocol (another name makes a separate overlay). */
  readonly protocol: string;
  /** Channel name of its broadcast protocol; none: no broadcast on this overlay. */
  readonly gossipProtocol: string | undefined;
  readonly membership: Partial<MembershipOptions>;
  readonly broadcast: Partial<BroadcastOptions>;
}

/** Defaults: the main overlay, with broadcast. */
export const DEFAULT_OVERLAY: OverlayOptions = {
  protocol: OVERLAY_PROTOCOL,
  gossipProtocol: GOSSIP_PROTOCOL,
  membership: {},
  broadcast: {},
};

/** Called when a neighbour joins (`up`) or leaves the active view. */
export type NeighborListener = (peer: PeerContact, up: boolean) => void;
/** Called with each new broadcast message of a topic; `from` is undefined for our own. */
export type TopicListener = (envelope: GossipEnvelope, from: PeerContact | undefined) => void;

/**
 * One overlay: HyParView membership and Plumtree broadcast bound to the node's links and
 * timers. It is the thin I/O around the two sans-I/O cores: it decodes what the links deliver
 * (a malformed message penalises its sender), encodes what the cores send, holds the active
 * neighbours' connections, and runs one timer at the cores' next deadline. The search engine
 * reads the active view and listens to its changes; rooms and announcements publish on topics.
 */
export class Overlay {
  readonly membership: Membership;
  readonly broadcast: Plumtree | undefined;
  readonly options: OverlayOptions;
  private readonly neighborListeners: NeighborListener[] = [];
  private readonly topics = new Map<string, TopicListener[]>();
  private timer: TimerHandle | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private lastSeq = 0;
  private stopped = false;

  constructor(
    links: Links,
    private readonly env: OverlayEnv,
    options: Partial<OverlayOptions> = {},
  ) {
    this.options = { ...DEFAULT_OVERLAY, ...options };
    const holder = this.options.protocol;
    this.membership = new Membership(
      () => links.self,
      env.random,
      {
        send: (to, message) => {
          const { type, payload } = encodeMembership(message);
          links.send(to, this.options.protocol, type, payload);
        },
        up: (peer) => {
          links.hold(peer.id, holder);
          this.broadcast?.neighborUp(peer);
          for (const l of this.neighborListeners) l(peer, true);
        },
        down: (peer) => {
          links.release(peer.id, holder);
          this.broadcast?.neighborDown(peer.id);
          for (const l of this.neighborListeners) l(peer, false);
        },
      },
      env.clock.now(),
      this.options.membership,
    );
    links.listen(this.options.protocol, {
      message: (from, type, payload) => {
        try {
          this.membership.receive(from, decodeMembership(type, payload), env.clock.now());
        } catch (error) {
          if (!(error instanceof OverlayMessageError)) throw error;
          links.penalise(from.id, error.message);
        }
        this.schedule();
      },
      down: (peerId, reason) => {
        if (this.stopped) return;
        this.membership.linkDown(peerId, reason, env.clock.now());
        this.schedule();
      },
    });
    const gossip = this.options.gossipProtocol;
    if (gossip !== undefined) {
      const maxAge = { maxAgeMs: 5 * 60_000, ...this.options.broadcast }.maxAgeMs;
      this.broadcast = new Plumtree(
        {
          send: (to, message) => {
            const { type, payload } = encodeBroadcast(message);
            links.send(to, gossip, type, payload);
          },
          deliver: (envelope, from) => {
            for (const l of this.topics.get(envelope.topic) ?? []) l(envelope, from);
          },
          penalise: (peerId, reason) => links.penalise(peerId, reason),
        },
        (e) => Math.abs(env.clock.wallTime() - e.seq) <= maxAge && verifyEnvelope(e),
        this.options.broadcast,
      );
      links.listen(gossip, {
        message: (from, type, payload) => {
          if (this.stopped || !this.membership.isActive(from.id)) return;
          try {
            this.broadcast?.receive(from, decodeBroadcast(type, payload), env.clock.now());
          } catch (error) {
            if (!(error instanceof OverlayMessageError)) throw error;
            links.penalise(from.id, error.message);
          }
          this.schedule();
        },
        down: () => {},
      });
    } else {
      this.broadcast = undefined;
    }
    this.schedule();
  }

  /** Joins the overlay through `contacts` (see {@link Membership.join}). */
  join(contacts: readonly PeerContact[]): void {
    this.membership.join(contacts, this.env.clock.now());
    this.schedule();
  }

  /** Offers contacts learnt elsewhere as passive peers. */
  learn(contacts: readonly PeerContact[]): void {
    this.membership.learn(contacts);
    this.schedule();
  }

  /** The active view. */
  active(): PeerContact[] {
    return this.membership.active();
  }

  /** The passive view. */
  passive(): PeerContact[] {
    return this.membership.passive();
  }

  /** Listens to active-view changes. */
  onNeighbor(listener: NeighborListener): void {
    this.neighborListeners.push(listener);
  }

  /** Listens to a broadcast topic. */
  subscribe(topic: string, listener: TopicListener): void {
    const list = this.topics.get(topic) ?? [];
    list.push(listener);
    this.topics.set(topic, list);
  }

  /**
   * Signs and broadcasts `payload` on `topic` to every node of the overlay. Throws
   * `OVERLAY_UNAVAILABLE` when this overlay has no broadcast or no identity to sign with.
   */
  publish(topic: string, payload: Uint8Array): GossipEnvelope {
    const identity = this.env.identity;
    if (this.broadcast === undefined || identity === undefined)
      throw new OverlayUnavailableError('this overlay cannot publish (no broadcast or identity)');
    this.lastSeq = Math.max(this.lastSeq + 1, Math.floor(this.env.clock.wallTime()));
    const envelope = signEnvelope(identity, this.lastSeq, topic, payload);
    this.broadcast.publish(envelope, this.env.clock.now());
    this.schedule();
    return envelope;
  }

  /** Leaves the overlay (neighbours are told) and stops the timer. */
  stop(): void {
    if (this.stopped) return;
    this.membership.leave();
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** Keeps one timer at the earlier of the two cores' deadlines. */
  private schedule(): void {
    if (this.stopped) return;
    const at = Math.min(
      this.membership.nextWake(),
      this.broadcast?.nextWake() ?? Number.POSITIVE_INFINITY,
    );
    if (at >= this.timerAt || !Number.isFinite(at)) return;
    this.timer?.cancel();
    this.timerAt = at;
    this.timer = this.env.timers.setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        const now = this.env.clock.now();
        this.membership.tick(now);
        this.broadcast?.tick(now);
        this.schedule();
      },
      Math.max(0, at - this.env.clock.now()),
    );
  }
}
