import type { BDict, Encodable } from '../../codec/bencode.js';
import { encodeCompactNodes, type PeerEndpoint } from '../../codec/compact.js';
import type { ItemStore } from '../bep44.js';
import type { PeerStore } from '../peer-store.js';
import type { RoutingTable } from '../routing-table.js';
import { K } from '../routing-table.js';
import type { IncomingQuery } from '../rpc.js';
import type { TokenIssuer } from '../tokens.js';

/** The body of a KRPC response (`id` is added by the server, to this object). */
export type QueryReply = Record<string, Encodable | undefined>;

/** A query refused with a KRPC error (BEP 5 / BEP 44 codes). */
export class QueryRefusal {
  constructor(
    readonly code: number,
    readonly message: string,
  ) {}
}

/** What a query handler may read and change. */
export interface HandlerContext {
  readonly table: RoutingTable;
  readonly tokens: TokenIssuer;
  readonly peers: PeerStore;
  readonly items: ItemStore;
  /** The address family this node serves. */
  readonly family: 4 | 6;
  /** BEP 42: refuse announces from nodes whose id does not match their address. */
  readonly enforceNodeId: boolean;
  readonly now: number;
  /** Someone announced a peer for an info-hash to us. */
  announced(infoHash: Buffer, peer: PeerEndpoint): void;
}

/** Answers one query type: a reply body, or a refusal. @throws {KrpcError} on a bad field */
export type QueryHandler = (
  ctx: HandlerContext,
  query: IncomingQuery,
  senderId: Buffer,
) => QueryReply | QueryRefusal;

/** The `nodes`/`nodes6` closest to `target`, in the families the query asks for (BEP 32). */
export function closestNodes(ctx: HandlerContext, target: Uint8Array, args?: BDict): QueryReply {
  const closest = ctx.table.closest(target, K);
  const wantList = args?.get('want');
  const wants = Array.isArray(wantList)
    ? wantList.map((w) => (w instanceof Uint8Array ? Buffer.from(w).toString() : ''))
    : [];
  const v4 = wants.length === 0 ? ctx.family === 4 : wants.includes('n4');
  const v6 = wants.length === 0 ? ctx.family === 6 : wants.includes('n6');
  const reply: QueryReply = {};
  if (v4) reply.nodes = encodeCompactNodes(closest, 4);
  if (v6) reply.nodes6 = encodeCompactNodes(closest, 6);
  return reply;
}
