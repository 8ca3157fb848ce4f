import type { IdentityKey } from '../crypto/identity.js';
import type { Clock, TimerHandle, Timers } from '../runtime/runtime.js';
import type { Channel } from '../secure/channel.js';
import type { ChannelRequest, Mux } from '../secure/mux.js';
import { answerPings, Pinger } from '../secure/ping.js';
import { contactOf, type PeerContact, withFlags } from './contact.js';
import type { LinkDownReason, LinkHandler, Links } from './links.js';

/**
 * How the overlay reaches a peer by key: the node's half of the links. `connect` opens (or
 * reuses) a secure connection — dialling the contact's addresses, or finding the key in the
 * DHT, punching holes, relaying — and resolves with its multiplexer once the peer has proven
 * its key. A node whose connections carry other protocols too gives `serve`: it installs the
 * overlay's channel handlers on every connection, present and future, and the links then
 * never close a connection that carries anything else. Without `serve`, the node hands every
 * connection it accepts to {@link MuxLinks.attach} and the links serve it themselves.
 */
export interface OverlayTransport {
  connect(peer: PeerContact): Promise<Mux>;
  serve?(
    protocol: string,
    accept: (request: ChannelRequest, remote: IdentityKey, mux: Mux) => void,
  ): void;
}

/** Timing and bounds of the links. */
export interface MuxLinksOptions {
  /** An unheld connection closes after this long without traffic. */
  readonly idleMs: number;
  /** A held connection silent this long is pinged; no pong in `pingTimeoutMs` closes it. */
  readonly keepaliveMs: number;
  readonly pingTimeoutMs: number;
  /** Messages queued per peer while its connection is being made (more are dropped). */
  readonly maxQueued: number;
  /** How long a penalised peer is refused. */
  readonly banMs: number;
}

/** Defaults: idle after 60 s, ping after 15 s of silence, 10 s to answer, one-hour bans. */
export const DEFAULT_MUX_LINKS: MuxLinksOptions = {
  idleMs: 60_000,
  keepaliveMs: 15_000,
  pingTimeoutMs: 10_000,
  maxQueued: 64,
  banMs: 3_600_000,
};

/** Peers banned at once (the oldest ban goes first beyond). */
const MAX_BANS = 4_096;

interface Peer {
  readonly id: string;
  readonly key: IdentityKey;
  readonly contact: PeerContact;
  /** Open connections to it (two when both sides dialled at once); the first one sends. */
  readonly muxes: Mux[];
  /** Channels we opened, by protocol. */
  readonly out: Map<string, Channel>;
  /** Channels the peer opened to us. */
  readonly incoming: Set<Channel>;
  /** Channels whose sender is out of credit: messages are dropped until they drain. */
  readonly blocked: Set<Channel>;
  readonly holders: Set<string>;
  queue: { protocol: string; type: number; payload: Uint8Array }[] | undefined;
  lastHeard: number;
  lastUsed: number;
  pinger: Pinger | undefined;
  pinging: boolean;
}

/**
 * {@link Links} over the node's secure connections: one multiplexed connection per peer, one
 * channel per protocol and direction. A message to a peer without a connection waits (a few)
 * while the transport connects. Connections engines hold are kept alive with pings (a crashed
 * peer is noticed within about `keepaliveMs + pingTimeoutMs`); unheld ones close when idle.
 */
export class MuxLinks implements Links {
  private readonly peers = new Map<string, Peer>();
  private readonly handlers = new Map<string, LinkHandler>();
  private readonly bans = new Map<string, number>();
  private contact: PeerContact;
  private readonly timer: TimerHandle;
  readonly options: MuxLinksOptions;
  /** Messages dropped (connection congested, queue full). */
  dropped = 0;

  constructor(
    private readonly transport: OverlayTransport,
    private readonly env: { readonly clock: Clock; readonly timers: Timers },
    self: PeerContact,
    options: Partial<MuxLinksOptions> = {},
  ) {
    this.contact = self;
    this.options = { ...DEFAULT_MUX_LINKS, ...options };
    const sweep = Math.min(this.options.keepaliveMs, this.options.idleMs) / 2;
    this.timer = env.timers.setInterval(() => this.sweep(), sweep);
  }

  get self(): PeerContact {
    return this.contact;
  }

  setFlags(flags: number): void {
    this.contact = withFlags(this.contact, flags);
  }

  /**
   * Hands the links a secure connection to `remote` (accepted by the node, or dialled by it for
   * another reason): its channels of our protocols are served from now on.
   */
  attach(remote: IdentityKey, mux: Mux): void {
    const peer = this.peerOf(contactOf(remote));
    if (this.isBanned(peer.id)) {
      mux.close();
      return;
    }
    if (peer.muxes.includes(mux)) return;
    peer.muxes.push(mux);
    if (this.transport.serve === undefined) {
      answerPings(mux);
      for (const protocol of this.handlers.keys()) this.serve(peer, mux, protocol);
    }
    mux.onClose(() => this.lost(peer, mux));
    this.flush(peer);
  }

  send(to: PeerContact, protocol: string, type: number, payload: Uint8Array): void {
    if (this.isBanned(to.id)) return;
    const peer = this.peerOf(to);
    peer.lastUsed = this.env.clock.now();
    if (peer.muxes.length > 0) {
      this.write(peer, protocol, type, payload);
      return;
    }
    if (peer.queue === undefined) {
      peer.queue = [];
      this.transport.connect(to).then(
        (mux) => this.attach(to.key, mux),
        () => this.unreachable(peer),
      );
    }
    if (peer.queue.length >= this.options.maxQueued) {
      this.dropped++;
      return;
    }
    peer.queue.push({ protocol, type, payload: Buffer.from(payload) });
  }

  listen(protocol: string, handler: LinkHandler): void {
    const fresh = !this.handlers.has(protocol);
    this.handlers.set(protocol, handler);
    if (!fresh) return;
    if (this.transport.serve !== undefined) {
      this.transport.serve(protocol, (request, remote, mux) => {
        this.attach(remote, mux);
        const peer = this.peers.get(contactOf(remote).id);
        if (peer === undefined || !peer.muxes.includes(mux)) {
          request.reject('refused');
          return;
        }
        this.receiveOn(peer, request.accept(), protocol, true);
      });
      return;
    }
    for (const peer of this.peers.values())
      for (const mux of peer.muxes) this.serve(peer, mux, protocol);
  }

  hold(peerId: string, holder: string): void {
    this.peers.get(peerId)?.holders.add(holder);
  }

  release(peerId: string, holder: string): void {
    const peer = this.peers.get(peerId);
    if (peer === undefined) return;
    peer.holders.delete(holder);
    peer.lastUsed = this.env.clock.now();
  }

  connected(peerId: string): boolean {
    return (this.peers.get(peerId)?.muxes.length ?? 0) > 0;
  }

  penalise(peerId: string, _reason: string): void {
    this.bans.set(peerId, this.env.clock.now() + this.options.banMs);
    if (this.bans.size > MAX_BANS) {
      const oldest = this.bans.keys().next().value;
      if (oldest !== undefined) this.bans.delete(oldest);
    }
    const peer = this.peers.get(peerId);
    if (peer === undefined) return;
    for (const mux of [...peer.muxes]) mux.close();
  }

  /** Closes every connection and stops the timer. */
  close(): void {
    this.timer.cancel();
    for (const peer of this.peers.values()) for (const mux of [...peer.muxes]) mux.close();
  }

  // ---- internals ----

  private peerOf(contact: PeerContact): Peer {
    let peer = this.peers.get(contact.id);
    if (peer === undefined) {
      const now = this.env.clock.now();
      peer = {
        id: contact.id,
        key: contact.key,
        contact,
        muxes: [],
        out: new Map(),
        incoming: new Set(),
        blocked: new Set(),
        holders: new Set(),
        queue: undefined,
        lastHeard: now,
        lastUsed: now,
        pinger: undefined,
        pinging: false,
      };
      this.peers.set(contact.id, peer);
    }
    return peer;
  }

  /** Accepts the peer's channels of `protocol` on `mux` and hands their messages on. */
  private serve(peer: Peer, mux: Mux, protocol: string): void {
    mux.handle(protocol, (request) => {
      const channel = request.accept();
      this.receiveOn(peer, channel, protocol, true);
    });
  }

  private receiveOn(peer: Peer, channel: Channel, protocol: string, incoming: boolean): void {
    if (incoming) {
      peer.incoming.add(channel);
      channel.onClose(() => peer.incoming.delete(channel));
    }
    channel.onMessage((type, payload) => {
      peer.lastHeard = this.env.clock.now();
      if (this.isBanned(peer.id)) return;
      this.handlers.get(protocol)?.message(peer.contact, type, payload);
    });
  }

  private write(peer: Peer, protocol: string, type: number, payload: Uint8Array): void {
    const mux = peer.muxes[0]!;
    let channel = peer.out.get(protocol);
    if (channel === undefined || channel.state === 'closed') {
      try {
        channel = mux.open(protocol);
      } catch {
        this.dropped++;
        return;
      }
      const opened = channel;
      peer.out.set(protocol, opened);
      opened.onDrain(() => peer.blocked.delete(opened));
      opened.onClose(() => {
        if (peer.out.get(protocol) === opened) peer.out.delete(protocol);
        peer.blocked.delete(opened);
      });
      this.receiveOn(peer, opened, protocol, false);
    }
    if (peer.blocked.has(channel)) {
      this.dropped++;
      return;
    }
    try {
      if (!channel.send(type, payload)) peer.blocked.add(channel);
    } catch {
      this.dropped++;
    }
  }

  private flush(peer: Peer): void {
    const queue = peer.queue ?? [];
    peer.queue = undefined;
    for (const m of queue) this.write(peer, m.protocol, m.type, m.payload);
  }

  private unreachable(peer: Peer): void {
    peer.queue = undefined;
    if (peer.muxes.length > 0) return;
    this.forget(peer);
    this.notify(peer.id, 'unreachable');
  }

  private lost(peer: Peer, mux: Mux): void {
    const at = peer.muxes.indexOf(mux);
    if (at < 0) return;
    peer.muxes.splice(at, 1);
    if (at === 0) {
      peer.out.clear();
      peer.blocked.clear();
      peer.pinger = undefined;
    }
    if (peer.muxes.length > 0) return;
    this.forget(peer);
    this.notify(peer.id, 'lost');
  }

  private forget(peer: Peer): void {
    if (this.peers.get(peer.id) === peer) this.peers.delete(peer.id);
  }

  private notify(peerId: string, reason: LinkDownReason): void {
    for (const handler of this.handlers.values()) handler.down(peerId, reason);
  }

  /** Pings silent held connections; closes idle unheld ones. */
  private sweep(): void {
    const now = this.env.clock.now();
    for (const [id, until] of this.bans) if (until <= now) this.bans.delete(id);
    for (const peer of [...this.peers.values()]) {
      const mux = peer.muxes[0];
      if (mux === undefined) continue;
      if (peer.holders.size === 0) {
        if (now - Math.max(peer.lastUsed, peer.lastHeard) >= this.options.idleMs) this.idle(peer);
        continue;
      }
      if (peer.pinging || now - peer.lastHeard < this.options.keepaliveMs) continue;
      peer.pinger ??= new Pinger(mux, this.env.clock, this.env.timers);
      peer.pinging = true;
      peer.pinger.ping(this.options.pingTimeoutMs).then(
        () => {
          peer.pinging = false;
          peer.lastHeard = this.env.clock.now();
        },
        () => {
          peer.pinging = false;
          mux.close();
        },
      );
    }
  }

  /**
   * An unheld peer went quiet: close the connection if it carries nothing but our channels,
   * else only our channels (the node uses the connection for something else).
   */
  private idle(peer: Peer): void {
    const ours = peer.out.size + peer.incoming.size;
    const mux = peer.muxes[0];
    if (mux === undefined) return;
    if (this.transport.serve === undefined || mux.channelCount <= ours) {
      mux.close();
      return;
    }
    for (const channel of [...peer.out.values(), ...peer.incoming]) channel.close();
    this.forget(peer);
  }

  private isBanned(peerId: string): boolean {
    const until = this.bans.get(peerId);
    if (until === undefined) return false;
    if (until > this.env.clock.now()) return true;
    this.bans.delete(peerId);
    return false;
  }
}
