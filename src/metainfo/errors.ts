import { ShoalError } from '../errors.js';

/** A torrent file or info dictionary is malformed, inconsistent or over a limit. */
export class MetainfoError extends ShoalError {
  constructor(message: string) {
    super('METAINFO_INVALID', `invalid torrent: ${message}`);
  }
}

/** A file path from a torrent could escape the download folder or is unsafe to create. */
export class UnsafePathError extends ShoalError {
  readonly path: string;
  constructor(path: string, reason: string) {
    super('UNSAFE_PATH', `unsafe path in torrent "${path}": ${reason}`);
    this.path = path;
  }
}

/** A magnet link cannot be understood. */
export class MagnetError extends ShoalError {
  constructor(message: string) {
    super('MAGNET_INVALID', `invalid magnet link: ${message}`);
  }
}

/** A file selection (`--only 0,2-3`, `--file PATH`, BEP 53 `so=`) names no file of the torrent. */
export class FileSelectionError extends ShoalError {
  constructor(message: string) {
    super('FILE_SELECTION', message);
  }
}
