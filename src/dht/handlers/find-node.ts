import { idField } from '../krpc.js';
import { closestNodes, type QueryHandler } from './context.js';

/** BEP 5 `find_node`: the nodes we know closest to `target`. */
export const findNode: QueryHandler = (ctx, q) => closestNodes(ctx, idField(q.a, 'target'), q.a);
