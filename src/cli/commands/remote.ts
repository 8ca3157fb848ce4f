import { resolve } from 'node:path';
import type { FileInfo, PeerInfo, TorrentDetail } from '../../api/control.js';
import type { TorrentRow } from '../../api/rows.js';
import { UsageError } from '../../errors.js';
import { parseTorrent } from '../../metainfo/parse.js';
import { Library } from '../../node/library.js';
import type { Runtime } from '../../runtime/runtime.js';
import { DaemonClient, DaemonError, type DaemonFlags, daemonTarget } from '../daemon-client.js';
import { formatBytes } from '../format.js';
import { configFromFlags } from '../node-options.js';

/**
 * The remote CLI: `shoal add|list|info|pause|resume|remove|files|peers` talk to a running
 * `shoal start` over its API, as `transmission-remote` does to Transmission. Torrents are named
 * by info-hash or a unique prefix of it (the first 8 digits `list` shows), or `all`.
 */

/** Flags every remote command takes. */
export interface RemoteFlags extends DaemonFlags {
  readonly dataDir?: string;
  readonly json?: boolean;
}

async function connect(runtime: Runtime, flags: RemoteFlags): Promise<DaemonClient> {
  const config = await configFromFlags(runtime, flags.dataDir ? { dataDir: flags.dataDir } : {});
  return new DaemonClient(runtime, await daemonTarget(runtime, config.dataDir, flags));
}

const print = (text: string) => process.stdout.write(`${text}\n`);

/** `shoal add <source...>`: magnets, .torrent files or URLs, handed to the daemon. */
export async function addCommand(
  runtime: Runtime,
  sources: readonly string[],
  opts: RemoteFlags & {
    output?: string;
    paused?: boolean;
    peer?: string[];
    tracker?: string[];
  },
): Promise<number> {
  const client = await connect(runtime, opts);
  for (const source of sources) {
    const row = await addSource(runtime, client, source, {
      ...(opts.output !== undefined && { downloadDir: resolve(opts.output) }),
      ...(opts.paused && { paused: true }),
      ...(opts.peer && opts.peer.length > 0 && { peers: opts.peer }),
      ...(opts.tracker && opts.tracker.length > 0 && { trackers: opts.tracker }),
    });
    print(
      opts.json
        ? JSON.stringify({ event: 'added', ...row })
        : `added ${row.id.slice(0, 8)} ${row.name} (${row.state})`,
    );
  }
  return 0;
}

/** Adds one magnet, URL or .torrent file to the daemon. */
export async function addSource(
  runtime: Runtime,
  client: DaemonClient,
  source: string,
  options: Record<string, unknown>,
): Promise<TorrentRow> {
  if (source.toLowerCase().startsWith('magnet:'))
    return client.call<TorrentRow>('POST', '/api/torrents', { magnet: source, ...options });
  if (/^https?:\/\//i.test(source))
    return client.call<TorrentRow>('POST', '/api/torrents', { url: source, ...options });
  const bytes = await runtime.fs.readFile(source);
  parseTorrent(bytes); // a clear local error beats the daemon's for a file that is no torrent
  return client.call<TorrentRow>('POST', '/api/torrents', {
    torrent: bytes.toString('base64'),
    ...options,
  });
}

/** `shoal list`: the daemon's torrents; the library on disk when no daemon runs. */
export async function listCommand(
  runtime: Runtime,
  opts: RemoteFlags & { state?: string; sort?: string },
): Promise<number> {
  const client = await connect(runtime, opts);
  const query = new URLSearchParams({ limit: '10000', sort: opts.sort ?? 'addedAt' });
  if (opts.state) query.set('state', opts.state);
  let rows: TorrentRow[];
  try {
    rows = (await client.call<{ torrents: TorrentRow[] }>('GET', `/api/torrents?${query}`))
      .torrents;
  } catch (error) {
    if (!(error instanceof DaemonError) || error.code !== 'DAEMON_UNREACHABLE') throw error;
    return listLibrary(runtime, opts);
  }
  if (opts.json) {
    for (const r of rows) print(JSON.stringify(r));
    return 0;
  }
  print(table(rows));
  return 0;
}

/** The library on disk, for `shoal list` while no daemon runs. */
async function listLibrary(runtime: Runtime, opts: RemoteFlags): Promise<number> {
  const config = await configFromFlags(runtime, opts.dataDir ? { dataDir: opts.dataDir } : {});
  const entries = await new Library(runtime.fs, config.dataDir).list();
  const items = entries.map(({ entry, torrent }) => {
    let name = entry.infoHash;
    let size = 0;
    try {
      const meta = parseTorrent(torrent);
      name = meta.name;
      size = meta.totalLength;
    } catch {
      // shown by hash
    }
    return { id: entry.infoHash, name, size, paused: entry.paused, downloadDir: entry.downloadDir };
  });
  if (opts.json) {
    for (const i of items) print(JSON.stringify({ ...i, running: false }));
    return 0;
  }
  print(`no daemon is running; the library in ${config.dataDir} (shoal start runs it):`);
  for (const i of items)
    print(
      `  ${i.id.slice(0, 8)}  ${formatBytes(i.size).padStart(10)}  ${i.paused ? 'paused ' : '       '}  ${i.name}`,
    );
  if (items.length === 0) print('  (empty)');
  return 0;
}

/** `shoal info <id>` against the daemon (a file or magnet is described locally instead). */
export async function remoteInfoCommand(
  runtime: Runtime,
  id: string,
  opts: RemoteFlags,
): Promise<number> {
  const d = await (await connect(runtime, opts)).call<TorrentDetail>(
    'GET',
    `/api/torrents/${encodeURIComponent(id)}`,
  );
  if (opts.json) {
    print(JSON.stringify(d));
    return 0;
  }
  const lines: [string, string][] = [
    ['name', d.name],
    ['info-hash', d.id],
    ['state', d.state + (d.error ? ` (${d.error})` : '')],
    [
      'progress',
      `${(d.progress * 100).toFixed(1)}% (${formatBytes(d.have)} of ${formatBytes(d.size)})`,
    ],
    ['rates', `↓ ${rate(d.downloadRate)}  ↑ ${rate(d.uploadRate)}`],
    ['transferred', `↓ ${formatBytes(d.downloaded)}  ↑ ${formatBytes(d.uploaded)}`],
    ['peers', String(d.peers)],
    ['pieces', `${d.piecesHave}/${d.pieceCount} of ${formatBytes(d.pieceLength)}`],
    ['saved in', d.downloadDir],
    ['files', String(d.files.length)],
    ['magnet', d.magnet],
  ];
  for (const t of d.trackers)
    lines.push(['tracker', `${t.url} (${t.state}${t.error ? `: ${t.error}` : ''})`]);
  for (const [k, v] of lines) print(`${k.padEnd(12)} ${v}`);
  return 0;
}

/** `shoal pause|resume <id...>` (or `all`). */
export async function pauseResumeCommand(
  runtime: Runtime,
  action: 'pause' | 'resume',
  ids: readonly string[],
  opts: RemoteFlags,
): Promise<number> {
  const client = await connect(runtime, opts);
  for (const id of await expand(client, ids)) {
    const row = await client.call<TorrentRow>(
      'POST',
      `/api/torrents/${encodeURIComponent(id)}/${action}`,
    );
    print(opts.json ? JSON.stringify(row) : `${row.id.slice(0, 8)} ${row.state}  ${row.name}`);
  }
  return 0;
}

/** `shoal remove <id...> [--delete-data]`. */
export async function removeCommand(
  runtime: Runtime,
  ids: readonly string[],
  opts: RemoteFlags & { deleteData?: boolean },
): Promise<number> {
  const client = await connect(runtime, opts);
  for (const id of await expand(client, ids)) {
    const r = await client.call<{ removed: string }>(
      'DELETE',
      `/api/torrents/${encodeURIComponent(id)}?deleteData=${opts.deleteData === true}`,
    );
    print(
      opts.json
        ? JSON.stringify(r)
        : `removed ${r.removed.slice(0, 8)}${opts.deleteData ? ' and its files' : ''}`,
    );
  }
  return 0;
}

/** `shoal files <id> [--skip LIST] [--want LIST] [--high LIST]`. */
export async function filesCommand(
  runtime: Runtime,
  id: string,
  opts: RemoteFlags & { skip?: string; want?: string; high?: string },
): Promise<number> {
  const client = await connect(runtime, opts);
  const path = `/api/torrents/${encodeURIComponent(id)}/files`;
  let files = (await client.call<{ files: FileInfo[] }>('GET', path)).files;
  const changes: [string | undefined, (old: number) => number][] = [
    [opts.skip, () => 0],
    [opts.want, (old) => (old === 0 ? 1 : old)],
    [opts.high, () => 7],
  ];
  if (changes.some(([list]) => list !== undefined)) {
    const priorities = files.map((f) => f.priority);
    for (const [list, change] of changes) {
      for (const i of indices(list, files.length)) priorities[i] = change(priorities[i]!);
    }
    files = (await client.call<{ files: FileInfo[] }>('PUT', path, { priorities })).files;
  }
  if (opts.json) {
    for (const f of files) print(JSON.stringify(f));
    return 0;
  }
  print('   #   done  priority        size  path');
  for (const f of files) {
    const done = f.length === 0 ? 100 : (100 * f.have) / f.length;
    const prio = f.priority === 0 ? 'skip' : f.priority >= 4 ? 'high' : 'normal';
    print(
      `${String(f.index).padStart(4)}  ${done.toFixed(0).padStart(4)}%  ${prio.padEnd(8)} ${formatBytes(f.length).padStart(11)}  ${f.path}`,
    );
  }
  return 0;
}

/** `shoal peers <id>`. */
export async function peersCommand(
  runtime: Runtime,
  id: string,
  opts: RemoteFlags,
): Promise<number> {
  const peers = (
    await (
      await connect(runtime, opts)
    ).call<{ peers: PeerInfo[] }>('GET', `/api/torrents/${encodeURIComponent(id)}/peers`)
  ).peers;
  if (opts.json) {
    for (const p of peers) print(JSON.stringify(p));
    return 0;
  }
  for (const p of peers) print(p.address);
  if (peers.length === 0) print('(no peers connected)');
  return 0;
}

/** `all` → every torrent's id; other names are passed through for the daemon to resolve. */
async function expand(client: DaemonClient, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0)
    throw new UsageError('name at least one torrent (an info-hash prefix, or all)');
  if (!ids.includes('all')) return [...ids];
  const rows = await client.call<{ torrents: { id: string }[] }>(
    'GET',
    '/api/torrents?fields=id&limit=10000',
  );
  return rows.torrents.map((r) => r.id);
}

/** Parses `1,3-5` into indices below `count`. */
function indices(list: string | undefined, count: number): number[] {
  if (list === undefined) return [];
  const out: number[] = [];
  for (const part of list.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new UsageError(`"${part}" is not a file index or range like 2-5`);
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (last < first || last >= count)
      throw new UsageError(`file ${last} does not exist (the torrent has ${count} files)`);
    for (let i = first; i <= last; i++) out.push(i);
  }
  return out;
}

const rate = (r: number) => `${formatBytes(Math.round(r))}/s`;

/** A transmission-remote-like table of rows. */
export function table(rows: readonly TorrentRow[]): string {
  const lines = [
    `${'ID'.padEnd(8)}  ${'Done'.padStart(6)}  ${'Have'.padStart(10)}  ${'ETA'.padStart(8)}  ${'Down'.padStart(11)}  ${'Up'.padStart(11)}  ${'Ratio'.padStart(5)}  ${'State'.padEnd(11)}  Name`,
  ];
  for (const r of rows) {
    lines.push(
      `${r.id.slice(0, 8)}  ${`${(r.progress * 100).toFixed(1)}%`.padStart(6)}  ${formatBytes(r.have).padStart(10)}  ${eta(r.eta).padStart(8)}  ${rate(r.downloadRate).padStart(11)}  ${rate(r.uploadRate).padStart(11)}  ${r.ratio.toFixed(2).padStart(5)}  ${r.state.padEnd(11)}  ${r.name}`,
    );
  }
  if (rows.length === 0) lines.push('(no torrents)');
  return lines.join('\n');
}

function eta(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600)
    return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  if (seconds < 86_400)
    return `${Math.floor(seconds / 3600)}h${String(Math.floor(seconds / 60) % 60).padStart(2, '0')}m`;
  return `${Math.floor(seconds / 86_400)}d`;
}
