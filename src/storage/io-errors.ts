import { ShoalError } from '../errors.js';

/** The errno code of an I/O error, if it has one. */
function errnoOf(error: unknown): string | undefined {
  for (let e = error; e instanceof Error; e = e.cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && !(e instanceof ShoalError) && code.startsWith('E')) return code;
  }
  return undefined;
}

/** A read failed because a file or folder is gone (the user deleted the download). */
export function isMissingFile(error: unknown): boolean {
  const code = errnoOf(error);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

const IO_HINTS: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOENT: 'a file or folder is missing',
  ENOTDIR: 'a folder on the path is missing',
  EIO: 'the disk reported an I/O error',
};

/** An I/O error in words a user can act on (`no space left on the device`, …). */
export function describeIo(error: unknown): string {
  const code = errnoOf(error);
  const hint = code ? IO_HINTS[code] : undefined;
  return hint ?? (error instanceof Error ? error.message : String(error));
}
