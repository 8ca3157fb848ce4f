import { decode, encode } from '../codec/bencode.js';
import { decodeCompactNodes, encodeCompactNodes, type NodeContact } from '../codec/compact.js';
import type { FileSystem } from '../runtime/runtime.js';
import { ID_BYTES } from './node-id.js';

/** What a DHT node keeps between runs. */
export interface DhtState {
  readonly id: Buffer;
  /** IPv4 and IPv6 contacts together. */
  readonly nodes: readonly NodeContact[];
}

/**
 * Reads saved DHT state (`id`, `nodes`, BEP 32 `nodes6`); anything unreadable or malformed
 * counts as no state, since a node can always start afresh.
 */
export async function loadDhtState(fs: FileSystem, path: string): Promise<DhtState | undefined> {
  try {
    const root = decode(await fs.readFile(path));
    if (!(root instanceof Map)) return undefined;
    const id = root.get('id');
    if (!(id instanceof Uint8Array) || id.length !== ID_BYTES) return undefined;
    const nodes = root.get('nodes');
    const nodes6 = root.get('nodes6');
    return {
      id: Buffer.from(id),
      nodes: [
        ...(nodes instanceof Uint8Array ? decodeCompactNodes(nodes, 4) : []),
        ...(nodes6 instanceof Uint8Array ? decodeCompactNodes(nodes6, 6) : []),
      ],
    };
  } catch {
    return undefined;
  }
}

/** Writes DHT state atomically (temp file, fsync, rename). */
export async function saveDhtState(fs: FileSystem, path: string, state: DhtState): Promise<void> {
  await fs.writeFileAtomic(
    path,
    encode({
      id: state.id,
      nodes: encodeCompactNodes(state.nodes, 4),
      nodes6: encodeCompactNodes(state.nodes, 6),
    }),
  );
}
