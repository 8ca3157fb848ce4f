import { encode } from '../codec/bencode.js';
import { decodeContact, decodeContacts, encodeContact, type PeerContact } from './contact.js';
import { OverlayMessageError } from './errors.js';
import { MessageFields } from './fields.js';

/** Contacts one shuffle may carry (the paper's k_a + k_p + 1 is 8; some room for other settings). */
export const MAX_SHUFFLE_CONTACTS = 16;
/** The longest random walk a join or shuffle may ask for. */
export const MAX_WALK = 16;

/**
 * The HyParView messages (Leitão, Pereira, Rodrigues, DSN 2007). A node joins by sending
 * `join` to a contact, which accepts it and starts random walks (`forward-join`); the node
 * where a walk ends connects back (`connect`). `neighbor` asks a passive peer to become active
 * (`high` when the asker has no active peer at all, which may not be refused), `disconnect`
 * ends an active link (`leaving`: the sender is going away, so do not keep it as a passive
 * peer), and `shuffle` walks a sample of the sender's views to a random node that answers
 * with a sample of its passive view, which keeps passive views fresh and random.
 */
export type MembershipMessage =
  | { readonly type: 'join'; readonly contact: PeerContact }
  | { readonly type: 'forward-join'; readonly contact: PeerContact; readonly ttl: number }
  | { readonly type: 'connect'; readonly contact: PeerContact }
  | { readonly type: 'neighbor'; readonly contact: PeerContact; readonly high: boolean }
  | { readonly type: 'neighbor-reply'; readonly contact: PeerContact; readonly accepted: boolean }
  | { readonly type: 'disconnect'; readonly leaving: boolean }
  | {
      readonly type: 'shuffle';
      readonly id: number;
      readonly origin: PeerContact;
      readonly contacts: readonly PeerContact[];
      readonly ttl: number;
    }
  | {
      readonly type: 'shuffle-reply';
      readonly id: number;
      readonly contacts: readonly PeerContact[];
    };

const TYPES = [
  'join',
  'forward-join',
  'connect',
  'neighbor',
  'neighbor-reply',
  'disconnect',
  'shuffle',
  'shuffle-reply',
] as const;

/** The multiplexer message type of each membership message (1-based). */
function typeNumber(type: MembershipMessage['type']): number {
  return TYPES.indexOf(type) + 1;
}

/** Encodes a membership message as a (type, payload) pair for a channel. */
export function encodeMembership(m: MembershipMessage): { type: number; payload: Buffer } {
  let body: Record<string, Parameters<typeof encode>[0]>;
  switch (m.type) {
    case 'join':
    case 'connect':
      body = { c: encodeContact(m.contact) };
      break;
    case 'forward-join':
      body = { c: encodeContact(m.contact), t: m.ttl };
      break;
    case 'neighbor':
      body = { c: encodeContact(m.contact), h: m.high ? 1 : 0 };
      break;
    case 'neighbor-reply':
      body = { a: m.accepted ? 1 : 0, c: encodeContact(m.contact) };
      break;
    case 'disconnect':
      body = { l: m.leaving ? 1 : 0 };
      break;
    case 'shuffle':
      body = { c: m.contacts.map(encodeContact), i: m.id, o: encodeContact(m.origin), t: m.ttl };
      break;
    case 'shuffle-reply':
      body = { c: m.contacts.map(encodeContact), i: m.id };
      break;
  }
  return { type: typeNumber(m.type), payload: encode(body) };
}

/** Decodes a membership message; throws {@link OverlayMessageError} for anything malformed. */
export function decodeMembership(type: number, payload: Uint8Array): MembershipMessage {
  const name = TYPES[type - 1];
  if (name === undefined) throw new OverlayMessageError(`unknown membership message type ${type}`);
  const f = MessageFields.decode(payload, `membership ${name}`);
  const contact = () => decodeContact(f.list('c', 3), `${name}.c`);
  switch (name) {
    case 'join':
    case 'connect':
      return { type: name, contact: contact() };
    case 'forward-join':
      return { type: name, contact: contact(), ttl: f.int('t', 0, MAX_WALK) };
    case 'neighbor':
      return { type: name, contact: contact(), high: f.int('h', 0, 1) === 1 };
    case 'neighbor-reply':
      return { type: name, contact: contact(), accepted: f.int('a', 0, 1) === 1 };
    case 'disconnect':
      return { type: name, leaving: f.int('l', 0, 1) === 1 };
    case 'shuffle':
      return {
        type: name,
        id: f.int('i', 0, 0xffffffff),
        origin: decodeContact(f.list('o', 3), 'shuffle.o'),
        contacts: decodeContacts(
          f.list('c', MAX_SHUFFLE_CONTACTS),
          MAX_SHUFFLE_CONTACTS,
          'shuffle.c',
        ),
        ttl: f.int('t', 0, MAX_WALK),
      };
    case 'shuffle-reply':
      return {
        type: name,
        id: f.int('i', 0, 0xffffffff),
        contacts: decodeContacts(
          f.list('c', MAX_SHUFFLE_CONTACTS),
          MAX_SHUFFLE_CONTACTS,
          'shuffle-reply.c',
        ),
      };
  }
}
