import { idField } from '../krpc.js';
import { closestNodes, type QueryHandler } from './context.js';

/** Seconds a BEP 51 asker should wait before sampling us again. */
const SAMPLE_INTERVAL_S = 300;

/** BEP 51 `sample_infohashes`: up to 20 info-hashes we store peers for, and the closest nodes. */
export const sampleInfohashes: QueryHandler = (ctx, q) => {
  const target = idField(q.a, 'target');
  const { samples, total } = ctx.peers.sample(20);
  return {
    interval: SAMPLE_INTERVAL_S,
    num: total,
    samples: Buffer.concat(samples),
    ...closestNodes(ctx, target, q.a),
  };
};
