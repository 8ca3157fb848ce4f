import { ShoalError } from '../errors.js';

/** A socket or file operation failed at the OS level. */
export class IoError extends ShoalError {
  constructor(message: string, cause?: unknown) {
    super('IO', message, { cause });
  }
}

/**
 * A file below a download folder cannot be opened without leaving that folder or touching
 * something that is not a plain file or folder: a symbolic link on the way, a FIFO, a device.
 * Raised before anything is written, so nothing outside the folder is ever created or changed.
 */
export class UnsafeFileError extends ShoalError {
  constructor(
    /** The whole path that was to be opened. */
    readonly path: string,
    /** The part of it that is the problem (a link, a device, …). */
    readonly offending: string,
    reason: string,
  ) {
    super(
      'UNSAFE_FILE',
      `refusing to open "${path}": "${offending}" ${reason}; shoal never follows links or ` +
        'opens special files inside a download folder (remove it, or download elsewhere)',
    );
  }
}

/**
 * A secret (a private key's seed) is stored where someone other than its owner could read or
 * change it. The message says how to fix the file's permissions.
 */
export class SecretFileError extends ShoalError {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super('SECRET_FILE_UNSAFE', `refusing to use the secret in "${path}": ${reason}`);
  }
}
