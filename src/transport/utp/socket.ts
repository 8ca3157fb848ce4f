/**
 * A uTP endpoint: many connections multiplexed over one datagram sender (the node's single UDP
 * socket). The owner feeds it every datagram that {@link isUtpPacket} accepts through
 * `receive`; connections are found by (address, port, connection id). Each connection gets one
 * lazily re-armed timer for its deadline, writes made in one turn of the event loop go out
 * together, and accepted connections reach `onConnection` as {@link ByteStream}s once the
 * initiator has spoken after its SYN.
 *
 * Limits: at most `maxConnections` connections; at most `maxHalfOpen` answered SYNs waiting
 * for their initiator (a flood of spoofed SYNs evicts the oldest, silently, and costs at most
 * that many small records); unknown-connection packets are answered by one 20-byte RESET each
 * (never larger than what came in), at most `resetsPerSecond`.
 */
import type {
  ByteStream,
  Clock,
  RandomSource,
  TimerHandle,
  Timers,
} from '../../runtime/runtime.js';
import { UtpConnection, type UtpConnectionSink } from './connection.js';
import { UtpConnectionError } from './errors.js';
import {
  decodeUtpPacket,
  emptyPacket,
  HEADER_BYTES,
  isUtpPacket,
  ST_RESET,
  ST_SYN,
  type UtpPacket,
  writeHeader,
} from './packet.js';
import { DEFAULT_CONNECTION_SETTINGS, type UtpConnectionSettings } from './settings.js';
import { UtpStream } from './stream.js';

/** Where the socket's datagrams go (the node's UDP socket, or a simulated one). */
export interface DatagramSender {
  send(data: Uint8Array, port: number, host: string): void;
}

/** What a {@link UtpSocket} needs and may be tuned with. */
export interface UtpSocketOptions {
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: RandomSource;
  /** The bound address, reported as each stream's local end. */
  readonly local?: { readonly address: string; readonly port: number };
  /** Connections of every state together (default 1000). */
  readonly maxConnections?: number;
  /** Answered SYNs waiting for the initiator's next packet (default 64). */
  readonly maxHalfOpen?: number;
  /** RESETs sent for unknown connections per second, at most (default 50). */
  readonly resetsPerSecond?: number;
  /**
   * Datagram size offered to a peer on a loopback address (default 64000; 0 to never use
   * packets larger than `connection.packetBytes`). Used only when the peer offers large
   * datagrams too, which only shoal does.
   */
  readonly loopbackPacketBytes?: number;
  /**
   * Receive window towards a loopback address (default 4 MiB): there the round trip is the
   * two event loops' turns, milliseconds under load, and 1 MiB per turn would cap a transfer
   * below what the machine can do.
   */
  readonly loopbackRecvWindowBytes?: number;
  /** Per-connection tunables. */
  readonly connection?: Partial<UtpConnectionSettings>;
}

/** Per-connection bookkeeping of the socket. */
interface Entry {
  readonly key: string;
  readonly host: string;
  readonly port: number;
  conn: UtpConnection | undefined;
  stream: UtpStream | undefined;
  timer: TimerHandle | undefined;
  timerAt: number;
  flushQueued: boolean;
  resumeQueued: boolean;
  connected: boolean;
  settle: { resolve: (s: ByteStream) => void; reject: (e: Error) => void } | undefined;
}

const keyOf = (id: number, port: number, host: string) => `${id}:${port}:${host}`;

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback: packets there never meet a real MTU. */
export function isLoopback(host: string): boolean {
  return (
    host.startsWith('127.') ||
    host === '::1' ||
    host === 'localhost' ||
    host.startsWith('::ffff:127.')
  );
}

/** See the module comment. */
export class UtpSocket {
  private readonly entries = new Map<string, Entry>();
  private readonly halfOpen = new Set<Entry>();
  private readonly packet: UtpPacket = emptyPacket();
  private readonly settings: UtpConnectionSettings;
  private readonly maxConnections: number;
  private readonly maxHalfOpen: number;
  private readonly resetsPerSecond: number;
  private readonly loopbackPacketBytes: number;
  private readonly loopbackSettings: UtpConnectionSettings;
  private accept: ((stream: ByteStream) => void) | undefined;
  private resetTokens: number;
  private resetRefillAt = 0;
  private closed = false;
  /** Datagrams dropped as malformed, RESETs sent for unknown connections, SYNs refused. */
  readonly counters = {
    malformed: 0,
    resetsSent: 0,
    synsRefused: 0,
    halfOpenEvicted: 0,
    sendFailures: 0,
  };

  constructor(
    private readonly sender: DatagramSender,
    private readonly options: UtpSocketOptions,
  ) {
    this.settings = { ...DEFAULT_CONNECTION_SETTINGS, ...options.connection };
    this.maxConnections = options.maxConnections ?? 1000;
    this.maxHalfOpen = options.maxHalfOpen ?? 64;
    this.resetsPerSecond = options.resetsPerSecond ?? 50;
    this.loopbackPacketBytes = options.loopbackPacketBytes ?? 64_000;
    this.loopbackSettings = {
      ...this.settings,
      largePacketBytes: this.loopbackPacketBytes,
      recvWindowBytes: Math.max(
        this.settings.recvWindowBytes,
        options.loopbackRecvWindowBytes ?? 4 << 20,
      ),
    };
    this.resetTokens = this.resetsPerSecond;
  }

  /** Connections currently known (any state). */
  get connectionCount(): number {
    return this.entries.size;
  }

  /** Sets the handler for accepted connections; without one, incoming SYNs are ignored. */
  onConnection(handler: (stream: ByteStream) => void): void {
    this.accept = handler;
  }

  /** Opens a connection to `host:port`; resolves once the peer answered the SYN. */
  connect(host: string, port: number): Promise<ByteStream> {
    if (this.closed) return Promise.reject(new UtpConnectionError('UTP_CLOSED'));
    if (this.entries.size >= this.maxConnections)
      return Promise.reject(new UtpConnectionError('UTP_REFUSED', `${this.entries.size} open`));
    let recvId = -1;
    for (let tries = 0; tries < 32 && recvId < 0; tries++) {
      const id = this.options.random.int(0x10000);
      if (!this.entries.has(keyOf(id, port, host))) recvId = id;
    }
    if (recvId < 0)
      return Promise.reject(new UtpConnectionError('UTP_REFUSED', 'no free connection id'));
    return new Promise<ByteStream>((resolve, reject) => {
      const entry = this.newEntry(keyOf(recvId, port, host), host, port);
      entry.settle = { resolve, reject };
      this.entries.set(entry.key, entry);
      try {
        entry.conn = UtpConnection.connect(
          recvId,
          this.options.clock.now(),
          this.options.random,
          this.settingsFor(host),
          this.sinkFor(entry),
        );
      } catch (error) {
        this.entries.delete(entry.key);
        reject(error);
        return;
      }
      this.afterActivity(entry);
    });
  }

  /** Takes one datagram that arrived from `from` (lent for the call; nothing is kept). */
  receive(data: Uint8Array, from: { readonly address: string; readonly port: number }): void {
    if (this.closed || !isUtpPacket(data)) return;
    let p: UtpPacket;
    try {
      p = decodeUtpPacket(data, this.packet);
    } catch {
      this.counters.malformed++;
      return;
    }
    const now = this.options.clock.now();
    if (p.type === ST_SYN) {
      this.incomingSyn(p, from.address, from.port, now);
      return;
    }
    const entry = this.find(p, from.address, from.port);
    if (entry?.conn === undefined) {
      if (p.type !== ST_RESET) this.sendReset(p, from.address, from.port, now);
      return;
    }
    entry.conn.receive(p, now);
    this.afterActivity(entry);
  }

  /** Closes every connection (the peers get a RESET) and refuses anything further. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const now = this.options.clock.now();
    for (const entry of [...this.entries.values()]) {
      entry.conn?.destroy(now, new UtpConnectionError('UTP_CLOSED'));
      this.forget(entry);
    }
  }

  // ------------------------------------------------------------------ internals

  private settingsFor(host: string): UtpConnectionSettings {
    return this.loopbackPacketBytes > 0 && isLoopback(host) ? this.loopbackSettings : this.settings;
  }

  private find(p: UtpPacket, host: string, port: number): Entry | undefined {
    const direct = this.entries.get(keyOf(p.connectionId, port, host));
    if (direct !== undefined || p.type !== ST_RESET) return direct;
    // libutp answers a packet of a connection it does not know with a RESET carrying the id
    // that packet had: our send id, one above or below our receive id.
    for (const delta of [-1, 1]) {
      const e = this.entries.get(keyOf((p.connectionId + delta) & 0xffff, port, host));
      if (e?.conn?.sendId === p.connectionId) return e;
    }
    return undefined;
  }

  private incomingSyn(p: UtpPacket, host: string, port: number, now: number): void {
    const recvId = (p.connectionId + 1) & 0xffff;
    const key = keyOf(recvId, port, host);
    const existing = this.entries.get(key);
    if (existing?.conn !== undefined) {
      existing.conn.receive(p, now);
      this.afterActivity(existing);
      return;
    }
    if (this.accept === undefined || this.entries.size >= this.maxConnections) {
      this.counters.synsRefused++;
      return;
    }
    if (this.halfOpen.size >= this.maxHalfOpen) {
      const oldest = this.halfOpen.values().next().value;
      if (oldest !== undefined) {
        this.counters.halfOpenEvicted++;
        oldest.conn?.forget();
        this.forget(oldest);
      }
    }
    const entry = this.newEntry(key, host, port);
    this.entries.set(key, entry);
    this.halfOpen.add(entry);
    const conn = UtpConnection.accept(
      p,
      now,
      this.options.random,
      this.settingsFor(host),
      this.sinkFor(entry),
    );
    entry.conn = conn;
    conn.pause(); // until the application sets a data handler
    this.afterActivity(entry);
  }

  /** One RESET per unknown packet, rate-limited, and never one for a RESET. */
  private sendReset(p: UtpPacket, host: string, port: number, now: number): void {
    if (now >= this.resetRefillAt) {
      this.resetTokens = this.resetsPerSecond;
      this.resetRefillAt = now + 1000;
    }
    if (this.resetTokens <= 0) return;
    this.resetTokens--;
    this.counters.resetsSent++;
    const buf = Buffer.allocUnsafe(HEADER_BYTES);
    const micros = Math.floor(now * 1000) >>> 0;
    writeHeader(
      buf,
      ST_RESET,
      0,
      p.connectionId,
      micros,
      0,
      0,
      this.options.random.int(0x10000),
      p.seqNr,
    );
    this.sendSafely(buf, port, host);
  }

  /**
   * Sends a datagram; a refusal (the egress policy, a closed socket) loses it like the network
   * would, instead of throwing out of a timer or a receive callback and taking the process down.
   */
  private sendSafely(datagram: Uint8Array, port: number, host: string): void {
    try {
      this.sender.send(datagram, port, host);
    } catch {
      this.counters.sendFailures++;
    }
  }

  private newEntry(key: string, host: string, port: number): Entry {
    return {
      key,
      host,
      port,
      conn: undefined,
      stream: undefined,
      timer: undefined,
      timerAt: Number.POSITIVE_INFINITY,
      flushQueued: false,
      resumeQueued: false,
      connected: false,
      settle: undefined,
    };
  }

  private sinkFor(entry: Entry): UtpConnectionSink {
    return {
      send: (datagram) => this.sendSafely(datagram, entry.port, entry.host),
      data: (chunk) => entry.stream?.emitData(chunk),
      connected: () => this.connected(entry),
      drain: () => entry.stream?.emitDrain(),
      closed: (error) => {
        if (entry.connected) entry.stream?.emitClose(error);
        else entry.settle?.reject(error ?? new UtpConnectionError('UTP_CLOSED'));
        entry.settle = undefined;
      },
    };
  }

  private connected(entry: Entry): void {
    entry.connected = true;
    this.halfOpen.delete(entry);
    const local = this.options.local ?? { address: '0.0.0.0', port: 0 };
    const stream = new UtpStream(entry.host, entry.port, local.address, local.port, {
      write: (chunk, flushed) => this.write(entry, chunk, flushed),
      pause: () => entry.conn?.pause(),
      resume: () => this.resume(entry),
      end: () => this.withConn(entry, (c, now) => c.end(now)),
      destroy: (error) => this.withConn(entry, (c, now) => c.destroy(now, error)),
    });
    entry.stream = stream;
    const settle = entry.settle;
    entry.settle = undefined;
    if (settle !== undefined) {
      entry.conn?.pause(); // until the application sets a data handler
      settle.resolve(stream);
    } else this.accept?.(stream);
  }

  private write(entry: Entry, chunk: Uint8Array, flushed?: () => void): boolean {
    const conn = entry.conn;
    if (conn === undefined) return false;
    const ok = conn.write(chunk, flushed);
    if (!entry.flushQueued) {
      entry.flushQueued = true;
      queueMicrotask(() => {
        entry.flushQueued = false;
        this.withConn(entry, (c, now) => c.flush(now));
      });
    }
    return ok;
  }

  private resume(entry: Entry): void {
    if (entry.resumeQueued) return;
    entry.resumeQueued = true;
    queueMicrotask(() => {
      entry.resumeQueued = false;
      this.withConn(entry, (c, now) => c.resume(now));
    });
  }

  private withConn(entry: Entry, fn: (conn: UtpConnection, now: number) => void): void {
    const conn = entry.conn;
    if (conn === undefined || this.entries.get(entry.key) !== entry) return;
    fn(conn, this.options.clock.now());
    this.afterActivity(entry);
  }

  /** Forgets a finished connection, or makes sure its timer will run at its deadline. */
  private afterActivity(entry: Entry): void {
    const conn = entry.conn;
    if (conn === undefined) return;
    if (conn.done) {
      this.forget(entry);
      return;
    }
    const at = conn.deadline();
    if (at >= entry.timerAt) return;
    entry.timer?.cancel();
    entry.timer = undefined;
    entry.timerAt = at;
    if (at === Number.POSITIVE_INFINITY) return;
    const delay = Math.max(0, at - this.options.clock.now());
    entry.timer = this.options.timers.setTimeout(() => this.fire(entry), delay);
  }

  private fire(entry: Entry): void {
    entry.timer = undefined;
    entry.timerAt = Number.POSITIVE_INFINITY;
    const conn = entry.conn;
    if (conn === undefined || this.entries.get(entry.key) !== entry) return;
    const now = this.options.clock.now();
    const due = conn.deadline();
    // Timers may fire a fraction of a millisecond early by the monotonic clock.
    if (now + 1 >= due) conn.tick(Math.max(now, due));
    this.afterActivity(entry);
  }

  private forget(entry: Entry): void {
    entry.timer?.cancel();
    entry.timer = undefined;
    entry.timerAt = Number.NEGATIVE_INFINITY;
    this.halfOpen.delete(entry);
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
  }
}
