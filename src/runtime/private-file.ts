import * as fsp from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Secrets on disk (the daemon's API token): written so that only the owner can read them
 * (mode 0600 from the first byte, then renamed into place), which the plain `FileSystem`
 * interface cannot express.
 */

/** Writes `data` to `path` atomically, readable and writable by the owner only. */
export async function writePrivateFile(path: string, data: Uint8Array): Promise<void> {
  await fsp.mkdir(dirname(path), { recursive: true });
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const h = await fsp.open(temp, 'w', 0o600);
  try {
    await h.chmod(0o600);
    await h.writeFile(data);
    await h.sync();
  } finally {
    await h.close();
  }
  await fsp.rename(temp, path);
}

/** The permission bits of `path` (e.g. 0o600), or undefined when it does not exist. */
export async function fileMode(path: string): Promise<number | undefined> {
  try {
    return (await fsp.stat(path)).mode & 0o777;
  } catch {
    return undefined;
  }
}
