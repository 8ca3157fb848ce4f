import { ExpiringCache } from '../shared/expiring-cache.js';
import type { Announcement, BroadcastMessage } from './broadcast-messages.js';
import { MAX_IHAVE, MAX_ROUND } from './broadcast-messages.js';
import type { PeerContact } from './contact.js';
import type { GossipEnvelope } from './gossip-envelope.js';

/** Plumtree's timers and the bounds of its caches. */
export interface BroadcastOptions {
  /** How long after the first IHAVE for a missing message we GRAFT (paper: timer 1). */
  readonly missingTimeoutMs: number;
  /** How long after a GRAFT we try the next announcer (paper: timer 2). */
  readonly graftTimeoutMs: number;
  /** Message ids remembered (so a late copy is recognised), and for how long. */
  readonly seenEntries: number;
  readonly seenMs: number;
  /** Whole messages kept to answer GRAFTs, and for how long. */
  readonly payloadEntries: number;
  readonly payloadMs: number;
  /** Missing messages tracked at once (IHAVEs beyond are ignored). */
  readonly maxMissing: number;
  /** A message older or newer than this (by its origin's clock) is refused as stale. */
  readonly maxAgeMs: number;
}

/** Defaults: graft after 1 s, retry after 0.5 s; ids for 10 minutes, messages for 1 minute. */
export const DEFAULT_BROADCAST: BroadcastOptions = {
  missingTimeoutMs: 1_000,
  graftTimeoutMs: 500,
  seenEntries: 65_536,
  seenMs: 10 * 60_000,
  payloadEntries: 4_096,
  payloadMs: 60_000,
  maxMissing: 1_024,
  maxAgeMs: 5 * 60_000,
};

/** Where the broadcast core's decisions go. */
export interface BroadcastSink {
  send(to: PeerContact, message: BroadcastMessage): void;
  /** A new valid message: hand it to the application. `from` is undefined for our own. */
  deliver(envelope: GossipEnvelope, from: PeerContact | undefined): void;
  /** `peerId` sent a message that is forged or stale. */
  penalise(peerId: string, reason: string): void;
}

/** What Plumtree counts, for metrics and the simulator. */
export interface BroadcastCounters {
  delivered: number;
  duplicates: number;
  grafts: number;
  prunes: number;
  invalid: number;
}

interface Missing {
  readonly announcers: { peerId: string; round: number }[];
  deadline: number;
}

/**
 * Plumtree broadcast as a sans-I/O state machine over the membership's active view. Each
 * neighbour is either eager (messages are pushed whole: the links of a spanning tree) or lazy
 * (only ids are announced). A duplicate prunes its link from the tree; an announced id that
 * does not arrive in time grafts the announcer's link into it, so the tree repairs itself when
 * nodes fail, and in a stable network each message crosses each node about once. Every message
 * is checked (signature and age, by `valid`) before it is delivered or forwarded; a bad one is
 * dropped and its sender penalised. Caches are bounded by count and age.
 */
export class Plumtree {
  private readonly eager = new Map<string, PeerContact>();
  private readonly lazy = new Map<string, PeerContact>();
  private readonly seen: ExpiringCache<string, true>;
  private readonly payloads: ExpiringCache<string, GossipEnvelope>;
  private readonly missing = new Map<string, Missing>();
  /** IHAVEs gathered while handling one input, sent when it is done. */
  private readonly lazyQueue = new Map<string, Announcement[]>();
  readonly options: BroadcastOptions;
  readonly counters: BroadcastCounters = {
    delivered: 0,
    duplicates: 0,
    grafts: 0,
    prunes: 0,
    invalid: 0,
  };

  constructor(
    private readonly sink: BroadcastSink,
    /** Checks an unseen message's signature and age. */
    private readonly valid: (envelope: GossipEnvelope) => boolean,
    options: Partial<BroadcastOptions> = {},
  ) {
    this.options = { ...DEFAULT_BROADCAST, ...options };
    this.seen = new ExpiringCache(this.options.seenEntries, this.options.seenMs);
    this.payloads = new ExpiringCache(this.options.payloadEntries, this.options.payloadMs);
  }

  /** Eager (tree) neighbours. */
  eagerPeers(): string[] {
    return [...this.eager.keys()];
  }

  /** Lazy neighbours. */
  lazyPeers(): string[] {
    return [...this.lazy.keys()];
  }

  /** A new active neighbour starts eager: the tree grows through it until a duplicate prunes it. */
  neighborUp(peer: PeerContact): void {
    if (this.lazy.has(peer.id)) return;
    this.eager.set(peer.id, peer);
  }

  /** A neighbour left the active view. */
  neighborDown(peerId: string): void {
    this.eager.delete(peerId);
    this.lazy.delete(peerId);
    this.lazyQueue.delete(peerId);
    for (const [id, m] of this.missing) {
      const left = m.announcers.filter((a) => a.peerId !== peerId);
      if (left.length === 0) this.missing.delete(id);
      else m.announcers.splice(0, m.announcers.length, ...left);
    }
  }

  /** Broadcasts our own message (already signed). */
  publish(envelope: GossipEnvelope, now: number): void {
    if (this.seen.has(envelope.idHex, now)) return;
    this.accept(envelope, 0, undefined, now);
    this.flushLazy();
  }

  /** A broadcast message arrived from neighbour `from`. */
  receive(from: PeerContact, message: BroadcastMessage, now: number): void {
    switch (message.type) {
      case 'gossip':
        this.onGossip(from, message.envelope, message.round, now);
        break;
      case 'ihave':
        for (const a of message.announcements) this.onIHave(from, a, now);
        break;
      case 'graft':
        this.lazy.delete(from.id);
        this.eager.set(from.id, from);
        if (message.id !== undefined) {
          const envelope = this.payloads.get(message.id.toString('hex'), now);
          if (envelope !== undefined)
            this.sink.send(from, { type: 'gossip', envelope, round: message.round });
        }
        break;
      case 'prune':
        this.counters.prunes++;
        if (this.eager.delete(from.id)) this.lazy.set(from.id, from);
        break;
    }
    this.flushLazy();
  }

  /** GRAFTs for announced messages that did not arrive in time. */
  tick(now: number): void {
    for (const [idHex, m] of this.missing) {
      if (m.deadline > now) continue;
      const next = m.announcers.shift();
      if (next === undefined) {
        this.missing.delete(idHex);
        continue;
      }
      const peer = this.lazy.get(next.peerId) ?? this.eager.get(next.peerId);
      m.deadline = now + this.options.graftTimeoutMs;
      if (peer === undefined) continue;
      this.lazy.delete(peer.id);
      this.eager.set(peer.id, peer);
      this.counters.grafts++;
      this.sink.send(peer, { type: 'graft', id: Buffer.from(idHex, 'hex'), round: next.round });
    }
    this.seen.prune(now);
    this.payloads.prune(now);
  }

  /** When `tick` should next run (infinity when nothing is missing). */
  nextWake(): number {
    let at = Number.POSITIVE_INFINITY;
    for (const m of this.missing.values()) at = Math.min(at, m.deadline);
    return at;
  }

  private onGossip(from: PeerContact, envelope: GossipEnvelope, round: number, now: number): void {
    if (this.seen.has(envelope.idHex, now)) {
      this.counters.duplicates++;
      if (this.eager.delete(from.id)) this.lazy.set(from.id, from);
      this.sink.send(from, { type: 'prune' });
      return;
    }
    if (!this.valid(envelope)) {
      this.counters.invalid++;
      this.sink.penalise(from.id, 'a forged or stale broadcast message');
      return;
    }
    this.missing.delete(envelope.idHex);
    if (this.isNeighbor(from.id)) {
      this.lazy.delete(from.id);
      this.eager.set(from.id, from);
    }
    this.accept(envelope, round, from, now);
  }

  private onIHave(from: PeerContact, a: Announcement, now: number): void {
    const idHex = a.id.toString('hex');
    if (this.seen.has(idHex, now)) return;
    const known = this.missing.get(idHex);
    if (known !== undefined) {
      if (known.announcers.length < 8) known.announcers.push({ peerId: from.id, round: a.round });
      return;
    }
    if (this.missing.size >= this.options.maxMissing) return;
    this.missing.set(idHex, {
      announcers: [{ peerId: from.id, round: a.round }],
      deadline: now + this.options.missingTimeoutMs,
    });
  }

  /** Delivers a new message and pushes it on: whole to eager peers, its id to lazy ones. */
  private accept(
    envelope: GossipEnvelope,
    round: number,
    from: PeerContact | undefined,
    now: number,
  ): void {
    this.seen.set(envelope.idHex, true, now);
    this.payloads.set(envelope.idHex, envelope, now);
    this.counters.delivered++;
    this.sink.deliver(envelope, from);
    const next = Math.min(MAX_ROUND, round + 1);
    for (const peer of this.eager.values()) {
      if (peer.id !== from?.id) this.sink.send(peer, { type: 'gossip', envelope, round: next });
    }
    for (const peer of this.lazy.values()) {
      if (peer.id === from?.id) continue;
      const queue = this.lazyQueue.get(peer.id) ?? [];
      queue.push({ id: envelope.id, round: next });
      this.lazyQueue.set(peer.id, queue);
    }
  }

  private flushLazy(): void {
    for (const [peerId, queue] of this.lazyQueue) {
      const peer = this.lazy.get(peerId);
      if (peer === undefined) continue;
      for (let i = 0; i < queue.length; i += MAX_IHAVE)
        this.sink.send(peer, { type: 'ihave', announcements: queue.slice(i, i + MAX_IHAVE) });
    }
    this.lazyQueue.clear();
  }

  private isNeighbor(peerId: string): boolean {
    return this.eager.has(peerId) || this.lazy.has(peerId);
  }
}
