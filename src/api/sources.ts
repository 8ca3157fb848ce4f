import type { HttpClient } from '../runtime/runtime.js';
import type { AddSource } from './control.js';
import { ApiError, badRequest } from './errors.js';

/** Largest .torrent fetched from a URL or accepted in a request. */
export const MAX_TORRENT_BYTES = 10 * 1024 * 1024;
const FETCH_TIMEOUT_MS = 30_000;

/**
 * Turns what a client named (a magnet link, an http(s) URL of a .torrent, or the file's bytes)
 * into something the node can add. URLs are fetched through the runtime's HTTP client, so the
 * egress policy applies.
 * @throws {ApiError}
 */
export async function resolveSource(
  http: HttpClient,
  given: { readonly magnet?: string; readonly url?: string; readonly torrent?: Uint8Array },
): Promise<AddSource> {
  const count = [given.magnet, given.url, given.torrent].filter((x) => x !== undefined).length;
  if (count !== 1)
    throw badRequest('give exactly one of "magnet", "url" and "torrent"', 'BAD_SOURCE');
  if (given.magnet !== undefined) return { kind: 'magnet', link: given.magnet };
  if (given.torrent !== undefined) {
    if (given.torrent.length > MAX_TORRENT_BYTES)
      throw new ApiError(413, 'BODY_TOO_LARGE', 'the .torrent is larger than 10 MiB');
    return { kind: 'torrent', bytes: given.torrent };
  }
  const url = given.url!;
  if (url.toLowerCase().startsWith('magnet:')) return { kind: 'magnet', link: url };
  if (!/^https?:\/\//i.test(url))
    throw badRequest(`"${url}" is neither a magnet link nor an http(s) URL`, 'BAD_SOURCE');
  let body: Buffer;
  try {
    const res = await http.get(url, { timeoutMs: FETCH_TIMEOUT_MS, maxBytes: MAX_TORRENT_BYTES });
    if (res.status !== 200) {
      throw new ApiError(502, 'TORRENT_URL_FAILED', `${url} answered HTTP ${res.status}`);
    }
    body = res.body;
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw new ApiError(
      502,
      'TORRENT_URL_FAILED',
      `cannot fetch ${url}: ${(error as Error).message}`,
    );
  }
  return { kind: 'torrent', bytes: body };
}

/** Decodes base64 that must hold something; malformed input is a 400. */
export function decodeBase64(text: string, what: string): Buffer {
  const clean = text.replace(/\s+/g, '');
  if (clean === '' || !/^[A-Za-z0-9+/]*={0,2}$/.test(clean))
    throw badRequest(`${what} is not base64`, 'BAD_FIELD');
  return Buffer.from(clean, 'base64');
}
