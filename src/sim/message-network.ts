import { contactOf, type PeerContact, withFlags } from '../overlay/contact.js';
import type { LinkDownReason, LinkHandler, Links } from '../overlay/links.js';

/** How the message network schedules work: virtual time, events owned by a node. */
export interface MessageScheduler {
  now(): number;
  /** Runs `fn` after `ms`; when `node` is given the event is dropped if that node is gone. */
  after(ms: number, fn: () => void, node?: number): void;
}

/** The timing model of the message network. */
export interface MessageNetworkOptions {
  /** One-way delay of one message from node `a` to node `b` (jitter included), milliseconds. */
  oneWayMs(a: number, b: number): number;
  /** How long a connection attempt to a dead node takes to fail. */
  readonly connectTimeoutMs: number;
  /**
   * How long a node takes to notice that a connected peer crashed: the keepalive's detection
   * delay, drawn per link (a real node pings an idle held link and gives up after a timeout).
   */
  detectMs(): number;
  /** Unheld links a node keeps open; beyond, the least recently used close. */
  readonly maxIdleLinks: number;
  /** How long a penalised peer is refused. */
  readonly banMs: number;
}

interface LinkEnd {
  /** When messages may flow (after the handshake). */
  readyAt: number;
  /** Latest delivery time scheduled on this direction (deliveries never reorder). */
  lastDelivery: number;
  readonly holders: Set<string>;
  lastUsed: number;
}

/** What the network counts. */
export interface MessageCounters {
  messages: number;
  bytes: number;
  connections: number;
  lost: number;
  byProtocol: Map<string, number>;
}

/**
 * Overlay links at the message level for the simulator: each message is delivered after the
 * latency model's one-way delay, a new connection first costs two round trips (TCP, then the
 * Noise IK handshake), messages on a link never reorder, a connection attempt to a dead node
 * fails after a timeout, and a node notices a crashed neighbour after a keepalive's detection
 * delay. Secure channels are not run: at 10,000 nodes a Noise handshake per link would cost
 * minutes of CPU and tell nothing about search. Engines see the same `Links` interface as on a
 * real node.
 */
export class MessageNetwork {
  readonly counters: MessageCounters = {
    messages: 0,
    bytes: 0,
    connections: 0,
    lost: 0,
    byProtocol: new Map(),
  };
  private readonly nodes: MessageLinks[] = [];
  private readonly byId = new Map<string, number>();

  constructor(
    readonly scheduler: MessageScheduler,
    readonly options: MessageNetworkOptions,
  ) {}

  /** Adds a node with contact `self`; returns its links. */
  addNode(self: PeerContact): MessageLinks {
    const links = new MessageLinks(this, this.nodes.length, self);
    this.nodes.push(links);
    this.byId.set(self.id, links.index);
    return links;
  }

  /** The node with index `i`. */
  node(i: number): MessageLinks {
    return this.nodes[i]!;
  }

  /** The node whose key has text form `id`. */
  nodeById(id: string): MessageLinks | undefined {
    const i = this.byId.get(id);
    return i === undefined ? undefined : this.nodes[i];
  }

  /**
   * Crashes node `i`: it stops at once; each peer with a link to it notices after its own
   * detection delay, and messages sent to it meanwhile are lost.
   */
  crash(i: number): void {
    const node = this.nodes[i]!;
    if (!node.alive) return;
    node.alive = false;
    for (const peerIndex of node.ends.keys()) {
      const peer = this.nodes[peerIndex]!;
      this.scheduler.after(this.options.detectMs(), () => peer.closeLink(i, 'lost'), peerIndex);
    }
    node.ends.clear();
  }

  // ---- for MessageLinks ----

  /** Sends one message from node `from` to node `to` (already resolved). */
  transmit(
    from: MessageLinks,
    to: number,
    protocol: string,
    type: number,
    payload: Uint8Array,
  ): void {
    const target = this.nodes[to];
    const now = this.scheduler.now();
    if (target === undefined || !target.alive) {
      // No connection to a dead node: the attempt times out. On a link it is simply lost (the
      // crash's detection delay tells the sender later).
      if (from.ends.has(to)) {
        this.counters.lost++;
        return;
      }
      this.connectFails(from, to);
      return;
    }
    if (target.banned(from.self.id, now) || from.banned(target.self.id, now)) {
      this.connectFails(from, to);
      return;
    }
    let end = from.ends.get(to);
    if (end === undefined) {
      const rtt = this.options.oneWayMs(from.index, to) + this.options.oneWayMs(to, from.index);
      end = { readyAt: now + 2 * rtt, lastDelivery: 0, holders: new Set(), lastUsed: now };
      from.ends.set(to, end);
      target.ends.set(from.index, {
        readyAt: now + 2 * rtt,
        lastDelivery: 0,
        holders: new Set(),
        lastUsed: now,
      });
      this.counters.connections++;
      from.trimIdle(now);
      target.trimIdle(now);
    }
    end.lastUsed = now;
    const at = Math.max(
      Math.max(now, end.readyAt) + this.options.oneWayMs(from.index, to),
      end.lastDelivery,
    );
    end.lastDelivery = at;
    this.counters.messages++;
    this.counters.bytes += payload.length;
    this.counters.byProtocol.set(protocol, (this.counters.byProtocol.get(protocol) ?? 0) + 1);
    const sender = from.fromContact;
    this.scheduler.after(
      at - now,
      () => {
        if (!from.alive && !target.ends.has(from.index)) return;
        target.receive(sender, protocol, type, payload);
      },
      to,
    );
  }

  private connectFails(from: MessageLinks, to: number): void {
    const id = this.nodes[to]?.self.id;
    if (id === undefined) return;
    this.scheduler.after(
      this.options.connectTimeoutMs,
      () => from.notifyDown(id, 'unreachable'),
      from.index,
    );
  }
}

/** One node's links in a {@link MessageNetwork}. */
export class MessageLinks implements Links {
  alive = true;
  /** Links by peer index. */
  readonly ends = new Map<number, LinkEnd>();
  private readonly handlers = new Map<string, LinkHandler>();
  private readonly bans = new Map<string, number>();
  private readonly interceptors = new Map<
    string,
    (from: PeerContact, type: number, payload: Buffer, next: () => void) => void
  >();
  private contact: PeerContact;
  /** How receivers see us: key only (a link knows no more about its peer). */
  readonly fromContact: PeerContact;

  constructor(
    private readonly network: MessageNetwork,
    readonly index: number,
    self: PeerContact,
  ) {
    this.contact = self;
    this.fromContact = contactOf(self.key);
  }

  get self(): PeerContact {
    return this.contact;
  }

  setFlags(flags: number): void {
    this.contact = withFlags(this.contact, flags);
  }

  send(to: PeerContact, protocol: string, type: number, payload: Uint8Array): void {
    if (!this.alive) return;
    const index = this.network.nodeById(to.id)?.index;
    if (index === undefined) return;
    this.network.transmit(this, index, protocol, type, payload);
  }

  listen(protocol: string, handler: LinkHandler): void {
    this.handlers.set(protocol, handler);
  }

  hold(peerId: string, holder: string): void {
    const end = this.endOf(peerId);
    end?.holders.add(holder);
  }

  release(peerId: string, holder: string): void {
    const end = this.endOf(peerId);
    if (end === undefined) return;
    end.holders.delete(holder);
    end.lastUsed = this.network.scheduler.now();
  }

  connected(peerId: string): boolean {
    return this.endOf(peerId) !== undefined;
  }

  penalise(peerId: string, _reason: string): void {
    const now = this.network.scheduler.now();
    this.bans.set(peerId, now + this.network.options.banMs);
    const peer = this.network.nodeById(peerId);
    if (peer === undefined || !this.ends.has(peer.index)) return;
    this.closeLink(peer.index, 'lost');
    peer.closeLink(this.index, 'lost');
  }

  // ---- for the network ----

  /** Whether `peerId` is refused at `now`. */
  banned(peerId: string, now: number): boolean {
    const until = this.bans.get(peerId);
    if (until === undefined) return false;
    if (until > now) return true;
    this.bans.delete(peerId);
    return false;
  }

  /**
   * Puts `spy` in front of a protocol's handler (for adversaries in scenarios and tests): it
   * sees every message first and decides whether to pass it on with `next`.
   */
  intercept(
    protocol: string,
    spy: (from: PeerContact, type: number, payload: Buffer, next: () => void) => void,
  ): void {
    this.interceptors.set(protocol, spy);
  }

  receive(from: PeerContact, protocol: string, type: number, payload: Uint8Array): void {
    if (!this.alive) return;
    const handler = this.handlers.get(protocol);
    const data = Buffer.from(payload.buffer, payload.byteOffset, payload.length);
    const spy = this.interceptors.get(protocol);
    if (spy !== undefined) spy(from, type, data, () => handler?.message(from, type, data));
    else handler?.message(from, type, data);
  }

  /** Drops the link to `peerIndex` and tells every protocol. */
  closeLink(peerIndex: number, reason: LinkDownReason): void {
    if (!this.alive || !this.ends.delete(peerIndex)) return;
    const id = this.network.node(peerIndex).self.id;
    this.notifyDown(id, reason);
  }

  notifyDown(peerId: string, reason: LinkDownReason): void {
    if (!this.alive) return;
    for (const handler of this.handlers.values()) handler.down(peerId, reason);
  }

  /**
   * Closes the least recently used unheld links beyond the idle limit (both ends), once there
   * are half as many again (so the sort is paid once per many connections).
   */
  trimIdle(now: number): void {
    const max = this.network.options.maxIdleLinks;
    if (this.ends.size <= max * 1.5) return;
    let idle = 0;
    for (const end of this.ends.values()) if (end.holders.size === 0) idle++;
    if (idle <= max * 1.5) return;
    const victims = [...this.ends.entries()]
      .filter(([, e]) => e.holders.size === 0 && e.lastUsed < now)
      .sort((a, b) => a[1].lastUsed - b[1].lastUsed || a[0] - b[0])
      .slice(0, idle - max);
    for (const [peerIndex] of victims) {
      const peer = this.network.node(peerIndex);
      this.closeLink(peerIndex, 'lost');
      peer.closeLink(this.index, 'lost');
    }
  }

  private endOf(peerId: string): LinkEnd | undefined {
    const peer = this.network.nodeById(peerId);
    return peer === undefined ? undefined : this.ends.get(peer.index);
  }
}
