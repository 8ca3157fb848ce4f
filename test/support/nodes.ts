import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { HashPool } from '../../src/crypto/hash-pool.js';
import { type CreateTorrentOptions, createTorrent } from '../../src/metainfo/create.js';
import { parseTorrent } from '../../src/metainfo/parse.js';
import { defaultConfig, type NodeConfig } from '../../src/node/config.js';
import { Node } from '../../src/node/node.js';
import { EgressPolicy } from '../../src/runtime/egress.js';
import { createRealRuntime, realFs } from '../../src/runtime/real.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { PieceLayout } from '../../src/storage/layout.js';
import { TorrentStorage } from '../../src/storage/torrent-storage.js';
import type { DialPeer } from '../../src/swarm/metadata-fetcher.js';
import type { Torrent } from '../../src/swarm/torrent.js';
import { tempDir, writeTree } from './tmp.js';

/** Starts an in-process node on a loopback address with its own data folder; stopped after the test. */
export async function startNode(t: TestContext, config: Partial<NodeConfig> = {}): Promise<Node> {
  const dataDir = await tempDir(t, 'shoal-node-');
  const node = await Node.start(createRealRuntime(new EgressPolicy('loopback')), {
    ...defaultConfig(),
    dataDir,
    downloadDir: join(dataDir, 'downloads'),
    port: 0,
    host: '127.0.0.1',
    hashWorkers: 1,
    dht: false,
    overlay: false,
    ...config,
  });
  t.after(() => node.stop());
  return node;
}

/** Writes fixture files under `<dir>/<name>` and creates a torrent of them. */
export async function fixtureTorrent(
  dir: string,
  name: string,
  files: Record<string, number>,
  options: CreateTorrentOptions = {},
): Promise<Buffer> {
  await writeTree(join(dir, name), files);
  const pool = new HashPool(1);
  try {
    return (await createTorrent(join(dir, name), realFs, pool, options)).torrent;
  } finally {
    await pool.close();
  }
}

/**
 * A one-file torrent of `pieces` pieces of `pieceLength` bytes, written in a temporary folder,
 * with its layout and its storage (closed when the test ends): what swarm parts serve from.
 */
export async function storedTorrent(
  t: TestContext,
  name: string,
  pieceLength: number,
  pieces: number,
): Promise<{ layout: PieceLayout; storage: TorrentStorage }> {
  const dir = await tempDir(t);
  const meta = parseTorrent(
    await fixtureTorrent(dir, name, { '': pieceLength * pieces }, { pieceLength }),
  );
  const layout = new PieceLayout(meta);
  const storage = new TorrentStorage(realFs, dir, layout, meta.name, meta.singleFile);
  t.after(() => storage.close());
  return { layout, storage };
}

/** Resolves when `torrent` has every wanted piece, or rejects after `timeoutMs`. */
export function whenDone(torrent: Torrent, timeoutMs = 30_000): Promise<void> {
  if (torrent.stats().state === 'seeding') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`not done after ${timeoutMs} ms: ${JSON.stringify(torrent.stats())}`)),
      timeoutMs,
    );
    torrent.once('done', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Dials plain TCP through `runtime` (no connection manager): for fetching metadata in tests. */
export function plainDial(runtime: Runtime): DialPeer {
  return async (request) => ({
    stream: await runtime.tcp.connect(request.host, request.port, { timeoutMs: request.timeoutMs }),
    info: { transport: 'tcp', direction: 'outbound', encrypted: false },
  });
}
