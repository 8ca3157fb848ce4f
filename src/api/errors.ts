import { type ErrorCode, ShoalError } from '../errors.js';

/**
 * An error the API answers with: an HTTP status and a stable `code` clients can switch on, so a
 * bad request is always a clear JSON error (`{"error":{"code","message"}}`) and never a crash.
 */
export class ApiError extends ShoalError {
  constructor(
    readonly status: number,
    code: ErrorCode,
    message: string,
  ) {
    super(code, message);
  }
}

/** 400: the request could not be understood (bad JSON, a field of the wrong type). */
export const badRequest = (message: string, code: ErrorCode = 'BAD_REQUEST') =>
  new ApiError(400, code, message);

/** 404: no torrent (or route) by that name. */
export const notFound = (message: string, code: ErrorCode = 'NOT_FOUND') =>
  new ApiError(404, code, message);
