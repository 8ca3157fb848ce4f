import { dirname, resolve } from 'node:path';
import { HashPool } from '../../crypto/hash-pool.js';
import { createTorrent } from '../../metainfo/create.js';
import { formatMagnet, magnetFromMetainfo } from '../../metainfo/magnet.js';
import { parseTorrent } from '../../metainfo/parse.js';
import { Node } from '../../node/node.js';
import type { Runtime } from '../../runtime/runtime.js';
import { type DaemonFlags, findDaemon } from '../daemon-client.js';
import { configFromFlags, type NodeFlags, parsePeers } from '../node-options.js';
import { reportPortMapping } from '../port-mapping.js';
import { ProgressReporter } from '../progress.js';
import { untilSignal } from '../signals.js';
import { shareViaDaemon } from './handoff.js';

/** Options of `shoal share`. */
export interface ShareCommandOptions extends NodeFlags, DaemonFlags {
  /** Run a node of our own even when a daemon answers. */
  readonly standalone?: boolean;
  readonly torrent?: string;
  readonly tracker: string[];
  readonly peer: string[];
  readonly json?: boolean;
  readonly v1?: boolean;
  readonly v2?: boolean;
}

/** `shoal share <path>`: seeds a file or folder until stopped, printing its magnet link. */
export async function shareCommand(
  runtime: Runtime,
  path: string,
  opts: ShareCommandOptions,
): Promise<number> {
  const input = resolve(path.replace(/\/+$/, '') || '/');
  const config = await configFromFlags(runtime, opts);
  let torrentBytes: Buffer;
  if (opts.torrent) {
    torrentBytes = await runtime.fs.readFile(opts.torrent);
  } else {
    const pool = new HashPool();
    try {
      const created = await createTorrent(input, runtime.fs, pool, {
        version: opts.v1 ? 'v1' : opts.v2 ? 'v2' : 'hybrid',
        trackers: opts.tracker,
        createdBy: 'shoal/0.1.0',
        creationDate: Math.floor(runtime.clock.wallTime() / 1000),
      });
      torrentBytes = created.torrent;
    } finally {
      await pool.close();
    }
  }
  const meta = parseTorrent(torrentBytes);
  const magnetOf = () =>
    formatMagnet({
      ...magnetFromMetainfo(meta),
      trackers: [...meta.announce.flat(), ...opts.tracker],
    });
  // A running daemon seeds it (and keeps it in its library) instead of a second node.
  const daemon = opts.standalone ? undefined : await findDaemon(runtime, config.dataDir, opts);
  if (daemon) {
    parsePeers(opts.peer);
    return shareViaDaemon(daemon, torrentBytes, dirname(input), {
      peers: opts.peer,
      trackers: opts.tracker,
      magnet: magnetOf(),
      json: opts.json === true,
    });
  }
  const node = await Node.start(runtime, config);
  const report = new ProgressReporter(opts.json === true);
  reportPortMapping(node, (e, f, t) => report.event(e, f, t), opts.json === true);
  node.on('warning', (w) => {
    if (opts.json) report.event('warning', { message: w }, `warning: ${w}`);
  });
  try {
    const torrent = await node.add(torrentBytes, {
      downloadDir: dirname(input),
      peers: parsePeers(opts.peer),
      trackers: opts.tracker,
    });
    const s = torrent.stats();
    if (s.state !== 'seeding') {
      report.event(
        'incomplete',
        { piecesHave: s.piecesHave, pieceCount: s.pieceCount },
        `warning: only ${s.piecesHave} of ${s.pieceCount} pieces of ${meta.name} are on disk and verified`,
      );
    }
    const magnet = magnetOf();
    report.event(
      'seeding',
      {
        infoHash: torrent.infoHashHex,
        infoHashV2: meta.infoHashV2?.toString('hex') ?? null,
        port: node.port,
        magnet,
      },
      `seeding ${meta.name} on port ${node.port}\n${magnet}`,
    );
    if (!opts.json) process.stdout.write(`${magnet}\n`);
    node.on('progress', (t, st) =>
      report.update(
        st,
        { trackers: node.trackerStatus(t.infoHashHex), peers: t.peerList() },
        opts.json === true,
      ),
    );
    await untilSignal();
    return 0;
  } finally {
    report.stop();
    await node.stop();
  }
}
