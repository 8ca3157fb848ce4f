import { type BDict, type BValue, decode, type Encodable, encode } from '../codec/bencode.js';
import type { PeerEndpoint } from '../codec/compact.js';
import { decodeEndpoint, encodeEndpoint } from './endpoint.js';
import { PeerProtocolError } from './errors.js';

/** The rendezvous protocol's channel name. */
export const RENDEZVOUS_PROTOCOL = 'shoal/rendezvous';

/** Bytes of the nonce that ties a request, its introduction and their answers together. */
export const NONCE_BYTES = 8;

/**
 * Most consecutive ports one punch offer may name: a NAT that changes ports (symmetric) offers
 * the few it predicts it will map next, and its peer sends a SYN to each — a handful, never a
 * scan.
 */
export const MAX_PUNCH_PORTS = 4;

/** Longest failure reason sent or accepted. */
const MAX_REASON_BYTES = 200;

/**
 * The messages of `shoal/rendezvous`, a channel a client C opens to a rendezvous node R:
 * - `welcome` (R → C, first): the address R sees C at (none over a relayed connection), and
 *   whether R serves as a rendezvous;
 * - `register` (C → R): keep me reachable through you (R then sends introductions down this
 *   channel);
 * - `connect` (C → R): introduce me to `target`, I can punch from TCP port `punchPort` (none:
 *   I cannot) and accept connections on `listenPort` (none: I cannot);
 * - `introduce` (R → T, on T's registered channel): `from` wants you; its punch candidate and
 *   direct address are the address R sees it at with the ports it gave;
 * - `answer` (T → R): my punch port for that introduction (none: I will not punch);
 * - `candidate` (R → C): where to punch to (none: the target will not punch; relay instead).
 * A punch port may come with `ports` (1 to {@link MAX_PUNCH_PORTS}, default 1): the offer is
 * that many consecutive ports from it, the external ports a NAT that changes ports is predicted
 * to map the punch to (`connect` and `answer` give it, `introduce` and `candidate` pass it on);
 * - `failed` (R → C): the introduction could not be made, and why.
 * Addresses are always what R observed, with only ports from the peers, so nobody can make a
 * node dial a third party.
 */
export type RendezvousMessage =
  | { readonly kind: 'welcome'; readonly observed?: PeerEndpoint; readonly serving: boolean }
  | { readonly kind: 'register' }
  | {
      readonly kind: 'connect';
      readonly nonce: Buffer;
      readonly target: Buffer;
      readonly punchPort?: number;
      readonly ports?: number;
      readonly listenPort?: number;
    }
  | {
      readonly kind: 'introduce';
      readonly nonce: Buffer;
      readonly from: Buffer;
      readonly candidate?: PeerEndpoint;
      readonly ports?: number;
      readonly direct?: PeerEndpoint;
    }
  | {
      readonly kind: 'answer';
      readonly nonce: Buffer;
      readonly punchPort?: number;
      readonly ports?: number;
    }
  | {
      readonly kind: 'candidate';
      readonly nonce: Buffer;
      readonly candidate?: PeerEndpoint;
      readonly ports?: number;
    }
  | { readonly kind: 'failed'; readonly nonce: Buffer; readonly reason: string };

/** Mux message types, one per kind. */
const TYPES = {
  welcome: 0,
  register: 1,
  connect: 2,
  introduce: 3,
  answer: 4,
  candidate: 5,
  failed: 6,
} as const;

const KINDS = Object.keys(TYPES) as RendezvousMessage['kind'][];

/** A message as the mux sends it: its type and a bencoded dictionary. */
export function encodeRendezvous(message: RendezvousMessage): {
  type: number;
  payload: Buffer;
} {
  const fields: Record<string, Encodable> = {};
  const endpoint = (key: string, value: PeerEndpoint | undefined) => {
    const bytes = value === undefined ? undefined : encodeEndpoint(value);
    if (bytes !== undefined) fields[key] = bytes;
  };
  const port = (key: string, value: number | undefined) => {
    if (value !== undefined) fields[key] = value;
  };
  // A run of ports only beside the port it starts from.
  const ports = (first: number | undefined, value: number | undefined) => {
    if (first !== undefined) port('w', value);
  };
  switch (message.kind) {
    case 'welcome':
      endpoint('o', message.observed);
      fields.s = message.serving ? 1 : 0;
      break;
    case 'register':
      break;
    case 'connect':
      fields.n = message.nonce;
      fields.k = message.target;
      port('p', message.punchPort);
      ports(message.punchPort, message.ports);
      port('l', message.listenPort);
      break;
    case 'introduce':
      fields.n = message.nonce;
      fields.k = message.from;
      endpoint('c', message.candidate);
      ports(message.candidate?.port, message.ports);
      endpoint('d', message.direct);
      break;
    case 'answer':
      fields.n = message.nonce;
      port('p', message.punchPort);
      ports(message.punchPort, message.ports);
      break;
    case 'candidate':
      fields.n = message.nonce;
      endpoint('c', message.candidate);
      ports(message.candidate?.port, message.ports);
      break;
    case 'failed':
      fields.n = message.nonce;
      fields.e = Buffer.from(message.reason, 'utf8').subarray(0, MAX_REASON_BYTES);
      break;
  }
  return { type: TYPES[message.kind], payload: encode(fields) };
}

/**
 * Reads a message from a peer: known type, a bencoded dictionary within tight limits, every
 * field of the right type and size. Unknown fields are ignored. Throws `RENDEZVOUS_PROTOCOL`
 * (a `PeerProtocolError`) otherwise.
 */
export function decodeRendezvous(type: number, payload: Uint8Array): RendezvousMessage {
  const kind = KINDS[type];
  if (kind === undefined) throw invalid(`unknown message type ${type}`);
  let root: BValue;
  try {
    root = decode(payload, { limits: { maxDepth: 2, maxValues: 32, maxStringBytes: 256 } });
  } catch (error) {
    throw invalid(`not bencode: ${(error as Error).message}`);
  }
  if (!(root instanceof Map)) throw invalid('not a dictionary');
  const f = new Fields(root);
  switch (kind) {
    case 'welcome':
      return { kind, ...optional('observed', f.endpoint('o')), serving: f.port('s', 0) === 1 };
    case 'register':
      return { kind };
    case 'connect':
      return {
        kind,
        nonce: f.nonce(),
        target: f.bytes('k', 32),
        ...optional('punchPort', f.port('p')),
        ...optional('ports', f.ports(f.port('p'))),
        ...optional('listenPort', f.port('l')),
      };
    case 'introduce':
      return {
        kind,
        nonce: f.nonce(),
        from: f.bytes('k', 32),
        ...optional('candidate', f.endpoint('c')),
        ...optional('ports', f.ports(f.endpoint('c')?.port)),
        ...optional('direct', f.endpoint('d')),
      };
    case 'answer':
      return {
        kind,
        nonce: f.nonce(),
        ...optional('punchPort', f.port('p')),
        ...optional('ports', f.ports(f.port('p'))),
      };
    case 'candidate':
      return {
        kind,
        nonce: f.nonce(),
        ...optional('candidate', f.endpoint('c')),
        ...optional('ports', f.ports(f.endpoint('c')?.port)),
      };
    case 'failed': {
      const reason = f.raw('e');
      if (!(reason instanceof Uint8Array) || reason.length > MAX_REASON_BYTES)
        throw invalid('"e" is not a short reason');
      return { kind, nonce: f.nonce(), reason: Buffer.from(reason).toString('utf8') };
    }
  }
}

/** `{ [name]: value }` when the value is there, `{}` otherwise (for optional fields). */
function optional<K extends string, V>(name: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [name]: value }) as { [P in K]?: V };
}

/** Typed access to a message's fields, throwing `RENDEZVOUS_PROTOCOL` on the wrong shape. */
class Fields {
  constructor(private readonly dict: BDict) {}

  raw(key: string): BValue | undefined {
    return this.dict.get(key);
  }

  nonce(): Buffer {
    return this.bytes('n', NONCE_BYTES);
  }

  bytes(key: string, length: number): Buffer {
    const v = this.dict.get(key);
    if (!(v instanceof Uint8Array) || v.length !== length)
      throw invalid(`"${key}" is not ${length} bytes`);
    return Buffer.from(v);
  }

  /** A port (1–65535), or for "s" a flag (0 or 1). */
  port(key: string, min = 1): number | undefined {
    const v = this.dict.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 65535)
      throw invalid(`"${key}" is not a port`);
    return v;
  }

  /**
   * The "w" count of consecutive ports from `first`: 1 to {@link MAX_PUNCH_PORTS}, all within
   * the port range, and only beside a port.
   */
  ports(first: number | undefined): number | undefined {
    const v = this.dict.get('w');
    if (v === undefined) return undefined;
    if (
      first === undefined ||
      typeof v !== 'number' ||
      !Number.isInteger(v) ||
      v < 1 ||
      v > MAX_PUNCH_PORTS ||
      first + v - 1 > 65535
    )
      throw invalid('"w" is not a short run of ports');
    return v;
  }

  endpoint(key: string): PeerEndpoint | undefined {
    const v = this.dict.get(key);
    if (v === undefined) return undefined;
    const endpoint = v instanceof Uint8Array ? decodeEndpoint(v) : undefined;
    if (endpoint === undefined) throw invalid(`"${key}" is not a compact endpoint`);
    return endpoint;
  }
}

function invalid(message: string): PeerProtocolError {
  return new PeerProtocolError('RENDEZVOUS_PROTOCOL', `bad rendezvous message: ${message}`);
}
