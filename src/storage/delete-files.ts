import { dirname, join } from 'node:path';
import type { FileSystem } from '../runtime/runtime.js';
import type { PieceLayout } from './layout.js';
import type { TorrentStorage } from './torrent-storage.js';

/**
 * Deletes a torrent's files (never padding, never anything it did not name), then the folders
 * under its top folder that are left empty. Paths come from the storage, which checked them
 * when the torrent was parsed, so nothing outside the download folder is touched.
 */
export async function deleteTorrentFiles(
  fs: FileSystem,
  storage: TorrentStorage,
  layout: PieceLayout,
  name: string,
  singleFile: boolean,
): Promise<void> {
  const top = singleFile ? undefined : join(storage.root, name);
  const folders = new Set<string>();
  for (const [i, f] of layout.files.entries()) {
    if (f.padding) continue;
    const path = storage.filePath(i);
    if (await fs.exists(path)) await fs.rm(path);
    if (top === undefined) continue;
    for (let d = dirname(path); d.startsWith(top); d = dirname(d)) folders.add(d);
  }
  for (const d of [...folders].sort((a, b) => b.length - a.length))
    if ((await fs.exists(d)) && (await fs.readdir(d)).length === 0) await fs.rm(d);
}
