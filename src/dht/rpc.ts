import type { BDict, Encodable } from '../codec/bencode.js';
import type { DatagramChannel } from '../net/datagram-mux.js';
import type { RandomSource, TimerHandle, Timers, UdpRemote } from '../runtime/runtime.js';
import { DhtError } from './errors.js';
import { decodeKrpc, encodeQuery, type KrpcMessage } from './krpc.js';
import type { DhtMetrics } from './metrics.js';
import { ID_BYTES } from './node-id.js';

/** An incoming query, decoded, with where it came from and how large it was. */
export type IncomingQuery = Extract<KrpcMessage, { y: 'q' }> & {
  readonly host: string;
  readonly port: number;
  readonly bytes: number;
};

/** `msg` with where it came from, built field by field (a spread was a hot spot). */
function incoming(
  msg: Extract<KrpcMessage, { y: 'q' }>,
  host: string,
  port: number,
  bytes: number,
): IncomingQuery {
  const { t, q, a, readOnly, v } = msg;
  return v
    ? { y: 'q', t, q, a, readOnly, v, host, port, bytes }
    : { y: 'q', t, q, a, readOnly, host, port, bytes };
}

/** Where a query goes; `id`, when known, is blamed if it does not answer. */
export interface QueryTarget {
  readonly host: string;
  readonly port: number;
  readonly id?: Buffer;
}

/** Counts of the KRPC traffic, for status lines and stats (read from {@link DhtMetrics}). */
export interface RpcCounters {
  queriesIn: number;
  queriesOut: number;
  responsesIn: number;
  errorsIn: number;
  timeouts: number;
  rateLimited: number;
  dropped: number;
}

/** What the transaction layer tells its owner. */
export interface RpcEvents {
  /** A query arrived. */
  query(q: IncomingQuery): void;
  /** A node answered one of our queries from the address we asked. */
  responded(id: Buffer, host: string, port: number): void;
  /** A query to a known node timed out. */
  timedOut(id: Buffer): void;
  /** A response carried our address as the responder sees it (BEP 42 `ip`). */
  sawExternalIp(compact: Uint8Array): void;
}

interface Pending {
  resolve: (r: BDict) => void;
  reject: (e: Error) => void;
  timer: TimerHandle;
  host: string;
  port: number;
  id?: Buffer;
}

/** What the transaction layer needs. */
export interface RpcDeps {
  readonly channel: DatagramChannel;
  readonly random: RandomSource;
  readonly timers: Timers;
  readonly events: RpcEvents;
  readonly queryTimeoutMs: number;
  readonly readOnly: boolean;
  readonly clientVersion: Buffer;
  /** Our node id at the time of sending (it may change after a BEP 42 vote). */
  readonly id: () => Buffer;
  readonly metrics: DhtMetrics;
}

/**
 * The DHT's transaction layer: sends queries with fresh transaction ids, matches responses to
 * them (only from the address that was asked, so spoofed or stray replies are dropped), times
 * them out, and hands incoming queries to the owner. Knows nothing of routing or storage.
 */
export class KrpcTransactions {
  /** Queries in flight by their 2-byte transaction id, read as a number. */
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  constructor(private readonly deps: RpcDeps) {
    deps.channel.onMessage((data, from) => this.onPacket(data, from));
  }

  /** Sends one query and resolves with the response body. */
  query(to: QueryTarget, q: string, a: Record<string, Encodable | undefined>): Promise<BDict> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new DhtError('DHT is not running'));
        return;
      }
      let t: Buffer;
      do t = this.deps.random.bytes(2);
      while (this.pending.has(t.readUInt16BE(0)));
      const key = t.readUInt16BE(0);
      const packet = encodeQuery(
        t,
        q,
        { ...a, id: this.deps.id() },
        this.deps.readOnly,
        this.deps.clientVersion,
      );
      try {
        this.deps.channel.send(packet, to.port, to.host);
      } catch (error) {
        reject(error as Error);
        return;
      }
      this.deps.metrics.queryOut(q);
      const timer = this.deps.timers.setTimeout(() => {
        this.pending.delete(key);
        this.deps.metrics.series.timeouts.inc();
        if (to.id) this.deps.events.timedOut(to.id);
        reject(new DhtError(`${to.host}:${to.port} did not answer ${q}`));
      }, this.deps.queryTimeoutMs);
      this.pending.set(key, {
        resolve,
        reject,
        timer,
        host: to.host,
        port: to.port,
        ...(to.id && { id: to.id }),
      });
    });
  }

  /** Sends a datagram (a reply); throws what the channel throws (the egress policy). */
  send(packet: Uint8Array, host: string, port: number): void {
    this.deps.channel.send(packet, port, host);
  }

  /** Fails every query in flight and ignores what arrives from now on. */
  close(): void {
    this.closed = true;
    for (const p of this.pending.values()) {
      p.timer.cancel();
      p.reject(new DhtError('DHT stopped'));
    }
    this.pending.clear();
  }

  private onPacket(data: Buffer, from: UdpRemote): void {
    if (this.closed) return;
    const host = from.address.startsWith('::ffff:') ? from.address.slice(7) : from.address;
    let msg: KrpcMessage;
    try {
      msg = decodeKrpc(data);
    } catch {
      this.deps.metrics.series.malformed.inc();
      return;
    }
    if (msg.y === 'q') {
      this.deps.metrics.queryIn(msg.q);
      this.deps.events.query(incoming(msg, host, from.port, data.length));
      return;
    }
    // Our transaction ids are 2 bytes; any other length is not an answer to us.
    const key = msg.t.length === 2 ? (msg.t[0]! << 8) | msg.t[1]! : -1;
    const p = this.pending.get(key);
    // A reply must come from the address we asked, or it is ignored (spoofing, stray packets).
    const asked = p?.host === 'localhost' ? '127.0.0.1' : p?.host;
    if (!p || asked !== host || p.port !== from.port) {
      this.deps.metrics.series.unexpected.inc();
      return;
    }
    this.pending.delete(key);
    p.timer.cancel();
    if (msg.ip) this.deps.events.sawExternalIp(msg.ip);
    if (msg.y === 'e') {
      this.deps.metrics.series.errors.inc();
      p.reject(new DhtError(`${host}:${from.port} answered error ${msg.code}: ${msg.message}`));
      return;
    }
    this.deps.metrics.series.responses.inc();
    const id = msg.r.get('id');
    if (id instanceof Uint8Array && id.length === ID_BYTES)
      this.deps.events.responded(Buffer.from(id), host, from.port);
    p.resolve(msg.r);
  }
}
