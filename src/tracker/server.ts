import { ShoalError } from '../errors.js';
import type {
  ByteStream,
  Runtime,
  TcpServer,
  TimerHandle,
  UdpRemote,
  UdpSocket,
} from '../runtime/runtime.js';
import { IpRateLimiter } from '../shared/ip-rate-limiter.js';
import { ConnectionIds } from './connection-ids.js';
import {
  encodeAnnounceResponse,
  encodeFailure,
  encodeScrapeResponse,
  parseAnnounceQuery,
  parseScrapeQuery,
  TrackerProtocolError,
} from './http-messages.js';
import { HttpRequestReader, httpResponse } from './http-request.js';
import { type AnnounceOutcome, type RegistryOptions, SwarmRegistry } from './registry.js';
import {
  decodeUdpRequest,
  encodeUdpResponse,
  MAX_SCRAPE_HASHES,
  TrackerPacketError,
  UdpAction,
  type UdpRequest,
  type UdpResponse,
} from './udp-messages.js';

/** Settings of a tracker server, with defaults in {@link DEFAULT_TRACKER_OPTIONS}. */
export interface TrackerOptions extends RegistryOptions {
  /** TCP port for HTTP announces; `undefined` = no HTTP. */
  readonly httpPort?: number;
  /** UDP port for BEP 15 announces; `undefined` = no UDP. */
  readonly udpPort?: number;
  readonly host: string;
  readonly defaultNumWant: number;
  readonly maxNumWant: number;
  /** Requests per second per source address (0 = unlimited) and the burst allowed. */
  readonly perIpRate: number;
  readonly perIpBurst: number;
  /**
   * Open HTTP connections at most; when full, a new one takes the place of the connection that
   * has waited longest for its next request (which a slowloris holds, not an honest client).
   */
  readonly maxHttpConnections: number;
  /** Open HTTP connections from one address at most; more are closed at once. */
  readonly maxHttpConnectionsPerIp: number;
  /**
   * A request head must arrive whole within this time from its first byte (from the connection's
   * opening for the first request): trickling bytes does not extend it.
   */
  readonly httpHeadTimeoutMs: number;
  /** A kept-alive connection with no request begun is closed after this long. */
  readonly httpIdleTimeoutMs: number;
}

/** Defaults like those of public trackers. */
export const DEFAULT_TRACKER_OPTIONS: TrackerOptions = {
  host: '0.0.0.0',
  intervalSeconds: 1800,
  minIntervalSeconds: 900,
  peerTimeoutSeconds: 2 * 1800 + 300,
  maxSwarms: 1_000_000,
  maxPeersPerSwarm: 100_000,
  maxPeers: 4_000_000,
  defaultNumWant: 50,
  maxNumWant: 200,
  perIpRate: 50,
  perIpBurst: 100,
  maxHttpConnections: 4096,
  maxHttpConnectionsPerIp: 32,
  httpHeadTimeoutMs: 10_000,
  httpIdleTimeoutMs: 30_000,
};

const MAX_UDP_PACKET = 2048;
/** The header of a UDP error reply (action, transaction id); the message follows. */
const UDP_ERROR_HEADER_BYTES = 8;

/** One HTTP connection's state: its request reader and its one timer. */
interface HttpConnection {
  readonly host: string;
  readonly reader: HttpRequestReader;
  deadline: TimerHandle;
  /** The last reply is written; the connection counts until it is closed. */
  closing: boolean;
}

/**
 * A BitTorrent tracker (hybrid P2P): HTTP announce/scrape (BEP 3, 23, 7, 48) and UDP
 * (BEP 15), coordinating who is in which swarm and storing no content. UDP connection ids are
 * keyed hashes of the client's address and the minute, so a spoofed source cannot use one;
 * every request is rate-limited per address before anything else; a source that has not shown
 * a connection id never gets a reply larger than its packet (no reflection). HTTP connections
 * are capped in all and per address, a request head has a deadline that trickled bytes do not
 * move, and a new connection to a full tracker replaces the one waiting longest.
 */
export class TrackerServer {
  readonly registry: SwarmRegistry;
  private readonly options: TrackerOptions;
  private readonly limiter: IpRateLimiter;
  private readonly connectionIds: ConnectionIds;
  private readonly startedAt: number;
  private http: TcpServer | undefined;
  private udp: UdpSocket | undefined;
  private expiry: TimerHandle | undefined;
  /** Open HTTP connections, those that completed a request least recently first. */
  private readonly connections = new Map<ByteStream, HttpConnection>();
  private readonly connectionsPerIp = new Map<string, number>();
  private counters = {
    httpRequests: 0,
    udpPackets: 0,
    errors: 0,
    rateLimited: 0,
    httpRefused: 0,
    httpEvicted: 0,
    httpTimedOut: 0,
  };

  private constructor(
    private readonly runtime: Runtime,
    options: Partial<TrackerOptions>,
  ) {
    this.options = { ...DEFAULT_TRACKER_OPTIONS, ...options };
    this.registry = new SwarmRegistry(this.options, runtime.random);
    this.limiter = new IpRateLimiter(
      runtime.clock,
      this.options.perIpRate,
      this.options.perIpBurst,
    );
    this.connectionIds = new ConnectionIds(runtime.random.bytes(32));
    this.startedAt = runtime.clock.now();
  }

  /** Starts listening on the configured ports. */
  static async start(runtime: Runtime, options: Partial<TrackerOptions>): Promise<TrackerServer> {
    const t = new TrackerServer(runtime, options);
    const { host, httpPort, udpPort } = t.options;
    try {
      if (httpPort !== undefined)
        t.http = await runtime.tcp.listen({ port: httpPort, host }, (s) => t.onHttpConnection(s));
      if (udpPort !== undefined) {
        t.udp = await runtime.udp.bind({
          port: udpPort,
          host,
          family: host.includes(':') ? 'IPv6' : 'IPv4',
        });
        t.udp.onMessage((data, from) => t.onUdp(data, from));
        t.udp.onError(() => {
          t.counters.errors++;
        });
      }
    } catch (error) {
      await t.stop();
      throw new ShoalError('LISTEN_FAILED', `tracker cannot listen: ${(error as Error).message}`, {
        cause: error,
      });
    }
    t.expiry = runtime.timers.setInterval(
      () => t.registry.expire(runtime.clock.wallTime()),
      60_000,
    );
    return t;
  }

  /** The HTTP and UDP ports actually bound. */
  get ports(): { http?: number; udp?: number } {
    return {
      ...(this.http && { http: this.http.address().port }),
      ...(this.udp && { udp: this.udp.address().port }),
    };
  }

  /** Everything the stats endpoint reports. */
  stats(): Record<string, number> {
    return {
      ...this.registry.stats(),
      ...this.counters,
      httpConnections: this.connections.size,
      uptimeSeconds: Math.floor((this.runtime.clock.now() - this.startedAt) / 1000),
    };
  }

  async stop(): Promise<void> {
    this.expiry?.cancel();
    for (const c of [...this.connections.keys()]) c.destroy();
    await this.http?.close();
    await this.udp?.close();
  }

  // ------------------------------------------------------------------ HTTP

  private onHttpConnection(stream: ByteStream): void {
    const host = unmapV4(stream.remoteAddress);
    const fromHost = this.connectionsPerIp.get(host) ?? 0;
    if (fromHost >= this.options.maxHttpConnectionsPerIp) {
      this.counters.httpRefused++;
      stream.destroy();
      return;
    }
    if (this.connections.size >= this.options.maxHttpConnections) {
      // The first connection is the one that has waited longest for a request to complete.
      const [oldest] = this.connections.keys();
      if (oldest) {
        this.counters.httpEvicted++;
        this.closeConnection(oldest);
      }
    }
    const timeout = () => {
      this.counters.httpTimedOut++;
      stream.destroy();
    };
    const c: HttpConnection = {
      host,
      reader: new HttpRequestReader(),
      deadline: this.runtime.timers.setTimeout(timeout, this.options.httpHeadTimeoutMs),
      closing: false,
    };
    const restart = (ms: number) => {
      c.deadline.cancel();
      c.deadline = this.runtime.timers.setTimeout(timeout, ms);
    };
    // Ends after the last reply; a client that neither reads it nor closes is cut off.
    const finish = () => {
      c.closing = true;
      stream.end();
      restart(this.options.httpHeadTimeoutMs);
    };
    this.connections.set(stream, c);
    this.connectionsPerIp.set(host, fromHost + 1);
    stream.onClose(() => this.forget(stream));
    stream.onDrain(() => stream.resume());
    stream.onData((chunk) => {
      if (c.closing) return;
      const wasPending = c.reader.pending;
      const { requests, error } = c.reader.push(chunk);
      let writable = true;
      for (const req of requests) {
        this.counters.httpRequests++;
        const { status, body, type } = this.handleHttp(req.path, req.query, host);
        writable = stream.write(httpResponse(status, body, type, req.keepAlive && !error));
        if (!req.keepAlive) {
          finish();
          return;
        }
      }
      if (error) {
        this.counters.errors++;
        stream.write(httpResponse(error.status, Buffer.from(error.message), 'text/plain', false));
        finish();
        return;
      }
      if (requests.length > 0) {
        // Most recently useful last: eviction takes connections from the front.
        this.connections.delete(stream);
        this.connections.set(stream, c);
      }
      // The clock restarts only when a request ends or a new one begins, never per byte.
      if (requests.length > 0 || (!wasPending && c.reader.pending))
        restart(c.reader.pending ? this.options.httpHeadTimeoutMs : this.options.httpIdleTimeoutMs);
      // A client that does not read its replies is not read either, until they drain.
      if (!writable) stream.pause();
    });
  }

  /** Closes `stream` now and forgets it. */
  private closeConnection(stream: ByteStream): void {
    this.forget(stream);
    stream.destroy();
  }

  /** Stops counting `stream` (closed or evicted); idempotent. */
  private forget(stream: ByteStream): void {
    const c = this.connections.get(stream);
    if (!c) return;
    c.deadline.cancel();
    this.connections.delete(stream);
    const n = (this.connectionsPerIp.get(c.host) ?? 1) - 1;
    if (n > 0) this.connectionsPerIp.set(c.host, n);
    else this.connectionsPerIp.delete(c.host);
  }

  private handleHttp(
    path: string,
    query: string,
    remote: string,
  ): { status: number; body: Buffer; type: string } {
    const bencoded = 'text/plain';
    const host = unmapV4(remote);
    if (path === '/stats') {
      return {
        status: 200,
        body: Buffer.from(JSON.stringify(this.stats())),
        type: 'application/json',
      };
    }
    if (path !== '/announce' && path !== '/scrape') {
      return {
        status: 404,
        body: Buffer.from('not found: try /announce, /scrape or /stats'),
        type: 'text/plain',
      };
    }
    if (!this.limiter.allow(host)) {
      this.counters.rateLimited++;
      return { status: 200, body: encodeFailure('too many requests; slow down'), type: bencoded };
    }
    try {
      if (path === '/scrape') {
        const hashes = parseScrapeQuery(query, MAX_SCRAPE_HASHES);
        if (hashes.length === 0)
          return {
            status: 200,
            body: encodeFailure('full scrapes are not supported'),
            type: bencoded,
          };
        return {
          status: 200,
          body: encodeScrapeResponse(this.registry.scrape(hashes)),
          type: bencoded,
        };
      }
      const r = parseAnnounceQuery(query, this.options);
      const outcome = this.registry.announce(r, host, this.runtime.clock.wallTime());
      if (!outcome.ok) return { status: 200, body: encodeFailure(outcome.reason), type: bencoded };
      const response = this.registry.response(outcome);
      // Peer ids by address, for the dictionary form; response.peers follows outcome.picked.
      const peerIds = r.noPeerId
        ? undefined
        : new Map(
            response.peers.map((p, i) => [
              `${p.host}:${p.port}`,
              outcome.peers.peerId(outcome.picked[i]!),
            ]),
          );
      return {
        status: 200,
        body: encodeAnnounceResponse(response, r.compact, peerIds, compactOf(outcome)),
        type: bencoded,
      };
    } catch (error) {
      this.counters.errors++;
      if (error instanceof TrackerProtocolError)
        return { status: 200, body: encodeFailure(error.message), type: bencoded };
      throw error;
    }
  }

  // ------------------------------------------------------------------ UDP

  /** Sends a (non-announce) UDP reply; kept out of onUdp so no closure is made per packet. */
  private respond(to: UdpRemote, family: 4 | 6, r: UdpResponse): void {
    this.udp?.send(encodeUdpResponse(r, family), to.port, to.address);
  }

  /**
   * Sends an error reply of at most `maxBytes` (the message is cut to fit; nothing is sent when
   * not even the header fits). For a source not proven by a connection id, `maxBytes` is the
   * size of its packet, so a spoofed one cannot get back more than it sent.
   */
  private respondError(
    to: UdpRemote,
    transactionId: number,
    message: string,
    maxBytes: number,
  ): void {
    const room = maxBytes - UDP_ERROR_HEADER_BYTES;
    if (room < 0) return;
    const text = Buffer.from(message, 'utf8');
    const length = Math.min(text.length, room);
    const reply = Buffer.allocUnsafe(UDP_ERROR_HEADER_BYTES + length);
    reply.writeUInt32BE(UdpAction.error, 0);
    reply.writeUInt32BE(transactionId >>> 0, 4);
    text.copy(reply, UDP_ERROR_HEADER_BYTES, 0, length);
    this.udp?.send(reply, to.port, to.address);
  }

  private onUdp(data: Buffer, from: UdpRemote): void {
    this.counters.udpPackets++;
    if (data.length > MAX_UDP_PACKET) return;
    const host = unmapV4(from.address);
    // Before anything else, silently: a reply would let a spoofed flood bounce off us.
    if (!this.limiter.allow(host)) {
      this.counters.rateLimited++;
      return;
    }
    const family = from.family === 'IPv6' && host.includes(':') ? 6 : 4;
    const now = this.runtime.clock.now();
    let request: UdpRequest;
    try {
      request = decodeUdpRequest(data);
    } catch (error) {
      this.counters.errors++;
      if (!(error instanceof TrackerPacketError) || data.length < 16) return;
      const proven = this.connectionIds.valid(
        data.readBigUInt64BE(0),
        from.address,
        from.port,
        now,
      );
      this.respondError(
        from,
        data.readUInt32BE(12),
        error.message,
        proven ? MAX_UDP_PACKET : data.length,
      );
      return;
    }
    if (request.action === 'connect') {
      // 16 bytes for 16: no amplification.
      this.respond(from, family, {
        action: 'connect',
        transactionId: request.transactionId,
        connectionId: this.connectionIds.issue(from.address, from.port, now),
      });
      return;
    }
    if (!this.connectionIds.valid(request.connectionId, from.address, from.port, now)) {
      this.counters.errors++;
      this.respondError(
        from,
        request.transactionId,
        'connection id expired or invalid',
        data.length,
      );
      return;
    }
    if (request.action === 'scrape') {
      const counts = [...this.registry.scrape(request.infoHashes).values()];
      this.respond(from, family, {
        action: 'scrape',
        transactionId: request.transactionId,
        files: counts.map((c) => ({
          seeders: c.complete,
          completed: c.downloaded,
          leechers: c.incomplete,
        })),
      });
      return;
    }
    if (request.port === 0) {
      this.respondError(from, request.transactionId, 'port must not be 0', MAX_UDP_PACKET);
      return;
    }
    const numWant =
      request.numWant < 0
        ? this.options.defaultNumWant
        : Math.min(request.numWant, this.options.maxNumWant);
    const outcome = this.registry.announce(
      {
        infoHash: request.infoHash,
        peerId: request.peerId,
        port: request.port,
        uploaded: request.uploaded,
        downloaded: request.downloaded,
        left: request.left,
        event: request.event,
        numWant,
        compact: true,
        noPeerId: true,
      },
      host,
      this.runtime.clock.wallTime(),
      family,
    );
    if (!outcome.ok) {
      this.respondError(from, request.transactionId, outcome.reason, MAX_UDP_PACKET);
      return;
    }
    // The hot path: the reply is assembled from the peers' ready-made compact addresses.
    const r = outcome;
    const picked = outcome.picked;
    const reply = Buffer.allocUnsafe(20 + picked.length * (family === 4 ? 6 : 18));
    reply.writeUInt32BE(UdpAction.announce, 0);
    reply.writeUInt32BE(request.transactionId >>> 0, 4);
    reply.writeUInt32BE(r.interval, 8);
    reply.writeUInt32BE(r.incomplete, 12);
    reply.writeUInt32BE(r.complete, 16);
    let at = 20;
    // Indexed: V8 left this loop's array iterator uninlined (2.4 % of the tracker's CPU).
    for (let i = 0; i < picked.length; i++) at = r.peers.writeCompact(picked[i]!, reply, at);
    this.udp?.send(reply, from.port, from.address);
  }
}

function unmapV4(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** The picked peers' compact addresses, per family, for a compact HTTP reply. */
function compactOf(outcome: Extract<AnnounceOutcome, { ok: true }>): { v4: Buffer; v6: Buffer } {
  const { peers, picked } = outcome;
  const of = (family: 4 | 6) => {
    const slots = picked.filter((slot) => peers.family(slot) === family);
    const out = Buffer.alloc(slots.length * (family === 4 ? 6 : 18));
    let at = 0;
    for (const slot of slots) at = peers.writeCompact(slot, out, at);
    return out;
  };
  return { v4: of(4), v6: of(6) };
}
