import { resolve } from 'node:path';
import { ShoalError, UsageError } from '../../errors.js';
import { type FileSelector, parseIndexList } from '../../metainfo/file-selection.js';
import { parseMagnet } from '../../metainfo/magnet.js';
import { Node } from '../../node/node.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { MetadataProgress } from '../../swarm/metadata-fetcher.js';
import { type DaemonFlags, findDaemon } from '../daemon-client.js';
import { configFromFlags, type NodeFlags, parsePeers } from '../node-options.js';
import { reportPortMapping } from '../port-mapping.js';
import { ProgressReporter } from '../progress.js';
import { untilSignal } from '../signals.js';
import { getViaDaemon } from './handoff.js';
import { joinOverlay, pickResult, resultJson, resultLine, timeoutOf } from './search.js';

/** Options of `shoal get`. */
export interface GetCommandOptions extends NodeFlags, DaemonFlags {
  /** Run a node of our own even when a daemon answers. */
  readonly standalone?: boolean;
  readonly output?: string;
  readonly peer: string[];
  readonly tracker: string[];
  readonly seed?: boolean;
  readonly json?: boolean;
  readonly recheck?: boolean;
  readonly sequential?: boolean;
  readonly only?: string;
  readonly file?: string[];
  /** `--no-web-seeds` sets this false. */
  readonly webSeeds?: boolean;
  /** Download result N (1-based) of a search for `source` instead. */
  readonly search?: string;
  readonly timeout?: string;
}

/** `shoal get <torrent|magnet>`: downloads, verifies every piece, then exits or keeps seeding. */
export async function getCommand(
  runtime: Runtime,
  source: string,
  opts: GetCommandOptions,
): Promise<number> {
  const peers = parsePeers(opts.peer);
  const pick = opts.search === undefined ? undefined : resultNumber(opts.search);
  let magnet =
    pick === undefined && source.toLowerCase().startsWith('magnet:')
      ? parseMagnet(source)
      : undefined;
  const config = await configFromFlags(runtime, opts);
  const files = fileSelection(opts);
  // A running daemon gets the torrent instead of a second node fighting it for the port.
  const daemon =
    opts.standalone || pick !== undefined
      ? undefined
      : await findDaemon(runtime, config.dataDir, opts);
  if (daemon) {
    if (opts.sequential || files.length > 0 || opts.webSeeds === false)
      throw new UsageError(
        '--sequential, --only, --file and --no-web-seeds are not passed to a running daemon yet: add --standalone --port 0',
      );
    return getViaDaemon(
      runtime,
      daemon,
      /^(magnet:|https?:\/\/)/i.test(source) ? source : resolve(source),
      {
        ...(opts.output !== undefined && { downloadDir: resolve(opts.output) }),
        peers: opts.peer,
        trackers: opts.tracker,
        json: opts.json === true,
      },
    );
  }
  const bytes = magnet || pick !== undefined ? undefined : await readSource(runtime, source);
  const node = await Node.start(runtime, config);
  // Ctrl-C from here on stops the node cleanly, also while a magnet's metadata is fetched.
  const interrupted = new AbortController();
  const signalled = untilSignal().then((s) => {
    interrupted.abort();
    return s;
  });
  const report = new ProgressReporter(opts.json === true);
  reportPortMapping(node, (e, f, t) => report.event(e, f, t), opts.json === true);
  if (pick !== undefined) {
    try {
      await joinOverlay(runtime, node);
      const chosen = await pickResult(node, source, pick, timeoutOf(opts.timeout));
      report.event('found', resultJson(chosen, pick), resultLine(chosen, pick));
      magnet = parseMagnet(chosen.magnet);
    } catch (error) {
      report.stop();
      await node.stop();
      throw error;
    }
  }
  const finished = new Promise<void>((done) => node.once('done', () => done()));
  // A torrent whose files cannot be used (disk full, read-only folder) ends the command.
  const failed = new Promise<Error>((fail) => node.once('error', (e) => fail(e)));
  node.on('progress', (t, s) =>
    report.update(s, {
      trackers: node.trackerStatus(t.infoHashHex),
      peers: t.peerList(),
      metrics: t.metricsSnapshot(),
    }),
  );
  if (opts.json) node.on('peer', (_t, p) => report.event('peer', { ...p }, ''));
  node.on('warning', (w) => {
    if (opts.json) report.event('warning', { message: w }, `warning: ${w}`);
  });
  const trackerCount = (magnet?.trackers.length ?? 0) + opts.tracker.length;
  const finders = [
    ...(trackerCount > 0 ? [`${trackerCount} tracker${trackerCount === 1 ? '' : 's'}`] : []),
    ...(config.dht ? ['the DHT'] : []),
  ];
  const peerSources =
    finders.length > 0
      ? `still asking ${finders.join(' and ')}`
      : 'nothing to ask for peers (give --peer HOST:PORT, or enable the DHT)';
  node.on('metadata', (_hash, p) =>
    // `step`, not `event`: the line's own `event` is `metadata`.
    report.event('metadata', { ...p, step: p.event }, describeMetadataProgress(p, peerSources)),
  );
  try {
    const addOptions = {
      downloadDir: resolve(opts.output ?? config.downloadDir),
      peers,
      trackers: opts.tracker,
      ...(opts.recheck && { recheck: true }),
      ...(opts.sequential && { pickMode: 'sequential' as const }),
      ...(files.length > 0 && { files }),
      ...(opts.webSeeds === false && { webSeeds: false }),
      signal: interrupted.signal,
    };
    if (magnet) report.event('metadata', {}, 'fetching torrent metadata from peers…');
    const torrent = await (magnet
      ? node.addMagnet(magnet, addOptions)
      : node.add(bytes!, addOptions)
    ).catch((error: unknown) => {
      if (interrupted.signal.aborted) return undefined;
      throw error;
    });
    if (!torrent) return 130;
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
    const outcome = await Promise.race([
      finished.then(() => 'done' as const),
      failed.then((e) => e),
      signalled,
    ]);
    if (outcome instanceof Error) throw outcome;
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
        await signalled;
      }
      return 0;
    }
    return 130;
  } finally {
    report.stop();
    await node.stop();
  }
}

/** Reads `--search N`. */
function resultNumber(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`--search takes a result number (1, 2, …), not "${text}"`);
  return n;
}

/** One line for a terminal about a magnet's metadata fetch. */
function describeMetadataProgress(p: MetadataProgress, sources: string): string {
  const tally = `${p.known} known, ${p.asking} being asked, ${p.failed} failed`;
  switch (p.event) {
    case 'asking':
      return `metadata: asking ${p.peer} (${tally})`;
    case 'failed':
      return `metadata: ${p.peer}: ${p.reason} (${tally})`;
    case 'done':
      return `metadata: received from ${p.peer}`;
    case 'waiting':
      if (p.known === 0)
        return `metadata: no peers yet after ${Math.round(p.elapsedMs / 1000)} s; ${sources}`;
      return p.toAsk > 0
        ? `metadata: waiting to ask ${p.toAsk} of the ${p.known} peers known again (${p.failed} failures so far)`
        : `metadata: every peer known (${p.known}) failed; ${sources}`;
  }
}

/** The files `--only` and `--file` choose (none: every file, or a magnet's `so=`). */
function fileSelection(opts: GetCommandOptions): FileSelector[] {
  const out: FileSelector[] = [];
  try {
    if (opts.only !== undefined) out.push(...parseIndexList(opts.only));
  } catch (error) {
    throw new UsageError(`--only: ${(error as Error).message}`);
  }
  for (const f of opts.file ?? [])
    out.push(/^\d+$/.test(f) ? { first: Number(f), last: Number(f) } : { path: f });
  return out;
}

/** This process's peak resident set: VmHWM on Linux (exact), else the rusage maximum. */
async function peakRss(runtime: Runtime): Promise<number> {
  const status = await runtime.fs.readFile('/proc/self/status').catch(() => undefined);
  const m = status && /VmHWM:\s+(\d+) kB/.exec(status.toString('latin1'));
  return m ? Number(m[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
}

/** Largest .torrent fetched from a URL. */
const MAX_TORRENT_BYTES = 10 * 1024 * 1024;

/** The bytes of a .torrent named by path or http(s) URL (fetched through the runtime). */
async function readSource(runtime: Runtime, source: string): Promise<Buffer> {
  if (!/^https?:\/\//i.test(source)) return runtime.fs.readFile(source);
  const res = await runtime.http.get(source, { timeoutMs: 30_000, maxBytes: MAX_TORRENT_BYTES });
  if (res.status !== 200)
    throw new ShoalError(
      'TORRENT_URL_FAILED',
      `${source} answered HTTP ${res.status}, not a .torrent`,
    );
  return res.body;
}
