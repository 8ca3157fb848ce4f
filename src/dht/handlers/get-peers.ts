import { encodeCompactPeers, ipFamily } from '../../codec/compact.js';
import { idField } from '../krpc.js';
import { closestNodes, type QueryHandler } from './context.js';

/** Peers handed out per reply (a datagram holds about this many next to the nodes). */
const MAX_VALUES_PER_REPLY = 50;

/**
 * BEP 5 `get_peers`: a token for announcing, the peers announced for the info-hash in the
 * asker's address family, and the closest nodes.
 */
export const getPeers: QueryHandler = (ctx, q) => {
  const infoHash = idField(q.a, 'info_hash');
  const found = ctx.peers.get(infoHash, MAX_VALUES_PER_REPLY, ctx.now);
  const family = ipFamily(q.host) === 6 ? 6 : 4;
  const values = found
    .filter((p) => ipFamily(p.host) === family)
    .map((p) => encodeCompactPeers([p], family));
  return {
    token: ctx.tokens.issue(q.host),
    ...(values.length > 0 && { values }),
    ...closestNodes(ctx, infoHash, q.a),
  };
};
