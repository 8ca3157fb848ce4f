import { resolve } from 'node:path';
import { parseMagnet } from '../../metainfo/magnet.js';
import { Node } from '../../node/node.js';
import type { Runtime } from '../../runtime/runtime.js';
import { configFromFlags, type NodeFlags, parsePeers } from '../node-options.js';
import { ProgressReporter } from '../progress.js';
import { untilSignal } from '../signals.js';

/** Options of `shoal get`. */
export interface GetCommandOptions extends NodeFlags {
  readonly output?: string;
  readonly peer: string[];
  readonly tracker: string[];
  readonly seed?: boolean;
  readonly json?: boolean;
  readonly recheck?: boolean;
}

/** `shoal get <torrent|magnet>`: downloads, verifies every piece, then exits or keeps seeding. */
export async function getCommand(
  runtime: Runtime,
  source: string,
  opts: GetCommandOptions,
): Promise<number> {
  const peers = parsePeers(opts.peer);
  const magnet = source.toLowerCase().startsWith('magnet:') ? parseMagnet(source) : undefined;
  const bytes = magnet ? undefined : await runtime.fs.readFile(source);
  const config = await configFromFlags(runtime, opts);
  const node = await Node.start(runtime, config);
  const report = new ProgressReporter(opts.json === true);
  const finished = new Promise<void>((done) => node.once('done', () => done()));
  node.on('progress', (t, s) => report.update(s, node.trackerStatus(t.infoHashHex)));
  node.on('warning', (w) => {
    if (opts.json) report.event('warning', { message: w }, `warning: ${w}`);
  });
  try {
    const addOptions = {
      downloadDir: resolve(opts.output ?? config.downloadDir),
      peers,
      trackers: opts.tracker,
      ...(opts.recheck && { recheck: true }),
    };
    if (magnet) report.event('metadata', {}, 'fetching torrent metadata from peers…');
    const torrent = magnet
      ? await node.addMagnet(magnet, addOptions)
      : await node.add(bytes!, addOptions);
    report.event(
      'started',
      {
        infoHash: torrent.infoHashHex,
        port: node.port,
        name: torrent.meta.name,
        piecesHave: torrent.stats().piecesHave,
        pieceCount: torrent.meta.pieceCount,
        pieceLength: torrent.meta.pieceLength,
      },
      `fetching ${torrent.meta.name} (${torrent.infoHashHex}) on port ${node.port}`,
    );
    const outcome = await Promise.race([finished.then(() => 'done' as const), untilSignal()]);
    if (outcome === 'done') {
      const s = torrent.stats();
      const peakRssBytes = await peakRss(runtime);
      report.event(
        'done',
        { ...s, peakRssBytes },
        `done: ${torrent.meta.name} verified (${s.piecesHave}/${s.pieceCount} pieces)`,
      );
      if (opts.seed) {
        report.event(
          'seeding',
          { port: node.port },
          `seeding on port ${node.port}; Ctrl-C to stop`,
        );
        await untilSignal();
      }
      return 0;
    }
    return 130;
  } finally {
    report.stop();
    await node.stop();
  }
}

/** This process's peak resident set: VmHWM on Linux (exact), else the rusage maximum. */
async function peakRss(runtime: Runtime): Promise<number> {
  const status = await runtime.fs.readFile('/proc/self/status').catch(() => undefined);
  const m = status && /VmHWM:\s+(\d+) kB/.exec(status.toString('latin1'));
  return m ? Number(m[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
}
