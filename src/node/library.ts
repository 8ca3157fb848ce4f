import { join } from 'node:path';
import type { FileSystem } from '../runtime/runtime.js';
import { mapLimit } from '../shared/map-limit.js';
import type { SeedLimitOverrides, SeedLimitReached } from '../swarm/seed-limits.js';

/** Library files read at once when listing it. */
const READ_PARALLEL = 16;

/** How a torrent in the library is to be run. */
export interface LibraryEntry {
  readonly infoHash: string;
  readonly downloadDir: string;
  readonly paused: boolean;
  /** Its own seeding limits, when it has any. */
  readonly seedLimits?: SeedLimitOverrides;
  /** The seeding limit that stopped it (it is paused), if one did. */
  readonly finished?: SeedLimitReached;
}

/**
 * The node's list of torrents on disk: `<dataDir>/torrents/<hash>.torrent` (the file as
 * given), `<hash>.json` (where and how to run it) and `<hash>.resume` (verified pieces). All
 * written atomically, so `shoal start` after any crash resumes what was there.
 */
export class Library {
  readonly dir: string;

  constructor(
    private readonly fs: FileSystem,
    dataDir: string,
  ) {
    this.dir = join(dataDir, 'torrents');
  }

  resumePath(infoHash: string): string {
    return join(this.dir, `${infoHash}.resume`);
  }

  async save(entry: LibraryEntry, torrent: Uint8Array): Promise<void> {
    await this.fs.mkdir(this.dir);
    await this.fs.writeFileAtomic(join(this.dir, `${entry.infoHash}.torrent`), torrent);
    await this.fs.writeFileAtomic(
      join(this.dir, `${entry.infoHash}.json`),
      Buffer.from(JSON.stringify(entry)),
    );
  }

  /** Records whether a torrent is paused, so `shoal start` keeps it so (atomically). */
  async setPaused(infoHash: string, paused: boolean): Promise<void> {
    await this.update(infoHash, { paused });
  }

  /**
   * Changes how a torrent is to be run (atomically); a field given as `undefined` is removed.
   * Nothing happens for a torrent not in the library.
   */
  async update(
    infoHash: string,
    changes: { [K in Exclude<keyof LibraryEntry, 'infoHash'>]?: LibraryEntry[K] | undefined },
  ): Promise<void> {
    const path = join(this.dir, `${infoHash}.json`);
    if (!(await this.fs.exists(path))) return;
    const entry = JSON.parse((await this.fs.readFile(path)).toString('utf8')) as LibraryEntry;
    await this.fs.writeFileAtomic(path, Buffer.from(JSON.stringify({ ...entry, ...changes })));
  }

  async remove(infoHash: string): Promise<void> {
    for (const ext of ['torrent', 'json', 'resume'])
      await this.fs.rm(join(this.dir, `${infoHash}.${ext}`));
  }

  /** Every complete entry, in name order; half-written or unreadable ones are skipped. */
  async list(): Promise<{ entry: LibraryEntry; torrent: Buffer }[]> {
    if (!(await this.fs.exists(this.dir))) return [];
    const names = (await this.fs.readdir(this.dir)).filter((n) => n.endsWith('.json')).sort();
    const read = await mapLimit(names, READ_PARALLEL, async (name) => {
      try {
        const entry = JSON.parse(
          (await this.fs.readFile(join(this.dir, name))).toString('utf8'),
        ) as LibraryEntry;
        if (typeof entry.infoHash !== 'string' || typeof entry.downloadDir !== 'string')
          return undefined;
        const torrent = await this.fs.readFile(join(this.dir, `${entry.infoHash}.torrent`));
        return { entry, torrent };
      } catch {
        return undefined; // skipped: a later `add` rewrites it
      }
    });
    return read.filter((r) => r !== undefined);
  }
}
