import { spawnDetached } from '../runtime/process.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Torrent, TorrentStats } from '../swarm/torrent.js';

/** What became of one run of the completion hook. */
export interface CompletionHookRun {
  readonly command: string;
  /** Its exit code (null when a signal ended it or it could not start). */
  readonly code: number | null;
  /** Why it could not start. */
  readonly error?: string;
}

/**
 * The environment a completion hook sees: the torrent's name, info-hash and download folder.
 * Values travel only as environment variables, never inside the command line, so a torrent
 * named `$(rm -rf ~)` is data to the hook, not code.
 */
export function completionEnv(torrent: Torrent): Record<string, string> {
  return {
    SHOAL_TORRENT_NAME: torrent.meta.name,
    SHOAL_INFO_HASH: torrent.infoHashHex,
    SHOAL_DOWNLOAD_DIR: torrent.storage.root,
  };
}

/**
 * Runs `command` (the user's `onComplete`, through `/bin/sh -c`) when a torrent finishes
 * downloading in this session: `done` with bytes downloaded, not a torrent found complete on
 * disk at start. The hook runs detached (it may outlive the node); `ran` hears how it ended.
 * Returns the listener to attach to the node's `done` event.
 */
export function completionHook(
  runtime: Runtime,
  command: string,
  ran: (torrent: Torrent, run: CompletionHookRun) => void,
): (torrent: Torrent, stats: TorrentStats) => void {
  return (torrent, stats) => {
    if (stats.downloaded === 0) return;
    if (!runtime.processes) {
      ran(torrent, { command, code: null, error: 'this runtime cannot start programs' });
      return;
    }
    const started = spawnDetached(
      runtime.processes,
      '/bin/sh',
      ['-c', command],
      completionEnv(torrent),
    );
    void started.exited.then(({ code, error }) =>
      ran(torrent, { command, code, ...(error && { error: error.message }) }),
    );
  };
}
