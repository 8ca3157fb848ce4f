import { decode, type Encodable } from '../../codec/bencode.js';
import { idField, intField } from '../krpc.js';
import { closestNodes, type QueryHandler, type QueryReply } from './context.js';

/**
 * BEP 44 `get`: a token for putting, the item stored under `target` (unless the asker already
 * has a `seq` at least as new), and the closest nodes.
 */
export const get: QueryHandler = (ctx, q) => {
  const target = idField(q.a, 'target');
  const item = ctx.items.get(target, ctx.now);
  const seq = intField(q.a, 'seq');
  const r: QueryReply = {
    token: ctx.tokens.issue(q.host),
    ...closestNodes(ctx, target, q.a),
  };
  if (item && !(seq !== undefined && item.seq !== undefined && item.seq <= seq)) {
    r.v = decode(item.v) as Encodable;
    if (item.k) {
      r.k = item.k;
      r.sig = item.sig;
      r.seq = item.seq;
    }
  } else if (item?.seq !== undefined) {
    r.seq = item.seq;
  }
  return r;
};
