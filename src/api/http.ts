import { ShoalError } from '../errors.js';
import type { HttpServerRequest, HttpServerResponse } from '../runtime/http-server.js';
import { ApiError, badRequest } from './errors.js';

/** Largest JSON body the API reads (a base64 .torrent fits: torrents are limited well below). */
export const MAX_JSON_BODY = 16 * 1024 * 1024;

/** Headers every API answer carries: no caching, no MIME sniffing, never framed. */
export const COMMON_HEADERS: Readonly<Record<string, string>> = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

/** Sends `value` as JSON. */
export function sendJson(
  res: HttpServerResponse,
  status: number,
  value: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  res.send(
    status,
    { ...COMMON_HEADERS, 'content-type': 'application/json; charset=utf-8', ...headers },
    JSON.stringify(value),
  );
}

/** HTTP status for the stable codes of errors raised below the API. */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  BENCODE_INVALID: 400,
  METAINFO_INVALID: 400,
  MAGNET_INVALID: 400,
  UNSAFE_PATH: 400,
  USAGE: 400,
  TORRENT_EXISTS: 409,
  BODY_TOO_LARGE: 413,
  EGRESS_DENIED: 403,
  IO: 502,
  HTTP_CALL_FAILED: 502,
  METADATA_UNAVAILABLE: 504,
};

/** Turns any error into `{"error":{"code","message"}}` with a fitting status. */
export function sendError(
  res: HttpServerResponse,
  error: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  if (error instanceof ApiError) {
    sendJson(res, error.status, { error: { code: error.code, message: error.message } }, headers);
  } else if (error instanceof ShoalError) {
    sendJson(
      res,
      STATUS_BY_CODE[error.code] ?? 500,
      { error: { code: error.code, message: error.message } },
      headers,
    );
  } else {
    const message = error instanceof Error ? error.message : String(error);
    sendJson(res, 500, { error: { code: 'INTERNAL', message } }, headers);
  }
}

/** Parses a request target into path and query; a malformed one is a 400. */
export function parseTarget(url: string): { path: string; query: URLSearchParams } {
  if (!url.startsWith('/')) throw badRequest('the request target must be a path', 'BAD_TARGET');
  try {
    const parsed = new URL(url, 'http://shoal.invalid');
    return { path: parsed.pathname, query: parsed.searchParams };
  } catch {
    throw badRequest('the request target cannot be parsed', 'BAD_TARGET');
  }
}

/** Reads a JSON object body. @throws {ApiError} 400 `BAD_JSON`, 413 `BODY_TOO_LARGE` */
export async function readJsonObject(
  req: HttpServerRequest,
  maxBytes = MAX_JSON_BODY,
): Promise<Record<string, unknown>> {
  const text = (await req.body(maxBytes)).toString('utf8');
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw badRequest(`the body is not JSON: ${(error as Error).message}`, 'BAD_JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw badRequest('the body must be a JSON object', 'BAD_JSON');
  return value as Record<string, unknown>;
}

/** Reads optional typed fields of a JSON object, with errors naming the field. */
export class Fields {
  constructor(private readonly object: Readonly<Record<string, unknown>>) {}

  string(name: string): string | undefined {
    const v = this.object[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw badRequest(`"${name}" must be a string`, 'BAD_FIELD');
    return v;
  }

  boolean(name: string): boolean | undefined {
    const v = this.object[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') throw badRequest(`"${name}" must be true or false`, 'BAD_FIELD');
    return v;
  }

  /** A non-negative integer. */
  count(name: string): number | undefined {
    const v = this.object[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
      throw badRequest(`"${name}" must be a non-negative integer`, 'BAD_FIELD');
    return v;
  }

  /**
   * A limit: a finite number ≥ 0 (0 = none), `null` when the field is given as null (a torrent
   * following the node's setting), undefined when absent.
   */
  limit(name: string): number | null | undefined {
    const v = this.object[name];
    if (v === undefined) return undefined;
    if (v === null) return null;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1e9)
      throw badRequest(`"${name}" must be a number ≥ 0 (0 = no limit) or null`, 'BAD_FIELD');
    return v;
  }

  strings(name: string, max = 1000): string[] | undefined {
    const v = this.object[name];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.length > max || !v.every((x) => typeof x === 'string'))
      throw badRequest(`"${name}" must be a list of at most ${max} strings`, 'BAD_FIELD');
    return v as string[];
  }

  numbers(name: string, max = 100_000): number[] | undefined {
    const v = this.object[name];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.length > max || !v.every((x) => typeof x === 'number'))
      throw badRequest(`"${name}" must be a list of at most ${max} numbers`, 'BAD_FIELD');
    return v as number[];
  }
}
