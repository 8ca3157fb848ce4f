import { type Encodable, encode } from '../../codec/bencode.js';
import {
  type DhtItem,
  immutableTarget,
  MAX_SALT_BYTES,
  MAX_VALUE_BYTES,
  mutableTarget,
  verifyMutable,
} from '../bep44.js';
import { bytesField, intField, KrpcErrorCode } from '../krpc.js';
import { type QueryHandler, QueryRefusal } from './context.js';

/**
 * BEP 44 `put`: stores an immutable value under its hash, or a mutable one under its key (and
 * salt) if its signature verifies and its `seq` (and `cas`) allow replacing what is stored.
 */
export const put: QueryHandler = (ctx, q) => {
  const a = q.a;
  const token = bytesField(a, 'token');
  if (!token || !ctx.tokens.valid(token, q.host))
    return new QueryRefusal(KrpcErrorCode.protocol, 'bad token');
  const rawV = a.get('v');
  if (rawV === undefined) return new QueryRefusal(KrpcErrorCode.protocol, 'put without v');
  const v = encode(rawV as Encodable);
  if (v.length > MAX_VALUE_BYTES)
    return new QueryRefusal(KrpcErrorCode.messageTooBig, 'message (v field) too big');
  const k = bytesField(a, 'k');
  if (!k) {
    ctx.items.set(immutableTarget(v), { v }, ctx.now);
    return {};
  }
  const salt = bytesField(a, 'salt');
  if (salt && salt.length > MAX_SALT_BYTES)
    return new QueryRefusal(KrpcErrorCode.saltTooBig, 'salt (salt field) too big');
  const seq = intField(a, 'seq');
  const sig = bytesField(a, 'sig');
  const item: DhtItem = {
    v,
    k,
    ...(sig && { sig }),
    ...(seq !== undefined && { seq }),
    ...(salt && salt.length > 0 && { salt }),
  };
  if (!verifyMutable(item))
    return new QueryRefusal(KrpcErrorCode.invalidSignature, 'invalid signature');
  const target = mutableTarget(k, salt);
  const existing = ctx.items.get(target, ctx.now);
  const cas = intField(a, 'cas');
  if (existing?.seq !== undefined && cas !== undefined && cas !== existing.seq)
    return new QueryRefusal(
      KrpcErrorCode.casMismatch,
      'the CAS hash mismatched, re-read value and try again',
    );
  if (existing?.seq !== undefined && seq !== undefined && seq < existing.seq)
    return new QueryRefusal(KrpcErrorCode.seqTooLow, 'sequence number less than current');
  ctx.items.set(target, item, ctx.now);
  return {};
};
