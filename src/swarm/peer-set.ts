import { hasCode } from '../errors.js';
import { logger } from '../metrics/log.js';
import type { PeerConnection } from '../net/connection.js';
import type { ConnectionManager } from '../net/connection-manager.js';
import type { Dialer } from '../net/dialer.js';
import { ConnectionRefusedError } from '../net/errors.js';
import type { Clock } from '../runtime/runtime.js';
import { WireError } from '../wire/errors.js';
import type { Handshake } from '../wire/handshake.js';
import type { Message } from '../wire/messages.js';
import type { PeerWireMetrics } from './metrics.js';
import { listenAddress, listenKey } from './peer-exchange.js';
import { PeerSession } from './peer-session.js';

const log = logger('swarm:peers');

/** Largest message accepted beyond a block and its header. */
const MAX_BLOCK_MESSAGE = 128 * 1024 + 64;

/** What happens to a torrent's peers, told to the torrent. */
export interface PeerSetEvents {
  /** We dialled a peer and it answered: say our handshake. */
  dialled(session: PeerSession): void;
  handshake(session: PeerSession, h: Handshake): void;
  message(session: PeerSession, m: Message): void;
  /** The peer's socket can take more. */
  drained(session: PeerSession): void;
  /** The peer is gone: forget what it had and what we asked of it. */
  dropped(session: PeerSession): void;
  warn(message: string): void;
}

/** What a torrent's peer set needs. */
export interface PeerSetDeps {
  readonly clock: Clock;
  readonly dialer: Dialer;
  readonly connections: ConnectionManager;
  /** The torrent's info-hash as sent in handshakes (encrypting transports key on it). */
  readonly infoHash: Buffer;
  readonly pieceCount: number;
  readonly maxPeers: number;
  /** Connections with one IP address this torrent keeps (a few clients behind one NAT). */
  readonly maxPeersPerIp: number;
  /**
   * A full torrent replaces a peer that has traded no block for this long (and is at least this
   * old) with a newcomer, so connections that only idle cannot keep honest peers out.
   */
  readonly turnoverIdleMs: number;
  readonly handshakeTimeoutMs: number;
  /** True while the torrent may make new connections. */
  readonly active: () => boolean;
  readonly events: PeerSetEvents;
  /** Node-wide message counts. */
  readonly wireMetrics: PeerWireMetrics;
}

interface Candidate {
  readonly host: string;
  readonly port: number;
  readonly sticky: boolean;
}

/** The share of the peer limit a torrent fills by dialling; peers that dial us fill the rest. */
export const DIAL_SHARE = 0.5;

/** Candidates a torrent remembers at most (libtorrent's peer list holds 3,000 by default). */
export const MAX_CANDIDATES = 3000;

/**
 * The peers of one torrent: the connected sessions and the candidates to dial. New
 * connections come from the dialer (the connection manager applies bans, limits and back-off);
 * incoming ones are handed over by the node. A session's bytes go to its wire, and a session
 * that closes or breaks the protocol is dropped here, once.
 */
export class PeerSet {
  private readonly sessions = new Map<number, PeerSession>();
  private readonly candidates = new Map<string, Candidate>();
  private readonly connecting = new Set<string>();
  /** Candidates added as sticky (never forgotten): dialled up to the peer limit. */
  private stickyCount = 0;
  /** {@link connectedAddresses}, until the sessions change. */
  private connected: Set<string> | undefined;

  /** The torrent's dials back off apart from other torrents' (the connection manager's scope). */
  private readonly scope: string;

  constructor(private readonly deps: PeerSetDeps) {
    this.scope = deps.infoHash.toString('hex');
  }

  /** The connected sessions (a live view; copy before dropping while iterating). */
  all(): IterableIterator<PeerSession> {
    return this.sessions.values();
  }

  get size(): number {
    return this.sessions.size;
  }

  /** No session, no candidate and no dial under way: nothing to tend. */
  get quiet(): boolean {
    return this.sessions.size === 0 && this.candidates.size === 0 && this.connecting.size === 0;
  }

  /**
   * Adds a place to find a peer. `sticky` candidates are retried until connected. Beyond
   * {@link MAX_CANDIDATES} the oldest one not sticky and not being dialled makes way, so peers
   * naming addresses (PEX, trackers) cannot grow the list without bound.
   */
  addCandidate(host: string, port: number, sticky: boolean): boolean {
    const key = `${host}:${port}`;
    if (this.candidates.has(key)) return false;
    if (this.candidates.size >= MAX_CANDIDATES && !sticky) {
      for (const [k, c] of this.candidates)
        if (!c.sticky && !this.connecting.has(k)) {
          this.candidates.delete(k);
          break;
        }
      if (this.candidates.size >= MAX_CANDIDATES) return false;
    }
    this.candidates.set(key, { host, port, sticky });
    if (sticky) this.stickyCount++;
    return true;
  }

  /** The candidate we dialled at `address`, if any. */
  candidate(address: string): { host: string; port: number } | undefined {
    return this.candidates.get(address);
  }

  /**
   * Whether a new connection with `host` may join: within the per-address limit, and, when
   * the torrent is full, by replacing the peer that has traded nothing longest (if one has
   * idled past the turnover time).
   */
  admit(host: string): boolean {
    if (this.countFrom(host) >= this.deps.maxPeersPerIp) return false;
    if (this.sessions.size < this.deps.maxPeers) return true;
    const victim = this.idlest();
    if (!victim) return false;
    this.drop(victim, new WireError('replaced by a new peer: it traded nothing for a while'));
    return true;
  }

  /**
   * Whether {@link admit} would let a connection with `host` join, without dropping anyone:
   * asked before paying for an encrypted handshake with it.
   */
  hasRoomFor(host: string): boolean {
    if (this.countFrom(host) >= this.deps.maxPeersPerIp) return false;
    return this.sessions.size < this.deps.maxPeers || this.idlest() !== undefined;
  }

  /** The session idle past the turnover time that has traded nothing longest, if any. */
  private idlest(): PeerSession | undefined {
    const now = this.deps.clock.now();
    let victim: PeerSession | undefined;
    for (const s of this.sessions.values()) {
      const idleSince = Math.max(s.lastPayloadAt, s.connectedAt);
      if (now - idleSince < this.deps.turnoverIdleMs) continue;
      if (!victim || idleSince < Math.max(victim.lastPayloadAt, victim.connectedAt)) victim = s;
    }
    return victim;
  }

  private countFrom(host: string): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.host === host) n++;
    return n;
  }

  /**
   * Dials candidates while fewer than {@link DIAL_SHARE} of the peer limit are connected or
   * being dialled (sticky ones up to the limit). The rest of the room is kept for the peers that
   * find us: in a big swarm where everyone dials up to the limit, everyone is full, a newcomer
   * gets in only by displacing someone, and the displaced peer dials again to displace another.
   */
  connectSome(): void {
    const d = this.deps;
    const target = Math.ceil(d.maxPeers * DIAL_SHARE);
    const busy = () => this.sessions.size + this.connecting.size;
    if (busy() >= (this.stickyCount > 0 ? d.maxPeers : target)) return;
    const now = d.clock.now();
    const connected = this.connectedAddresses();
    for (const [key, c] of this.candidates) {
      const n = busy();
      if (n >= d.maxPeers) break;
      if (n >= target && !c.sticky) continue;
      if (connected.has(key) || this.connecting.has(key)) continue;
      if (d.connections.retryAt(c.host, c.port, this.scope) > now || d.connections.isBanned(c.host))
        continue;
      if (this.countFrom(c.host) >= d.maxPeersPerIp) continue;
      this.connecting.add(key);
      d.dialer
        .dial({
          host: c.host,
          port: c.port,
          timeoutMs: d.handshakeTimeoutMs,
          infoHash: d.infoHash,
        })
        .then((conn) => {
          this.connecting.delete(key);
          if (!d.active()) {
            conn.stream.destroy();
            return;
          }
          d.events.dialled(this.attach(conn));
        })
        .catch((error: Error) => {
          this.connecting.delete(key);
          // A node-wide limit is no verdict on the peer: keep it for later.
          if (error instanceof ConnectionRefusedError && error.reason !== 'banned') return;
          if (!c.sticky) this.candidates.delete(key);
          if (hasCode(error, 'EGRESS_DENIED')) d.events.warn(error.message);
        });
    }
  }

  /**
   * Addresses of the sessions, to skip when dialling: a peer that dialled us shows its ephemeral
   * port, and its listen address (from its extended handshake) is what candidates name, so both.
   * Kept until a session comes, goes or says where it listens: PEX calls for a dialling round
   * per peer it names.
   */
  private connectedAddresses(): Set<string> {
    if (this.connected) return this.connected;
    const connected = new Set<string>();
    for (const s of this.sessions.values()) {
      connected.add(s.address);
      const listen = listenKey(s);
      if (listen) connected.add(listen);
    }
    this.connected = connected;
    return connected;
  }

  /** Takes over a connection: a new session whose bytes go to its wire. */
  attach(conn: PeerConnection): PeerSession {
    const stream = conn.stream;
    const maxMessage = Math.max(
      MAX_BLOCK_MESSAGE,
      Math.ceil(this.deps.pieceCount / 8) + 64,
      1 << 20,
    );
    const events = this.deps.events;
    const session: PeerSession = new PeerSession(
      stream,
      conn.info,
      this.deps.clock,
      {
        handshake: (h) => events.handshake(session, h),
        message: (m) => {
          this.deps.wireMetrics.received(m.type);
          // Keep-alives do not keep an idle peer: only real messages reset the idle clock.
          if (m.type !== 'keep-alive') session.lastMessageAt = this.deps.clock.now();
          events.message(session, m);
          if (m.type === 'extended' && m.id === 0) this.connected = undefined; // its listen port
        },
      },
      maxMessage,
      (type) => this.deps.wireMetrics.sent(type),
    );
    this.sessions.set(session.id, session);
    this.connected = undefined;
    stream.onData((chunk) => this.receive(session, chunk));
    stream.onDrain(() => {
      session.congested = false;
      events.drained(session);
    });
    stream.onClose(() => {
      if (!session.closed) session.closedByPeer = true;
      this.drop(session, undefined);
    });
    return session;
  }

  /** Feeds received bytes to a session's wire; a protocol error drops the peer. */
  receive(session: PeerSession, chunk: Buffer): void {
    if (session.closed) return;
    session.lastReceivedAt = this.deps.clock.now();
    try {
      session.wire.receive(chunk);
    } catch (error) {
      this.drop(session, error instanceof Error ? error : new WireError(String(error)));
    }
  }

  /** Closes a session and forgets it; a `WireError` reason is reported as a drop. */
  drop(session: PeerSession, reason: Error | undefined): void {
    if (session.closed) return;
    if (reason instanceof WireError) session.flushOutbox();
    session.closed = true;
    this.sessions.delete(session.id);
    this.connected = undefined;
    if (session.outgoing && !session.spoke) {
      const { remoteAddress, remotePort } = session.stream;
      // Closed before its handshake: the other transport is tried at once; a peer that closes
      // both backs off as usual. Closed right after its handshake: it is full (or took us for
      // a connection it already has), so back off, on the same transport.
      if (
        !session.handshake &&
        this.deps.dialer.closedEarly(remoteAddress, remotePort, session.connection.transport)
      )
        this.deps.connections.allowRedial(remoteAddress, remotePort, this.scope);
      else this.deps.connections.dialFailed(remoteAddress, remotePort, this.scope);
    }
    this.deps.events.dropped(session);
    session.stream.destroy();
    log.debug('peer dropped', () => ({
      peer: session.address,
      transport: session.connection.transport,
      reason: reason?.message ?? 'closed',
    }));
    if (reason && !(reason instanceof WireError))
      this.deps.events.warn(`${session.address}: ${reason.message}`);
    if (reason instanceof WireError)
      this.deps.events.warn(`${session.address} dropped: ${reason.message}`);
  }

  /**
   * Housekeeping for every session (once a second): a peer that has not shaken hands in time or
   * has said nothing but keep-alives for too long is dropped; we send keep-alives when quiet;
   * `tendRequests` looks after what we asked of it and says when it stalled for good.
   */
  tend(
    now: number,
    timeouts: { handshakeTimeoutMs: number; idleTimeoutMs: number; keepAliveMs: number },
    tendRequests: (session: PeerSession) => Error | undefined,
  ): void {
    for (const s of [...this.sessions.values()]) {
      if (!s.handshake && now - s.lastReceivedAt > timeouts.handshakeTimeoutMs) {
        this.drop(s, new WireError('no handshake in time'));
        continue;
      }
      if (now - s.lastMessageAt > timeouts.idleTimeoutMs) {
        this.drop(s, new WireError('silent for too long'));
        continue;
      }
      if (s.handshake && now - s.lastSentAt > timeouts.keepAliveMs)
        s.wire.sendMessage({ type: 'keep-alive' });
      const problem = tendRequests(s);
      if (problem) this.drop(s, problem);
    }
  }

  /** Drops every session. */
  dropAll(): void {
    for (const s of [...this.sessions.values()]) this.drop(s, undefined);
  }

  /** Drops every session with `host`. */
  dropHost(host: string): void {
    for (const s of [...this.sessions.values()]) if (s.host === host) this.drop(s, undefined);
  }

  /** Keeps a peer's listen address from being dialled again for `ms`. */
  postpone(session: PeerSession, ms: number): void {
    const c = this.deps.connections;
    c.postpone(session.stream.remoteAddress, session.stream.remotePort, ms, this.scope);
    const listen = listenAddress(session);
    if (listen) c.postpone(listen.host, listen.port, ms, this.scope);
  }

  /** Addresses (where they listen, when known) of the peers connected now. */
  addresses(): string[] {
    return [...this.sessions.values()]
      .filter((s) => s.handshake && !s.closed)
      .map((s) => listenKey(s) ?? `${s.host}:${s.stream.remotePort}`);
  }
}
