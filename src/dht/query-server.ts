import type { Encodable } from '../codec/bencode.js';
import { encodeCompactAddress } from '../codec/compact.js';
import type { IpRateLimiter } from '../shared/ip-rate-limiter.js';
import { type HandlerContext, QueryRefusal, type QueryReply } from './handlers/context.js';
import { QUERY_HANDLERS } from './handlers/index.js';
import {
  encodeError,
  encodeResponse,
  idField,
  KrpcError,
  KrpcErrorCode,
  MAX_KRPC_BYTES,
} from './krpc.js';
import type { DhtMetrics } from './metrics.js';
import { ID_BYTES } from './node-id.js';
import type { RoutingEntry, RoutingTable } from './routing-table.js';
import type { IncomingQuery } from './rpc.js';

/** What the query server needs from its DHT. */
export interface QueryServerDeps {
  readonly table: RoutingTable;
  readonly limiter: IpRateLimiter;
  readonly metrics: DhtMetrics;
  readonly readOnly: boolean;
  readonly clientVersion: Buffer;
  /** A handler context for this moment. */
  context(): HandlerContext;
  send(packet: Buffer, host: string, port: number): void;
  /** A full bucket asks us to ping one of its nodes before the asker may replace it. */
  pingQuestionable(node: RoutingEntry): void;
}

/**
 * Answers incoming queries: read-only mode (BEP 43) answers nothing, floods are refused per
 * address, the asker enters the routing table, the query's handler builds the reply, and a
 * reply to an address that has never answered one of our queries is at most 4× the request —
 * values, then IPv6 nodes, then nodes are dropped to fit — so the node cannot be used to
 * amplify a spoofed flood.
 */
export class QueryServer {
  constructor(private readonly deps: QueryServerDeps) {}

  handle(q: IncomingQuery): void {
    if (this.deps.readOnly) return; // BEP 43: read-only nodes answer nothing
    if (!this.deps.limiter.allow(q.host)) {
      this.deps.metrics.series.rateLimited.inc();
      return;
    }
    const ip = encodeCompactAddress(q.host, q.port);
    const fail = (code: number, message: string) =>
      this.deps.send(encodeError(q.t, code, message, ip), q.host, q.port);
    try {
      const senderId = idField(q.a, 'id');
      if (!q.readOnly) {
        const outcome = this.deps.table.insert({ id: senderId, host: q.host, port: q.port }, false);
        if (outcome.kind === 'full') this.deps.pingQuestionable(outcome.ping);
      }
      const handler = QUERY_HANDLERS.get(q.q);
      if (!handler) {
        fail(KrpcErrorCode.methodUnknown, `method ${q.q.slice(0, 32)} unknown`);
        return;
      }
      const result = handler(this.deps.context(), q, senderId);
      if (result instanceof QueryRefusal) fail(result.code, result.message);
      else this.reply(q, ip, result);
    } catch (error) {
      if (error instanceof KrpcError) fail(KrpcErrorCode.protocol, error.message);
      else fail(KrpcErrorCode.server, 'server error');
    }
  }

  private reply(q: IncomingQuery, ip: Buffer, body: QueryReply): void {
    // The handler's reply is its own fresh object: our id is added to it, not spread into a copy.
    body.id = this.deps.table.id;
    const encode = (r: QueryReply) => encodeResponse(q.t, r, ip, this.deps.clientVersion);
    let r = body;
    let packet = encode(r);
    // Never answer an address we have not verified with much more than it sent us.
    const verified = this.isVerified(q.a.get('id'), q.host, q.port);
    const cap = verified ? MAX_KRPC_BYTES : Math.max(4 * q.bytes, 128);
    if (packet.length > cap && Array.isArray(r.values)) {
      let values = r.values as Encodable[];
      while (packet.length > cap && values.length > 0) {
        values = values.slice(0, Math.floor(values.length / 2));
        packet = encode({ ...r, values: values.length > 0 ? values : undefined });
      }
    }
    // Then give up the node lists, IPv6 first: the asker can learn those elsewhere.
    for (const drop of ['nodes6', 'nodes'] as const) {
      if (packet.length <= cap || r[drop] === undefined) continue;
      r = { ...r, [drop]: undefined };
      packet = encode(r);
    }
    // A BEP 44 value (up to 1000 bytes) cannot be cut down and is what the asker came for:
    // it goes out without node lists even to an unverified address, or a fresh node (every
    // `shoal dht get`, any other client) could never fetch an item of more than ~250 bytes.
    if (packet.length > cap && r.v === undefined) return;
    this.deps.send(packet, q.host, q.port);
  }

  /** True when the sender is in our table at this very address and has answered us before. */
  private isVerified(id: unknown, host: string, port: number): boolean {
    if (!(id instanceof Uint8Array) || id.length !== ID_BYTES) return false;
    const n = this.deps.table.get(id);
    return n?.responded === true && n.host === host && n.port === port;
  }
}
