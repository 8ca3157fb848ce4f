import { logger } from '../metrics/log.js';
import type { ByteStream, Clock, TimerHandle, Timers } from '../runtime/runtime.js';
import { type ConnectionInfo, ManagedStream, type TransportKind } from './connection.js';
import { ConnectionRefusedError, type RefusalReason } from './errors.js';

const log = logger('net:connections');

/** The node-wide connection limits, with defaults in {@link DEFAULT_CONNECTION_LIMITS}. */
export interface ConnectionLimits {
  /** Connections open at once, every protocol and direction together. */
  readonly maxConnections: number;
  /** Connections open at once with one IP address (both directions). */
  readonly maxPerIp: number;
  /** Outgoing connections being dialled at once. */
  readonly maxHalfOpen: number;
  /** Accepted connections that have not finished their protocol handshake yet. */
  readonly maxPendingInbound: number;
  /** The same, from one IP address: one address cannot fill the pending slots. */
  readonly maxPendingInboundPerIp: number;
  /** An accepted connection that has not finished its handshake by then is closed. */
  readonly pendingTimeoutMs: number;
  /** Addresses whose dial back-off is remembered (least recently used forgotten first). */
  readonly maxBackoffEntries: number;
  /** Banned addresses remembered (oldest forgotten first). */
  readonly maxBans: number;
}

/**
 * Defaults: room for 100 peers in each of several busy torrents; one address may hold 32
 * connections (several torrents, or a few clients behind one NAT), which is well under a
 * torrent's 100 peers, so one address can never fill a torrent; 8 unidentified connections
 * per address and 10 s to identify themselves, so a slowloris from one address cannot lock the
 * port.
 */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxConnections: 800,
  maxPerIp: 32,
  maxHalfOpen: 64,
  maxPendingInbound: 128,
  maxPendingInboundPerIp: 8,
  pendingTimeoutMs: 10_000,
  maxBackoffEntries: 16_384,
  maxBans: 65_536,
};

/** A dial the manager allowed; settle it exactly once with `connected` or `failed`. */
export interface DialPermit {
  /** The dial succeeded: the stream becomes a managed, counted connection. */
  connected(stream: ByteStream, transport: TransportKind): ManagedStream;
  /** The dial failed: frees the half-open slot and backs the address off. */
  failed(): void;
}

/** Counters of what the manager did, for stats and metrics. */
export interface ConnectionCounters {
  accepted: number;
  dialled: number;
  dialFailures: number;
  refused: Record<RefusalReason, number>;
  pendingTimeouts: number;
}

interface Backoff {
  failures: number;
  retryAt: number;
}

/** A candidate is dialled at most this often; failures in a row double it (up to 2⁶ ×). */
const REDIAL_MS = 10_000;
const MAX_REDIAL_DOUBLINGS = 6;

/** How long to wait before dialling an address again after `failures` failures in a row. */
export function redialWait(failures: number): number {
  return REDIAL_MS * 2 ** Math.min(failures, MAX_REDIAL_DOUBLINGS);
}

/**
 * Owns every connection of a node, whatever protocol runs on it: the global, per-address,
 * half-open and pending limits, bans, dial back-off, and per-connection byte counts. Inbound
 * connections are admitted (or refused) here before anything reads from them; outbound dials
 * ask for a permit first. Protocols never see a socket that bypassed these limits.
 */
export class ConnectionManager {
  readonly limits: ConnectionLimits;
  readonly counters: ConnectionCounters = {
    accepted: 0,
    dialled: 0,
    dialFailures: 0,
    refused: {
      banned: 0,
      'connection-limit': 0,
      'per-ip-limit': 0,
      'half-open-limit': 0,
      'pending-limit': 0,
      backoff: 0,
      stopped: 0,
    },
    pendingTimeouts: 0,
  };
  private readonly open = new Set<ManagedStream>();
  private readonly perIp = new Map<string, number>();
  private readonly pending = new Map<ManagedStream, TimerHandle>();
  private readonly pendingPerIp = new Map<string, number>();
  private halfOpen = 0;
  private readonly closedBytes = { received: 0, sent: 0 };
  private readonly bans = new Set<string>();
  private readonly backoff = new Map<string, Backoff>();
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly timers: Timers,
    limits: Partial<ConnectionLimits> = {},
  ) {
    this.limits = { ...DEFAULT_CONNECTION_LIMITS, ...limits };
  }

  /** Connections open now. */
  get size(): number {
    return this.open.size;
  }

  /** Bytes received and sent on every connection so far (closed ones included). */
  bytes(): { received: number; sent: number } {
    let received = this.closedBytes.received;
    let sent = this.closedBytes.sent;
    for (const s of this.open) {
      received += s.bytesReceived;
      sent += s.bytesSent;
    }
    return { received, sent };
  }

  /** Connections open now by transport and direction (for stats and metrics). */
  breakdown(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.open) {
      const key = `${s.info.transport}-${s.info.direction}`;
      out[key] = (out[key] ?? 0) + 1;
    }
    return out;
  }

  /**
   * Admits an accepted connection, or destroys it and returns undefined. It stays "pending"
   * (counted against the pending limits, closed after `pendingTimeoutMs`) until its protocol
   * calls {@link established}.
   */
  accept(stream: ByteStream, transport: TransportKind): ManagedStream | undefined {
    const host = normalizeHost(stream.remoteAddress);
    const refusal = this.stopped
      ? 'stopped'
      : this.bans.has(host)
        ? 'banned'
        : (this.admissionProblem(host) ??
          (this.pending.size >= this.limits.maxPendingInbound
            ? 'pending-limit'
            : (this.pendingPerIp.get(host) ?? 0) >= this.limits.maxPendingInboundPerIp
              ? 'pending-limit'
              : undefined));
    if (refusal) {
      this.counters.refused[refusal]++;
      log.debug('inbound refused', { host, reason: refusal });
      stream.destroy();
      return undefined;
    }
    this.counters.accepted++;
    const managed = this.track(stream, { transport, direction: 'inbound', encrypted: false });
    if (managed.isClosed) return undefined;
    increment(this.pendingPerIp, host);
    this.pending.set(
      managed,
      this.timers.setTimeout(() => {
        this.counters.pendingTimeouts++;
        managed.destroy();
      }, this.limits.pendingTimeoutMs),
    );
    return managed;
  }

  /** An accepted connection finished its handshake: it no longer counts as pending. */
  established(stream: ManagedStream): void {
    const timer = this.pending.get(stream);
    if (!timer) return;
    timer.cancel();
    this.pending.delete(stream);
    decrement(this.pendingPerIp, normalizeHost(stream.remoteAddress));
  }

  /**
   * Asks to dial `host:port`. Throws {@link ConnectionRefusedError} when the address is
   * banned, backing off (unless `retry`: a second try of the same dial, such as plaintext after
   * a refused encryption), or a limit is reached.
   */
  beginDial(host: string, port: number, options: { retry?: boolean } = {}): DialPermit {
    const h = normalizeHost(host);
    const key = `${h}:${port}`;
    const now = this.clock.now();
    const refusal: RefusalReason | undefined = this.stopped
      ? 'stopped'
      : this.bans.has(h)
        ? 'banned'
        : this.halfOpen >= this.limits.maxHalfOpen
          ? 'half-open-limit'
          : !options.retry && (this.backoff.get(key)?.retryAt ?? 0) > now
            ? 'backoff'
            : this.admissionProblem(h);
    if (refusal) {
      this.counters.refused[refusal]++;
      log.debug('dial refused', { host, port, reason: refusal });
      throw new ConnectionRefusedError(refusal, host);
    }
    // Whatever happens, the address is not dialled again for a while.
    const b = this.backoffEntry(key);
    b.retryAt = now + redialWait(b.failures);
    this.halfOpen++;
    let settled = false;
    const settle = () => {
      if (settled) return false;
      settled = true;
      this.halfOpen--;
      return true;
    };
    return {
      connected: (stream, transport) => {
        settle();
        this.counters.dialled++;
        return this.track(stream, { transport, direction: 'outbound', encrypted: false });
      },
      failed: () => {
        if (!settle()) return;
        this.counters.dialFailures++;
        this.dialFailed(h, port);
      },
    };
  }

  /**
   * Notes a failed attempt to reach `host:port` (a refused dial, or a peer that closed before
   * its handshake, as a full peer does): each failure in a row doubles the wait before the next
   * dial, up to about 10 minutes.
   */
  dialFailed(host: string, port: number): void {
    const b = this.backoffEntry(`${normalizeHost(host)}:${port}`);
    b.failures++;
    b.retryAt = Math.max(b.retryAt, this.clock.now() + redialWait(b.failures));
  }

  /** Keeps `host:port` from being dialled for `ms` (a seed met while seeding, say). */
  postpone(host: string, port: number, ms: number): void {
    const b = this.backoffEntry(`${normalizeHost(host)}:${port}`);
    b.retryAt = Math.max(b.retryAt, this.clock.now() + ms);
  }

  /** The peer at `host:port` completed a handshake: its failures are forgiven. */
  dialSucceeded(host: string, port: number): void {
    const b = this.backoff.get(`${normalizeHost(host)}:${port}`);
    if (b) b.failures = 0;
  }

  /**
   * We closed a good connection to `host:port` on purpose and want it again at once (a magnet's
   * metadata came from it; the torrent dials it next): its back-off is forgotten.
   */
  allowRedial(host: string, port: number): void {
    this.backoff.delete(`${normalizeHost(host)}:${port}`);
  }

  /** When `host:port` may be dialled again (0 when it may now). */
  retryAt(host: string, port: number): number {
    return this.backoff.get(`${normalizeHost(host)}:${port}`)?.retryAt ?? 0;
  }

  /** Refuses `host` from now on, and closes every connection with it. */
  ban(host: string): void {
    const h = normalizeHost(host);
    if (this.bans.has(h)) return;
    log.info('banned', { host: h });
    this.bans.add(h);
    if (this.bans.size > this.limits.maxBans) this.bans.delete(this.bans.values().next().value!);
    for (const s of [...this.open]) if (normalizeHost(s.remoteAddress) === h) s.destroy();
  }

  isBanned(host: string): boolean {
    return this.bans.has(normalizeHost(host));
  }

  /** Addresses banned so far (bounded by `maxBans`). */
  get bannedCount(): number {
    return this.bans.size;
  }

  /** Refuses everything from now on and closes every connection. */
  stop(): void {
    this.stopped = true;
    for (const s of [...this.open]) s.destroy();
  }

  /** The back-off entry of `key`, made the most recently used (the table is an LRU). */
  private backoffEntry(key: string): Backoff {
    const b = this.backoff.get(key) ?? { failures: 0, retryAt: 0 };
    this.backoff.delete(key);
    this.backoff.set(key, b);
    if (this.backoff.size > this.limits.maxBackoffEntries)
      this.backoff.delete(this.backoff.keys().next().value!);
    return b;
  }

  private admissionProblem(host: string): RefusalReason | undefined {
    if (this.open.size >= this.limits.maxConnections) return 'connection-limit';
    if ((this.perIp.get(host) ?? 0) >= this.limits.maxPerIp) return 'per-ip-limit';
    return undefined;
  }

  private track(stream: ByteStream, info: ConnectionInfo): ManagedStream {
    const host = normalizeHost(stream.remoteAddress);
    increment(this.perIp, host);
    const managed = new ManagedStream(stream, info, (closed) => {
      if (this.open.delete(closed)) {
        this.closedBytes.received += closed.bytesReceived;
        this.closedBytes.sent += closed.bytesSent;
      }
      decrement(this.perIp, host);
      this.established(closed);
    });
    // A stream that closed while being wrapped has already given its slot back.
    if (!managed.isClosed) this.open.add(managed);
    return managed;
  }
}

/** IPv4-mapped IPv6 addresses count as their IPv4 address. */
export function normalizeHost(host: string): string {
  return host.startsWith('::ffff:') && host.includes('.') ? host.slice(7) : host;
}

function increment(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function decrement(map: Map<string, number>, key: string): void {
  const n = (map.get(key) ?? 0) - 1;
  if (n > 0) map.set(key, n);
  else map.delete(key);
}
