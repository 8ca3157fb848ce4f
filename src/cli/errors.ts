import { ShoalError } from '../errors.js';

/** Exit status for an error shoal explained (bad input, refused operation). */
export const EXIT_FAILURE = 1;
/** Exit status for a command line that could not be understood. */
export const EXIT_USAGE = 2;

/**
 * Turns any error into one line on stderr and an exit status, so users never see a stack
 * trace (set SHOAL_DEBUG=1 to get one).
 */
export function reportError(error: unknown): number {
  const debug = process.env.SHOAL_DEBUG === '1';
  if (error instanceof ShoalError) {
    process.stderr.write(`shoal: ${error.message}\n`);
    if (debug) process.stderr.write(`${error.stack}\n`);
    return error.code === 'USAGE' ? EXIT_USAGE : EXIT_FAILURE;
  }
  const e = error as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && typeof e.syscall === 'string') {
    const path = e.path ? ` "${e.path}"` : '';
    const hint: Record<string, string> = {
      ENOENT: 'no such file or folder',
      EACCES: 'permission denied',
      EISDIR: 'is a folder, not a file',
      ENOTDIR: 'not a folder',
      ENOSPC: 'no space left on the device',
    };
    process.stderr.write(`shoal: cannot ${e.syscall}${path}: ${hint[e.code] ?? e.message}\n`);
    return EXIT_FAILURE;
  }
  process.stderr.write(
    `shoal: unexpected error: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  if (debug && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  return EXIT_FAILURE;
}
