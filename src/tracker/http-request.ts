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

const MAX_HEAD_BYTES = 8 * 1024;

/**
 * Reads HTTP/1.x requests from a byte stream, as a tracker needs them: GET only, no bodies,
 * the head limited to 8 KiB, pipelined requests returned in order.
 */
export class HttpRequestReader {
  private buffer: Buffer = Buffer.alloc(0);

  /** Adds bytes and returns every complete request. @throws {HttpRequestError} */
  push(chunk: Buffer): HttpRequest[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const out: HttpRequest[] = [];
    for (;;) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.buffer.length > MAX_HEAD_BYTES)
          throw new HttpRequestError('request head too large', 431);
        // Keep a copy of an unfinished head: the chunk may be lent (see ByteStream.onData).
        if (this.buffer.length > 0) this.buffer = Buffer.from(this.buffer);
        return out;
      }
      if (end > MAX_HEAD_BYTES) throw new HttpRequestError('request head too large', 431);
      const head = this.buffer.subarray(0, end).toString('latin1');
      this.buffer = this.buffer.subarray(end + 4);
      out.push(parseHead(head));
    }
  }
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
