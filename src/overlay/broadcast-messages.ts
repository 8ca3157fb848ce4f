import { encode } from '../codec/bencode.js';
import { OverlayMessageError } from './errors.js';
import { MessageFields } from './fields.js';
import { decodeEnvelope, GOSSIP_ID_BYTES, type GossipEnvelope } from './gossip-envelope.js';

/** Announcements one IHAVE carries. */
export const MAX_IHAVE = 64;
/** Highest hop count a message may claim. */
export const MAX_ROUND = 255;

/** One lazy announcement: a message id and how many hops it had travelled. */
export interface Announcement {
  readonly id: Buffer;
  readonly round: number;
}

/**
 * The Plumtree messages (Leitão, Pereira, Rodrigues, SRDS 2007): `gossip` carries a whole
 * message along the tree (eager push), `ihave` announces ids to the other neighbours (lazy
 * push), `graft` asks a neighbour for a missed message and makes its link part of the tree,
 * `prune` takes a link out of the tree (the receiver got the message twice).
 */
export type BroadcastMessage =
  | { readonly type: 'gossip'; readonly envelope: GossipEnvelope; readonly round: number }
  | { readonly type: 'ihave'; readonly announcements: readonly Announcement[] }
  | { readonly type: 'graft'; readonly id: Buffer | undefined; readonly round: number }
  | { readonly type: 'prune' };

const TYPES = ['gossip', 'ihave', 'graft', 'prune'] as const;

/** Encodes a broadcast message as a (type, payload) pair for a channel. */
export function encodeBroadcast(m: BroadcastMessage): { type: number; payload: Buffer } {
  const type = TYPES.indexOf(m.type) + 1;
  switch (m.type) {
    case 'gossip':
      return { type, payload: encode({ e: m.envelope.encoded, r: m.round }) };
    case 'ihave':
      return { type, payload: encode({ a: m.announcements.map((a) => [a.id, a.round]) }) };
    case 'graft':
      return { type, payload: encode({ i: m.id, r: m.round }) };
    case 'prune':
      return { type, payload: encode({}) };
  }
}

/** Decodes a broadcast message; throws {@link OverlayMessageError} for anything malformed. */
export function decodeBroadcast(type: number, payload: Uint8Array): BroadcastMessage {
  const name = TYPES[type - 1];
  if (name === undefined) throw new OverlayMessageError(`unknown gossip message type ${type}`);
  const f = MessageFields.decode(payload, `gossip ${name}`);
  switch (name) {
    case 'gossip':
      return {
        type: name,
        envelope: decodeEnvelope(f.bytes('e', 64 * 1024, false)),
        round: f.int('r', 0, MAX_ROUND),
      };
    case 'ihave':
      return {
        type: name,
        announcements: f.list('a', MAX_IHAVE).map((entry, i) => {
          const [id, round] = Array.isArray(entry) && entry.length === 2 ? entry : [];
          if (!(id instanceof Uint8Array) || id.length !== GOSSIP_ID_BYTES)
            throw f.fail(`a[${i}] must be [id, round]`);
          if (typeof round !== 'number' || round < 0 || round > MAX_ROUND)
            throw f.fail(`a[${i}] has a bad round`);
          return { id: Buffer.from(id), round };
        }),
      };
    case 'graft':
      return {
        type: name,
        id: f.optionalBytes('i', GOSSIP_ID_BYTES),
        round: f.int('r', 0, MAX_ROUND),
      };
    case 'prune':
      return { type: name };
  }
}
