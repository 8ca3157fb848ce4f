import { resolve } from 'node:path';
import { ShoalError, UsageError } from '../../errors.js';
import { type FileSelector, parseIndexList } from '../../metainfo/file-selection.js';
import { parseMagnet } from '../../metainfo/magnet.js';
import { type AddTorrentOptions, Node } from '../../node/node.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { MetadataProgress } from '../../swarm/metadata-fetcher.js';
import type { Torrent, TorrentStats } from '../../swarm/torrent.js';
import { type DaemonFlags, findDaemon } from '../daemon-client.js';
import { configFromFlags, type NodeFlags, parsePeers } from '../node-options.js';
import { NoPeersNotice, reportNodeSetup, reportNodeStatus } from '../node-status.js';
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
  /** Download result N (1-based) of a search for the sources (as words) instead. */
  readonly search?: string;
  readonly timeout?: string;
}

/**
 * `shoal get <torrent|magnet|URL>...`: downloads every source in one node, verifying every
 * piece, with a progress line per torrent; exits 0 once all are done (1 if any failed), or
 * keeps seeding them with `--seed`.
 */
export async function getCommand(
  runtime: Runtime,
  sources: readonly string[],
  opts: GetCommandOptions,
): Promise<number> {
  const peers = parsePeers(opts.peer);
  const files = fileSelection(opts);
  const pick = opts.search === undefined ? undefined : resultNumber(opts.search);
  const query = sources.join(' ');
  if (pick === undefined && sources.length > 1 && files.length > 0)
    throw new UsageError('--only and --file choose files of one torrent: give one source');
  const magnets = sources.map((s) =>
    pick === undefined && s.toLowerCase().startsWith('magnet:') ? parseMagnet(s) : undefined,
  );
  const config = await configFromFlags(runtime, opts);
  // A running daemon gets the torrents instead of a second node fighting it for the port.
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
      sources.map((s) => (/^(magnet:|https?:\/\/)/i.test(s) ? s : resolve(s))),
      {
        ...(opts.output !== undefined && { downloadDir: resolve(opts.output) }),
        peers: opts.peer,
        trackers: opts.tracker,
        json: opts.json === true,
      },
    );
  }
  // With one source, a source that cannot be read is the command's error, as it always was.
  const single = sources.length === 1 || pick !== undefined;
  let toFetch = sources;
  const bytes =
    single && !magnets[0] && pick === undefined
      ? [await readSource(runtime, sources[0]!)]
      : undefined;
  const node = await Node.start(runtime, config);
  // Ctrl-C from here on stops the node cleanly, also while a magnet's metadata is fetched.
  const interrupted = new AbortController();
  const signalled = untilSignal().then((s) => {
    interrupted.abort();
    return s;
  });
  const json = opts.json === true;
  const report = new ProgressReporter({
    json,
    clock: runtime.clock,
    limits: () => node.rateLimits,
  });
  const say = (e: string, f: Record<string, unknown>, t: string) => report.event(e, f, t);
  const note = (k: string, t: string, f: Record<string, unknown>) => report.note(k, t, f);
  reportPortMapping(node, say, json);
  reportNodeSetup(node, say);
  reportNodeStatus(node, note);
  const noPeers = new NoPeersNotice(node, runtime.clock, peers.length, note);
  let seeding = false;
  node.on('progress', (t, s) => {
    report.update(
      s,
      {
        trackers: node.trackerStatus(t.infoHashHex),
        peers: t.peerList(),
        metrics: t.metricsSnapshot(),
      },
      seeding ? 'seed' : 'download',
    );
    noPeers.check(t, s);
  });
  if (json) node.on('peer', (_t, p) => report.event('peer', { ...p }, ''));
  node.on('warning', (w) => {
    if (json) report.event('warning', { message: w }, `warning: ${w}`);
  });
  if (pick !== undefined) {
    // The search's pick becomes the one source: a magnet.
    try {
      await joinOverlay(runtime, node);
      const chosen = await pickResult(node, query, pick, timeoutOf(opts.timeout));
      report.event('found', resultJson(chosen, pick), resultLine(chosen, pick));
      toFetch = [chosen.magnet];
      magnets.splice(0, magnets.length, parseMagnet(chosen.magnet));
    } catch (error) {
      report.stop();
      await node.stop();
      throw error;
    }
  }
  // Where a magnet's peers come from, told when none turn up (by the magnet's info-hash).
  const peerSources = new Map<string, string>();
  for (const m of magnets) {
    if (!m) continue;
    const trackers = m.trackers.length + opts.tracker.length;
    const finders = [
      ...(trackers > 0 ? [`${trackers} tracker${trackers === 1 ? '' : 's'}`] : []),
      ...(config.dht ? ['the DHT'] : []),
    ];
    peerSources.set(
      (m.infoHashV1 ?? m.infoHashV2!).toString('hex'),
      finders.length > 0
        ? `still asking ${finders.join(' and ')}`
        : 'nothing to ask for peers (give --peer HOST:PORT, or enable the DHT)',
    );
  }
  node.on('metadata', (hash, p) =>
    // `step`, not `event`: the line's own `event` is `metadata`.
    report.event(
      'metadata',
      { infoHash: hash, ...p, step: p.event },
      describeMetadataProgress(p, peerSources.get(hash) ?? ''),
    ),
  );
  const outcomes = new Outcomes(node);
  const addOptions: AddTorrentOptions = {
    downloadDir: resolve(opts.output ?? config.downloadDir),
    peers,
    trackers: opts.tracker,
    ...(opts.recheck && { recheck: true }),
    ...(opts.sequential && { pickMode: 'sequential' as const }),
    ...(files.length > 0 && { files }),
    ...(opts.webSeeds === false && { webSeeds: false }),
    signal: interrupted.signal,
  };
  /** Adds one source and waits until it is done; false when it failed. */
  const fetchOne = async (source: string, index: number): Promise<boolean> => {
    try {
      const magnet = magnets[index];
      if (magnet) report.event('metadata', { source }, `fetching torrent metadata from peers…`);
      const torrent = magnet
        ? await node.addMagnet(magnet, addOptions)
        : await node.add(bytes?.[0] ?? (await readSource(runtime, source)), addOptions);
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
      const outcome = await outcomes.of(torrent);
      if (outcome instanceof Error) throw outcome;
      report.finish(
        outcome,
        { ...outcome, peakRssBytes: await peakRss(runtime) },
        `done: ${torrent.meta.name} verified (${outcome.piecesHave}/${outcome.pieceCount} pieces)`,
      );
      return true;
    } catch (error) {
      if (interrupted.signal.aborted) return false;
      if (single) throw error;
      const message = (error as Error).message;
      report.event('failed', { source, message }, `shoal: ${source}: ${message}`);
      return false;
    }
  };
  try {
    const all = Promise.all(toFetch.map(fetchOne));
    const outcome = await Promise.race([all, signalled]);
    if (!Array.isArray(outcome)) return 130;
    const failed = outcome.filter((ok) => !ok).length;
    if (failed > 0 && !single)
      report.event(
        'summary',
        { done: outcome.length - failed, failed },
        `${outcome.length - failed} of ${outcome.length} downloads done, ${failed} failed`,
      );
    if (opts.seed && failed < outcome.length) {
      seeding = true;
      report.event('seeding', { port: node.port }, `seeding on port ${node.port}; Ctrl-C to stop`);
      await Promise.race([signalled, outcomes.allFinishedSeeding()]);
    }
    return failed > 0 ? 1 : 0;
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

/** How each torrent of a node ends: done (its stats), or an error; and when seeding ends. */
class Outcomes {
  private readonly done = new Map<string, TorrentStats>();
  private readonly failed = new Map<string, Error>();
  private readonly waiting = new Map<string, (outcome: TorrentStats | Error) => void>();

  constructor(private readonly node: Node) {
    node.on('done', (t, s) => this.settle(t.infoHashHex, s, this.done));
    // A torrent whose files cannot be used (disk full, read-only folder) ends its download.
    node.on('error', (e, t) => {
      if (t) this.settle(t.infoHashHex, e, this.failed);
    });
  }

  /** Resolves when `torrent` is done or failed (even if that happened before the call). */
  of(torrent: Torrent): Promise<TorrentStats | Error> {
    const id = torrent.infoHashHex;
    const known = this.done.get(id) ?? this.failed.get(id);
    if (known) return Promise.resolve(known);
    return new Promise((resolve) => this.waiting.set(id, resolve));
  }

  /** Resolves when every torrent of the node has stopped seeding at a seeding limit. */
  allFinishedSeeding(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.node.list().every((t) => t.seedLimits.reached !== undefined)) resolve();
      };
      this.node.on('finished', check);
      check();
    });
  }

  private settle<T extends TorrentStats | Error>(id: string, value: T, into: Map<string, T>): void {
    if (this.done.has(id) || this.failed.has(id)) return;
    into.set(id, value);
    this.waiting.get(id)?.(value);
    this.waiting.delete(id);
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
