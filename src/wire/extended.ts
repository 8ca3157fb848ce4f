import { type BDict, type BValue, decode, encode } from '../codec/bencode.js';
import { keepBytes } from '../shared/kept-bytes.js';
import { WireError } from './errors.js';

/** The BEP 10 extended handshake, as far as shoal uses it. */
export interface ExtendedHandshake {
  /** Extension name → the message id the sender wants to receive it on (0 = disabled). */
  readonly m: ReadonlyMap<string, number>;
  /** Client name and version. */
  readonly v?: string;
  /** The sender's TCP listen port. */
  readonly p?: number;
  /** How many outstanding requests the sender accepts. */
  readonly reqq?: number;
  /** Our address as the sender sees it (4 or 16 bytes). */
  readonly yourip?: Uint8Array;
  /** Size of the info dictionary (BEP 9). */
  readonly metadataSize?: number;
}

/** Longest extended handshake accepted. */
const MAX_HANDSHAKE_BYTES = 64 * 1024;

/** Encodes the payload of extended message 0. */
export function encodeExtendedHandshake(h: ExtendedHandshake): Buffer {
  return encode({
    m: new Map([...h.m].map(([k, v]) => [Buffer.from(k, 'utf8').toString('latin1'), v])),
    v: h.v,
    p: h.p,
    reqq: h.reqq,
    yourip: h.yourip,
    metadata_size: h.metadataSize,
  });
}

/**
 * Decodes an extended handshake, keeping only well-typed fields (BEP 10 allows any others).
 * @throws {WireError}
 */
export function decodeExtendedHandshake(payload: Uint8Array): ExtendedHandshake {
  if (payload.length > MAX_HANDSHAKE_BYTES) throw new WireError('extended handshake too large');
  let root: BValue;
  try {
    root = decode(payload, { limits: { maxDepth: 8, maxValues: 4096 } });
  } catch (error) {
    throw new WireError(`extended handshake: ${(error as Error).message}`);
  }
  if (!(root instanceof Map)) throw new WireError('extended handshake must be a dictionary');
  const m = new Map<string, number>();
  const rawM = root.get('m');
  if (rawM instanceof Map) {
    for (const [k, v] of rawM as BDict) {
      if (typeof v === 'number' && v >= 0 && v <= 255)
        m.set(Buffer.from(k, 'latin1').toString('utf8'), v);
    }
  }
  const int = (key: string, max: number): number | undefined => {
    const v = root.get(key);
    return typeof v === 'number' && v >= 0 && v <= max ? v : undefined;
  };
  const v = root.get('v');
  const yourip = root.get('yourip');
  const p = int('p', 65535);
  const reqq = int('reqq', 1_000_000);
  const metadataSize = int('metadata_size', 2 ** 31);
  return {
    m,
    ...(v instanceof Uint8Array && { v: Buffer.from(v).toString('utf8') }),
    ...(p !== undefined && { p }),
    ...(reqq !== undefined && { reqq }),
    // A copy: the payload is lent, and a view would pin the chunk it came in.
    ...(yourip instanceof Uint8Array &&
      (yourip.length === 4 || yourip.length === 16) && { yourip: keepBytes(yourip) }),
    ...(metadataSize !== undefined && { metadataSize }),
  };
}

/**
 * A BEP 10 extension for peers of type `P` and its lifecycle: what it adds to our extended
 * handshake, its messages, a periodic tick, and a peer's departure. ut_metadata and ut_pex are
 * extensions; others (ut_holepunch, …) plug in the same way.
 */
export interface PeerExtension<P> {
  /** The name in the `m` dictionary, e.g. `ut_metadata`. */
  readonly name: string;
  /** Fields it adds to our extended handshake. */
  handshakeFields?(): Partial<ExtendedHandshake>;
  /** A message for it from `peer`. @throws {WireError} on a malformed one */
  onMessage(peer: P, payload: Uint8Array): void;
  /** Called about once a second with the connected peers. */
  onTick?(peers: Iterable<P>): void;
  /** `peer` is gone. */
  onClose?(peer: P): void;
}

/**
 * Assigns our local message ids to BEP 10 extensions and drives their lifecycle: routes
 * incoming extended messages to their extension, collects their handshake fields, ticks them
 * and tells them when a peer leaves.
 */
export class ExtensionRegistry<P> {
  private readonly byId = new Map<number, PeerExtension<P>>();
  private readonly ids = new Map<string, number>();

  register(extension: PeerExtension<P>): void {
    const id = this.byId.size + 1;
    this.byId.set(id, extension);
    this.ids.set(extension.name, id);
  }

  /** Our `m` dictionary. */
  get m(): ReadonlyMap<string, number> {
    return this.ids;
  }

  /** What the extensions add to our extended handshake. */
  handshakeFields(): Partial<ExtendedHandshake> {
    let fields: Partial<ExtendedHandshake> = {};
    for (const e of this.byId.values())
      if (e.handshakeFields) fields = { ...fields, ...e.handshakeFields() };
    return fields;
  }

  /** Hands an extended message (id ≠ 0) to its extension; unknown ids are ignored (BEP 10). */
  dispatch(peer: P, id: number, payload: Uint8Array): void {
    this.byId.get(id)?.onMessage(peer, payload);
  }

  tick(peers: () => Iterable<P>): void {
    for (const e of this.byId.values()) e.onTick?.(peers());
  }

  close(peer: P): void {
    for (const e of this.byId.values()) e.onClose?.(peer);
  }
}
