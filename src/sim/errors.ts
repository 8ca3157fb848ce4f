import { ShoalError } from '../errors.js';

/**
 * Something the simulator itself refuses or cannot do (bad scenario options, a microtask
 * livelock, a run that differs from its replay). Its `code` names the case.
 */
export class SimError extends ShoalError {}

/**
 * A simulated socket or file operation failed, the way the real runtime's `IoError` does
 * (same code `IO`, so engines treat both alike); `reason` is the errno-style cause
 * (`ECONNREFUSED`, `ETIMEDOUT`, `ENOENT`, …).
 */
export class SimIoError extends ShoalError {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super('IO', `${message} (${reason})`);
  }
}
