import { bytesField, idField, intField, KrpcErrorCode } from '../krpc.js';
import { idMatchesIp } from '../node-id.js';
import { type QueryHandler, QueryRefusal } from './context.js';

/**
 * BEP 5 `announce_peer`: stores the sender as a peer of the info-hash, if its token is ours
 * for its address and (BEP 42) its node id matches that address, within the store's
 * per-address and per-subnet bounds.
 */
export const announcePeer: QueryHandler = (ctx, q, senderId) => {
  const infoHash = idField(q.a, 'info_hash');
  const token = bytesField(q.a, 'token');
  if (!token || !ctx.tokens.valid(token, q.host))
    return new QueryRefusal(KrpcErrorCode.protocol, 'bad token');
  if (ctx.enforceNodeId && !idMatchesIp(senderId, q.host))
    return new QueryRefusal(KrpcErrorCode.protocol, 'node id does not match your address (BEP 42)');
  const implied = intField(q.a, 'implied_port') === 1;
  const peerPort = implied ? q.port : intField(q.a, 'port');
  if (peerPort === undefined || peerPort <= 0 || peerPort > 65535)
    return new QueryRefusal(KrpcErrorCode.protocol, 'bad port');
  const peer = { host: q.host, port: peerPort };
  // An address over its share is still answered as usual (it learns nothing), but not stored.
  if (ctx.peers.add(infoHash, peer, intField(q.a, 'seed') === 1, ctx.now))
    ctx.announced(infoHash, peer);
  return {};
};
