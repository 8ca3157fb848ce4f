import { ShoalError } from '../errors.js';

/** One parsed HTTP request line and the headers shoal cares about. */
export interface HttpRequest {
  readonly method: string;
  /** Path without the query. */
  readonly path: string;
  /** Raw query string (after `?`), still percent-encoded. */
  readonly query: string;
  readonly keepAlive: boolean;
}

/** An HTTP request could not be parsed or broke a limit. */
export class HttpRequestError extends ShoalError {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super('HTTP_REQUEST', message);
  }
}

/** Longest request head accepted (request line and headers, without the blank line). */
export const MAX_HEAD_BYTES = 8 * 1024;
const END_OF_HEAD = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);

/** What one {@link HttpRequestReader.push} found: the requests completed, then any error. */
export interface HttpReadResult {
  readonly requests: HttpRequest[];
  /** Set once the stream broke the protocol or a limit; the reader accepts nothing after. */
  readonly error?: HttpRequestError;
}

/**
 * Reads HTTP/1.x requests from a byte stream, as a tracker needs them: GET only, no bodies,
 * the head limited to 8 KiB, pipelined requests returned in order. The outcome does not depend
 * on how the stream is cut into chunks: the same requests and the same error come out of any
 * split. A whole request in one chunk is parsed in place; only an unfinished head is copied,
 * into a buffer that grows by doubling (so trickled bytes cost no quadratic copying) and is let
 * go once the head is complete.
 */
export class HttpRequestReader {
  private stash: Buffer = EMPTY;
  private used = 0;
  private failure: HttpRequestError | undefined;

  /** True while part of a request head is buffered (a request has begun but not ended). */
  get pending(): boolean {
    return this.used > 0;
  }

  /** Adds bytes; returns every request they complete, and the error that ends the stream. */
  push(chunk: Buffer): HttpReadResult {
    const requests: HttpRequest[] = [];
    if (this.failure) return { requests, error: this.failure };
    if (chunk.length === 0) return { requests };
    // Bytes before `scanFrom` were searched for the end of a head before, in vain.
    const scanFrom = Math.max(0, this.used - (END_OF_HEAD.length - 1));
    const data = this.used === 0 ? chunk : this.append(chunk);
    let start = 0;
    for (;;) {
      const end = data.indexOf(END_OF_HEAD, Math.max(start, scanFrom));
      if (end < 0) break;
      if (end - start > MAX_HEAD_BYTES) return this.fail(requests, tooLarge());
      try {
        requests.push(parseHead(data.toString('latin1', start, end)));
      } catch (error) {
        if (!(error instanceof HttpRequestError)) throw error;
        return this.fail(requests, error);
      }
      start = end + END_OF_HEAD.length;
    }
    const rest = data.length - start;
    // Even if the last bytes begin the blank line, the head would end past the limit.
    if (rest - (END_OF_HEAD.length - 1) > MAX_HEAD_BYTES) return this.fail(requests, tooLarge());
    this.keep(data, start);
    return { requests };
  }

  private fail(requests: HttpRequest[], error: HttpRequestError): HttpReadResult {
    this.failure = error;
    this.stash = EMPTY;
    this.used = 0;
    return { requests, error };
  }

  /** Appends `chunk` to the stash (the chunk is lent: it is copied) and returns the bytes held. */
  private append(chunk: Buffer): Buffer {
    const needed = this.used + chunk.length;
    if (needed > this.stash.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, this.stash.length * 2));
      this.stash.copy(grown, 0, 0, this.used);
      this.stash = grown;
    }
    chunk.copy(this.stash, this.used);
    this.used = needed;
    return this.stash.subarray(0, needed);
  }

  /** Keeps `data[from..]`, the start of an unfinished head, in the stash. */
  private keep(data: Buffer, from: number): void {
    const rest = data.length - from;
    if (rest === 0) {
      this.stash = EMPTY;
      this.used = 0;
      return;
    }
    if (data.buffer === this.stash.buffer && data.byteOffset === this.stash.byteOffset) {
      this.stash.copyWithin(0, from, data.length);
    } else {
      this.stash = Buffer.allocUnsafe(Math.max(256, rest));
      data.copy(this.stash, 0, from);
    }
    this.used = rest;
  }
}

function tooLarge(): HttpRequestError {
  return new HttpRequestError('request head too large', 431);
}

function parseHead(head: string): HttpRequest {
  const [line = '', ...headerLines] = head.split('\r\n');
  const m = /^([A-Z]{1,10}) (\S{1,8000}) HTTP\/1\.([01])$/.exec(line);
  if (!m) throw new HttpRequestError('malformed request line', 400);
  const [, method, target, minor] = m;
  if (method !== 'GET') throw new HttpRequestError(`method ${method} not allowed`, 405);
  let connection = '';
  for (const h of headerLines) {
    const colon = h.indexOf(':');
    if (colon <= 0) throw new HttpRequestError('malformed header', 400);
    const name = h.slice(0, colon).trim().toLowerCase();
    if (name === 'content-length' && h.slice(colon + 1).trim() !== '0') {
      throw new HttpRequestError('request bodies are not accepted', 400);
    }
    if (name === 'transfer-encoding')
      throw new HttpRequestError('request bodies are not accepted', 400);
    if (name === 'connection')
      connection = h
        .slice(colon + 1)
        .trim()
        .toLowerCase();
  }
  const q = target!.indexOf('?');
  return {
    method: method!,
    path: q < 0 ? target! : target!.slice(0, q),
    query: q < 0 ? '' : target!.slice(q + 1),
    keepAlive: minor === '1' ? connection !== 'close' : connection === 'keep-alive',
  };
}

/** Formats a complete HTTP/1.1 response. */
export function httpResponse(
  status: number,
  body: Uint8Array,
  contentType: string,
  keepAlive: boolean,
): Buffer {
  const reason: Record<number, string> = {
    200: 'OK',
    400: 'Bad Request',
    404: 'Not Found',
    405: 'Method Not Allowed',
    429: 'Too Many Requests',
    431: 'Request Header Fields Too Large',
  };
  const head =
    `HTTP/1.1 ${status} ${reason[status] ?? 'Error'}\r\n` +
    `Content-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n` +
    `Connection: ${keepAlive ? 'keep-alive' : 'close'}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}
