import { encode } from '../codec/bencode.js';
import type { MagnetLink, PeerAddress } from '../metainfo/magnet.js';
import { parseInfoDictionary } from '../metainfo/parse.js';
import type { ConnectionManager } from '../net/connection-manager.js';
import type { Dialer } from '../net/dialer.js';
import type { Runtime } from '../runtime/runtime.js';
import { fetchMetadata, type MetadataProgress } from '../swarm/metadata-fetcher.js';
import type { PeerFinding } from './peer-finding.js';

/** What a magnet link's metadata fetch needs from its node. */
export interface MagnetFetchDeps {
  readonly runtime: Runtime;
  readonly finding: PeerFinding;
  readonly dialer: Dialer;
  readonly connections: ConnectionManager;
  readonly peerId: Buffer;
  /** Fetches running now: the node aborts them all when it stops. */
  readonly fetches: Set<AbortController>;
  readonly onProgress: (infoHash: string, progress: MetadataProgress) => void;
}

/** A magnet link made whole: its `.torrent` and the peers met while fetching it. */
export interface MagnetTorrent {
  /** The `.torrent` bytes: the fetched info dictionary with the link's tracker and web seeds. */
  readonly torrent: Buffer;
  /** The link's own peers and those the caller named. */
  readonly direct: readonly PeerAddress[];
  /** Every peer learnt (direct, trackers, DHT), each address once: the torrent's first peers. */
  readonly known: readonly PeerAddress[];
}

/**
 * Fetches a magnet link's info dictionary (BEP 9) from the link's peers, `peers` and those the
 * link's trackers and the DHT find, several at a time through the node's dialer, checks it
 * against the info-hash and the parser, and builds the `.torrent`. `signal` cancels it.
 */
export async function fetchMagnetTorrent(
  deps: MagnetFetchDeps,
  link: MagnetLink,
  options: {
    readonly peers?: readonly PeerAddress[];
    readonly trackers?: readonly string[];
    readonly signal?: AbortSignal;
  },
): Promise<MagnetTorrent> {
  const direct: PeerAddress[] = [...link.peers, ...(options.peers ?? [])];
  const hash = (link.infoHashV1 ?? link.infoHashV2!.subarray(0, 20)) as Buffer;
  const hashHex = (link.infoHashV1 ?? link.infoHashV2!).toString('hex');
  // Peers to ask also come from the link's trackers and the DHT, each address once.
  const known = new Map<string, PeerAddress>();
  const learn = (found: readonly PeerAddress[]) => {
    for (const p of found)
      if (!known.has(`${p.host}:${p.port}`)) known.set(`${p.host}:${p.port}`, p);
  };
  learn(direct);
  const search = deps.finding.searchMetadata(
    hash,
    [...link.trackers, ...(options.trackers ?? [])],
    learn,
  );
  const abort = new AbortController();
  const onAbort = () => abort.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) abort.abort();
  deps.fetches.add(abort);
  // Peers whose connection the fetch opened and closed again: the torrent may dial them at once.
  const reached = new Set<PeerAddress>();
  let info: Buffer;
  try {
    info = await fetchMetadata(deps.runtime, {
      ...(link.infoHashV1 && { infoHashV1: link.infoHashV1 }),
      ...(link.infoHashV2 && { infoHashV2: link.infoHashV2 }),
      peers: search.dynamic ? () => [...known.values()] : direct,
      peerId: deps.peerId,
      dial: async (request) => {
        const conn = await deps.dialer.dial(request);
        reached.add({ host: request.host, port: request.port });
        return conn;
      },
      signal: abort.signal,
      onProgress: (p) => deps.onProgress(hashHex, p),
    });
  } finally {
    deps.fetches.delete(abort);
    options.signal?.removeEventListener('abort', onAbort);
    await search.stop();
    for (const p of reached) deps.connections.allowRedial(p.host, p.port);
  }
  parseInfoDictionary(info); // refuse a hostile info dictionary before writing anything
  const torrent = Buffer.concat([
    encode({ announce: link.trackers[0] }).subarray(0, -1),
    Buffer.from('4:info'),
    info,
    link.webSeeds.length > 0
      ? encode({ 'url-list': [...link.webSeeds] }).subarray(1, -1)
      : Buffer.alloc(0),
    Buffer.from('e'),
  ]);
  return { torrent, direct, known: [...known.values()] };
}
