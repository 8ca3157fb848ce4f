/**
 * The root of every error shoal raises on purpose. Callers match on `code` (stable across
 * releases) rather than on message text, which is written for people and may change.
 */
export class ShoalError extends Error {
  /** A stable, machine-readable identifier such as `BENCODE_INVALID`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Raised when a caller passes options that cannot work (bad flag values, contradictory modes). */
export class UsageError extends ShoalError {
  constructor(message: string) {
    super('USAGE', message);
  }
}
