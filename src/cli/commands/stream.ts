import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { realFileIndices } from '../../metainfo/file-selection.js';
import { parseMagnet } from '../../metainfo/magnet.js';
import { parseTorrent } from '../../metainfo/parse.js';
import type { Metainfo } from '../../metainfo/types.js';
import { contentTypeOf, isPlayable } from '../../node/media-types.js';
import { Node } from '../../node/node.js';
import { StreamServer } from '../../node/stream-server.js';
import { listenHttp } from '../../runtime/http-server.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Torrent } from '../../swarm/torrent.js';
import { formatBytes } from '../format.js';
import { configFromFlags, type NodeFlags, parsePeers } from '../node-options.js';
import { untilSignal } from '../signals.js';

/** Players `--player` knows how to start. */
const PLAYERS: Readonly<Record<string, readonly string[]>> = {
  mpv: ['mpv', '--force-window=immediate'],
  vlc: ['vlc'],
};

/** Options of `shoal stream`. */
export interface StreamCommandOptions extends Omit<NodeFlags, 'port'> {
  /** The HTTP port of the stream (0 = any free port). */
  readonly port?: string;
  /** The peer port of the node. */
  readonly peerPort?: string;
  readonly httpHost?: string;
  readonly file?: string;
  readonly player?: string;
  readonly output?: string;
  readonly peer: string[];
  readonly tracker: string[];
  readonly json?: boolean;
}

/**
 * `shoal stream <torrent|magnet>`: downloads one file of a torrent with streaming deadlines and
 * serves it over HTTP while it downloads (`/stream/…` for players, `/watch/…` for a browser),
 * prints the URL, starts a player if asked, and shows the buffer, rate and peers until Ctrl-C
 * or until the player exits.
 */
export async function streamCommand(
  runtime: Runtime,
  source: string,
  opts: StreamCommandOptions,
): Promise<number> {
  const player = opts.player === undefined ? undefined : PLAYERS[opts.player];
  if (opts.player !== undefined && !player)
    throw new UsageError(`--player must be one of ${Object.keys(PLAYERS).join(', ')}`);
  const httpPort = opts.port === undefined ? 0 : Number(opts.port);
  if (!Number.isInteger(httpPort) || httpPort < 0 || httpPort > 65535)
    throw new UsageError(`--port must be 0..65535, not "${opts.port}"`);
  const peers = parsePeers(opts.peer);
  const magnet = source.toLowerCase().startsWith('magnet:') ? parseMagnet(source) : undefined;
  const bytes = magnet ? undefined : await runtime.fs.readFile(source);
  if (bytes && opts.file !== undefined) chooseFile(parseTorrent(bytes), opts.file); // fail early
  const config = await configFromFlags(runtime, { ...opts, port: opts.peerPort ?? '0' });
  const node = await Node.start(runtime, config);
  const say = (event: string, fields: Record<string, unknown>, text: string) => {
    if (opts.json) process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
    else process.stderr.write(`${text}\n`);
  };
  let server: Awaited<ReturnType<typeof listenHttp>> | undefined;
  let ticker: ReturnType<typeof runtime.timers.setInterval> | undefined;
  try {
    const addOptions = {
      downloadDir: resolve(opts.output ?? config.downloadDir),
      peers,
      trackers: opts.tracker,
      persist: false,
    };
    if (magnet) say('metadata', {}, 'fetching torrent metadata from peers…');
    const torrent = magnet
      ? await node.addMagnet(magnet, addOptions)
      : await node.add(bytes!, addOptions);
    const fileIndex = chooseFile(torrent.meta, opts.file);
    // Only the streamed file is downloaded.
    torrent.setFilePriorities(torrent.meta.files.map((_, i) => (i === fileIndex ? 1 : 0)));
    const streams = node.createStreamServer();
    server = await listenHttp(
      { host: opts.httpHost ?? '127.0.0.1', port: httpPort },
      async (req, res) => {
        const path = req.url.split('?')[0] ?? '/';
        if (StreamServer.serves(path)) return streams.handle(req, res, path);
        if (path === '/') return res.send(302, { location: watchPath }, '');
        res.send(404, { 'content-type': 'text/plain' }, 'not found\n');
      },
    );
    const address = server.address();
    const host = address.address.includes(':') ? `[${address.address}]` : address.address;
    const base = `http://${host}:${address.port}`;
    const filePath = StreamServer.filePath(torrent, fileIndex);
    const streamUrl = `${base}/stream/${torrent.infoHashHex}/${filePath}`;
    const watchPath = `/watch/${torrent.infoHashHex}/${filePath}`;
    say(
      'streaming',
      {
        infoHash: torrent.infoHashHex,
        name: torrent.meta.name,
        file: torrent.meta.files[fileIndex]!.path.join('/'),
        fileLength: torrent.meta.files[fileIndex]!.length,
        url: streamUrl,
        watch: `${base}${watchPath}`,
        port: node.port,
        httpPort: address.port,
      },
      `streaming ${torrent.meta.files[fileIndex]!.path.join('/')} (${contentTypeOf(filePath)})\n` +
        `  play:  ${streamUrl}\n  watch: ${base}${watchPath}`,
    );
    const status = new StatusLine(opts.json === true);
    ticker = runtime.timers.setInterval(() => status.show(torrent, streams), 1000);
    let playerExit: Promise<'player'> | undefined;
    if (player) {
      const [cmd, ...args] = player;
      const child = spawn(cmd!, [...args, streamUrl], { stdio: 'ignore' });
      playerExit = new Promise((done) => {
        child.once('exit', () => done('player'));
        child.once('error', (error) => {
          say('warning', { message: error.message }, `cannot start ${cmd}: ${error.message}`);
          done('player');
        });
      });
    }
    await Promise.race([untilSignal(), ...(playerExit ? [playerExit] : [])]);
    status.stop();
    return 0;
  } finally {
    ticker?.cancel();
    await server?.close();
    await node.stop();
  }
}

/**
 * The file to stream: `--file` by number (real files, as `shoal info` lists them) or path, else
 * the largest playable file, else the largest file. @throws {UsageError}
 */
export function chooseFile(meta: Metainfo, file: string | undefined): number {
  const real = realFileIndices(meta);
  if (file !== undefined) {
    if (/^\d+$/.test(file)) {
      const i = real[Number(file)];
      if (i === undefined)
        throw new UsageError(`--file ${file}: the torrent has ${real.length} file(s)`);
      return i;
    }
    const wanted = file.replace(/^\/+/, '');
    for (const i of real) {
      const path = meta.singleFile ? meta.name : meta.files[i]!.path.join('/');
      if (path === wanted || `${meta.name}/${path}` === wanted) return i;
    }
    throw new UsageError(`--file: the torrent has no file "${file}"`);
  }
  const size = (i: number) => meta.files[i]!.length;
  const name = (i: number) => meta.files[i]!.path.join('/');
  const playable = real.filter((i) => isPlayable(contentTypeOf(name(i))));
  const pool = playable.length > 0 ? playable : real;
  if (pool.length === 0) throw new UsageError('the torrent has no files');
  return pool.reduce((a, b) => (size(b) > size(a) ? b : a));
}

/** The one-line status `shoal stream` keeps up to date (one JSON object a second with --json). */
class StatusLine {
  private shown = false;

  constructor(private readonly json: boolean) {}

  show(torrent: Torrent, streams: StreamServer): void {
    const s = torrent.stats();
    const open = streams.streams();
    if (this.json) {
      process.stdout.write(`${JSON.stringify({ event: 'progress', ...s, readers: open })}\n`);
      return;
    }
    if (!process.stderr.isTTY) return;
    const first = open[0];
    const buffer = first
      ? `buffer ${formatBytes(first.bufferedAhead)} (${(first.bufferedAhead / first.bytesPerSecond).toFixed(0)} s)`
      : 'no viewer';
    const line =
      `${buffer} | ↓ ${formatBytes(s.downloadRate)}/s ↑ ${formatBytes(s.uploadRate)}/s | ` +
      `${s.peers} peers | ${(s.progress * 100).toFixed(1)} %` +
      (s.downloadedFromWebSeeds > 0 ? ` | web seeds ${formatBytes(s.downloadedFromWebSeeds)}` : '');
    process.stderr.write(`\r\x1b[2K${line}`);
    this.shown = true;
  }

  stop(): void {
    if (this.shown) process.stderr.write('\n');
  }
}
