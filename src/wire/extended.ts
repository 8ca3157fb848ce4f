import { type BDict, type BValue, decode, encode } from '../codec/bencode.js';
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
    ...(yourip instanceof Uint8Array &&
      (yourip.length === 4 || yourip.length === 16) && { yourip }),
    ...(metadataSize !== undefined && { metadataSize }),
  };
}

/** Handles the messages of one BEP 10 extension, for a peer of type `P`. */
export type ExtensionHandler<P> = (peer: P, payload: Uint8Array) => void;

/**
 * Assigns our local message ids to BEP 10 extensions (ut_metadata now; ut_pex and others as
 * later layers plug in) and routes incoming extended messages to their handlers.
 */
export class ExtensionRegistry<P> {
  private readonly byId = new Map<number, ExtensionHandler<P>>();
  private readonly ids = new Map<string, number>();

  register(name: string, handler: ExtensionHandler<P>): void {
    const id = this.byId.size + 1;
    this.byId.set(id, handler);
    this.ids.set(name, id);
  }

  /** Our `m` dictionary. */
  get m(): ReadonlyMap<string, number> {
    return this.ids;
  }

  /** The handler an incoming extended message id is for, if any. */
  lookup(id: number): ExtensionHandler<P> | undefined {
    return this.byId.get(id);
  }
}
