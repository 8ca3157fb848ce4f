import type { TorrentRow } from '../../api/rows.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { DaemonClient } from '../daemon-client.js';
import { formatBytes } from '../format.js';
import { untilSignal } from '../signals.js';
import { addSource } from './remote.js';

/**
 * `shoal get` and `shoal share` while a daemon runs: instead of starting a second node (which
 * would fight the daemon for its port), they hand the torrent to the daemon, which keeps it in
 * its library; `get` then follows the download until it is done.
 */

/** Hands downloads to the daemon and reports their progress until all are done (or Ctrl-C). */
export async function getViaDaemon(
  runtime: Runtime,
  client: DaemonClient,
  sources: readonly string[],
  options: {
    downloadDir?: string;
    peers: readonly string[];
    trackers: readonly string[];
    json: boolean;
  },
): Promise<number> {
  const say = (event: string, fields: Record<string, unknown>, text: string) =>
    process.stdout.write(options.json ? `${JSON.stringify({ event, ...fields })}\n` : `${text}\n`);
  const following = new Map<string, string>();
  let failed = 0;
  for (const source of sources) {
    try {
      const added = await addSource(runtime, client, source, {
        ...(options.downloadDir !== undefined && { downloadDir: options.downloadDir }),
        ...(options.peers.length > 0 && { peers: options.peers }),
        ...(options.trackers.length > 0 && { trackers: options.trackers }),
      });
      following.set(added.id, '');
      say(
        'handed-off',
        { infoHash: added.id, name: added.name, daemon: client.target.url },
        `handed ${added.name} to the shoal daemon at ${client.target.url}; it keeps the torrent (shoal list)`,
      );
    } catch (error) {
      if (sources.length === 1) throw error;
      failed++;
      say(
        'failed',
        { source, message: (error as Error).message },
        `shoal: ${source}: ${(error as Error).message}`,
      );
    }
  }
  const stop = untilSignal().then(() => 'signal' as const);
  while (following.size > 0) {
    for (const [id, lastLine] of [...following]) {
      const row = await client.call<TorrentRow>('GET', `/api/torrents/${id}`);
      if (row.state === 'error') {
        say('error', { infoHash: row.id, message: row.error }, `error: ${row.name}: ${row.error}`);
        following.delete(id);
        failed++;
        continue;
      }
      const line = `${row.state.padEnd(11)} ${(row.progress * 100).toFixed(1).padStart(5)}%  ${formatBytes(row.have)} of ${formatBytes(row.size)}  ↓ ${formatBytes(Math.round(row.downloadRate))}/s  ${row.peers} peers  ${row.name}`;
      if (options.json) say('progress', row as unknown as Record<string, unknown>, '');
      else if (line !== lastLine) process.stdout.write(`${line}\n`);
      following.set(id, line);
      if (row.size > 0 && row.progress >= 1) {
        say(
          'done',
          { infoHash: row.id, name: row.name },
          `done: ${row.name} verified; the daemon seeds it`,
        );
        following.delete(id);
      }
    }
    if (following.size === 0) break;
    const next = await Promise.race([
      stop,
      new Promise<'tick'>((resolve) => runtime.timers.setTimeout(() => resolve('tick'), 1000)),
    ]);
    if (next === 'signal') {
      say('detached', {}, 'stopped following; the daemon goes on downloading (shoal list)');
      return 130;
    }
  }
  return failed > 0 ? 1 : 0;
}

/** Hands a torrent to seed (made locally from the files) to the daemon. */
export async function shareViaDaemon(
  client: DaemonClient,
  torrent: Uint8Array,
  downloadDir: string,
  options: { peers: readonly string[]; trackers: readonly string[]; magnet: string; json: boolean },
): Promise<number> {
  const row = await client.call<TorrentRow>('POST', '/api/torrents', {
    torrent: Buffer.from(torrent).toString('base64'),
    downloadDir,
    ...(options.peers.length > 0 && { peers: options.peers }),
    ...(options.trackers.length > 0 && { trackers: options.trackers }),
  });
  if (options.json) {
    process.stdout.write(
      `${JSON.stringify({ event: 'seeding', infoHash: row.id, daemon: client.target.url, magnet: options.magnet })}\n`,
    );
  } else {
    process.stdout.write(
      `the shoal daemon at ${client.target.url} seeds ${row.name} (shoal list)\n${options.magnet}\n`,
    );
  }
  return 0;
}
