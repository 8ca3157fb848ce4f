import { mapLimit } from '../shared/map-limit.js';
import type { Torrent } from '../swarm/torrent.js';
import type { Library, LibraryEntry } from './library.js';
import type { AddTorrentOptions } from './types.js';

/** Library torrents started at once (their resume data read, files stat'ed). */
const START_PARALLEL = 16;

/** The two halves of adding a torrent, and where failures go. */
export interface ResumeSteps {
  /** Makes a torrent known to the node (not started); `madeDirs` are folders already made. */
  register(torrent: Buffer, options: AddTorrentOptions, madeDirs: Set<string>): Promise<Torrent>;
  /** Starts a registered torrent and finds it peers. */
  launch(torrent: Torrent, options: AddTorrentOptions): Promise<void>;
  /** A torrent that could not be resumed (the others go on). */
  failed(error: Error): void;
}

/**
 * Brings back every torrent of the library (what `shoal start` does), `extras` added to each:
 * registered in library order, then started several at a time, so 10,000 of them check their
 * resume data in seconds; each comes back paused or finished as it was left.
 */
export async function resumeLibrary(
  library: Library,
  steps: ResumeSteps,
  extras: Pick<AddTorrentOptions, 'peers' | 'trackers'>,
): Promise<Torrent[]> {
  const madeDirs = new Set<string>();
  const added: { torrent: Torrent; options: AddTorrentOptions; entry: LibraryEntry }[] = [];
  for (const { entry, torrent } of await library.list()) {
    const options: AddTorrentOptions = {
      downloadDir: entry.downloadDir,
      persist: false,
      ...(extras.peers && { peers: extras.peers }),
      ...(extras.trackers && { trackers: extras.trackers }),
      ...(entry.seedLimits && { seedLimits: entry.seedLimits }),
    };
    try {
      added.push({ torrent: await steps.register(torrent, options, madeDirs), options, entry });
    } catch (error) {
      steps.failed(error as Error);
    }
  }
  const started = await mapLimit(added, START_PARALLEL, async ({ torrent, options, entry }) => {
    try {
      await steps.launch(torrent, options);
    } catch (error) {
      steps.failed(error as Error);
      return undefined;
    }
    if (entry.finished) torrent.finishSeeding(entry.finished);
    else if (entry.paused) torrent.pause();
    return torrent;
  });
  return started.filter((t) => t !== undefined);
}
