import { createHash } from 'node:crypto';
import { encode } from '../codec/bencode.js';
import type { Identity, IdentityKey } from '../crypto/identity.js';
import { peerKey } from './contact.js';
import { MessageFields } from './fields.js';

/** Longest topic name, in bytes. */
export const MAX_TOPIC_BYTES = 64;
/** Largest payload one broadcast carries (the rest of a 64 KiB channel message is framing). */
export const MAX_GOSSIP_PAYLOAD = 32 * 1024;
/** Bytes of a message id. */
export const GOSSIP_ID_BYTES = 16;

const DOMAIN = Buffer.from('shoal/gossip/1\0', 'latin1');

/**
 * One broadcast message as its origin signed it: origin key, sequence number (the origin's
 * wall-clock milliseconds, kept increasing, so receivers can refuse stale replays without
 * remembering ids forever), topic and payload. The id is the first 16 bytes of SHA-256 over the
 * signed bytes, so no relay can change a message and keep its id.
 */
export interface GossipEnvelope {
  readonly origin: IdentityKey;
  readonly originId: string;
  readonly seq: number;
  readonly topic: string;
  readonly payload: Buffer;
  readonly signature: Buffer;
  readonly id: Buffer;
  /** The id as hex, for maps. */
  readonly idHex: string;
  /** The envelope as sent on the wire. */
  readonly encoded: Buffer;
}

function signedBytes(origin: IdentityKey, seq: number, topic: string, payload: Uint8Array): Buffer {
  return Buffer.concat([DOMAIN, encode({ o: origin.bytes, p: payload, s: seq, t: topic })]);
}

function envelopeOf(
  origin: IdentityKey,
  originId: string,
  seq: number,
  topic: string,
  payload: Buffer,
  signature: Buffer,
): GossipEnvelope {
  const signed = signedBytes(origin, seq, topic, payload);
  const id = createHash('sha256').update(signed).digest().subarray(0, GOSSIP_ID_BYTES);
  const encoded = encode({ o: origin.bytes, p: payload, s: seq, sig: signature, t: topic });
  return {
    origin,
    originId,
    seq,
    topic,
    payload,
    signature,
    id,
    idHex: id.toString('hex'),
    encoded,
  };
}

/** Signs a new broadcast message as `identity`. */
export function signEnvelope(
  identity: Identity,
  seq: number,
  topic: string,
  payload: Uint8Array,
): GossipEnvelope {
  const origin = identity.publicKey;
  const signature = identity.sign(signedBytes(origin, seq, topic, payload));
  return envelopeOf(origin, peerKey(origin.bytes).id, seq, topic, Buffer.from(payload), signature);
}

/**
 * Reads an envelope's structure (throws `OverlayMessageError`); the signature is checked
 * separately by {@link verifyEnvelope}, and only for messages not seen before.
 */
export function decodeEnvelope(bytes: Uint8Array): GossipEnvelope {
  const f = MessageFields.decode(bytes, 'gossip envelope');
  const { key, id } = peerKey(f.bytes('o', 32));
  return envelopeOf(
    key,
    id,
    f.int('s', 0, Number.MAX_SAFE_INTEGER),
    f.text('t', MAX_TOPIC_BYTES),
    f.bytes('p', MAX_GOSSIP_PAYLOAD, false),
    f.bytes('sig', 64),
  );
}

/** Whether the origin signed this envelope. */
export function verifyEnvelope(envelope: GossipEnvelope): boolean {
  return envelope.origin.verify(
    signedBytes(envelope.origin, envelope.seq, envelope.topic, envelope.payload),
    envelope.signature,
  );
}
