import {
  createServer,
  type IncomingMessage,
  request as nodeRequest,
  type ServerResponse,
} from 'node:http';
import { ShoalError } from '../errors.js';
import type { EgressCheck } from './runtime.js';

/**
 * A small HTTP server and client over `node:http`, the only place besides the rest of
 * `src/runtime/` that touches it. The daemon's API (`src/api/`) sees requests and responses
 * through the narrow interfaces below, so its routing and logic are tested without sockets.
 */

/** An incoming request, with headers lower-cased and repeated ones joined by ", ". */
export interface HttpServerRequest {
  readonly method: string;
  /** The request target as sent (path and query). */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The peer's IP address. */
  readonly remoteAddress: string;
  /** Reads the whole body; fails with {@link HttpBodyTooLargeError} past `maxBytes`. */
  body(maxBytes: number): Promise<Buffer>;
}

/** A response body sent in pieces (Server-Sent Events, media streams). */
export interface HttpStreamSink {
  /** Queues text or bytes; false when the client is slow and the caller should wait for drain. */
  write(chunk: string | Uint8Array): boolean;
  /** Bytes queued and not yet taken by the client's socket. */
  buffered(): number;
  /** Called once when the client goes away or the stream ends. */
  onClose(handler: () => void): void;
  /** Called once when what was queued has gone to the socket (after a `write` returned false). */
  onDrain(handler: () => void): void;
  end(): void;
  /** Ends the connection at once (the body cannot be finished). */
  destroy(): void;
}

/** The reply to one request: either one whole response, or a stream. */
export interface HttpServerResponse {
  send(status: number, headers: Readonly<Record<string, string>>, body: Uint8Array | string): void;
  stream(status: number, headers: Readonly<Record<string, string>>): HttpStreamSink;
  /** True once `send` or `stream` was called. */
  readonly started: boolean;
}

/** Handles one request; a rejection becomes a 500 with a JSON body. */
export type HttpHandler = (req: HttpServerRequest, res: HttpServerResponse) => void | Promise<void>;

/** A listening HTTP server. */
export interface HttpServerHandle {
  address(): { address: string; port: number };
  /** Stops listening and closes every connection, streams included. */
  close(): Promise<void>;
}

/** A request body was larger than the handler accepts. */
export class HttpBodyTooLargeError extends ShoalError {
  constructor(maxBytes: number) {
    super('BODY_TOO_LARGE', `the request body is larger than ${maxBytes} bytes`);
  }
}

/** Limits that keep one client from holding the server's memory or sockets. */
const MAX_HEADER_BYTES = 16 * 1024;
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 60_000;
const MAX_CONNECTIONS = 256;

/** Listens for HTTP requests on `host:port` (port 0 picks a free one). */
export function listenHttp(
  options: { readonly host: string; readonly port: number },
  handler: HttpHandler,
): Promise<HttpServerHandle> {
  const server = createServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      keepAliveTimeout: 5000,
    },
    (req, res) => {
      const request = wrapRequest(req);
      const response = wrapResponse(res);
      Promise.resolve()
        .then(() => handler(request, response))
        .catch((error: unknown) => {
          if (!response.started) {
            response.send(
              500,
              { 'content-type': 'application/json' },
              JSON.stringify({
                error: { code: 'INTERNAL', message: (error as Error)?.message ?? 'internal error' },
              }),
            );
          } else if (!res.writableEnded) {
            res.destroy();
          }
        });
    },
  );
  server.maxConnections = MAX_CONNECTIONS;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve({
        address() {
          const a = server.address();
          return typeof a === 'object' && a
            ? { address: a.address, port: a.port }
            : { address: options.host, port: 0 };
        },
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

function wrapRequest(req: IncomingMessage): HttpServerRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  let read: Promise<Buffer> | undefined;
  return {
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    headers,
    remoteAddress: req.socket.remoteAddress ?? '',
    body(maxBytes) {
      read ??= new Promise<Buffer>((resolve, reject) => {
        const declared = Number(headers['content-length'] ?? '0');
        if (declared > maxBytes) {
          req.resume();
          reject(new HttpBodyTooLargeError(maxBytes));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        req.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            req.removeAllListeners('data');
            req.resume();
            reject(new HttpBodyTooLargeError(maxBytes));
            return;
          }
          chunks.push(chunk);
        });
        req.on('end', () => resolve(Buffer.concat(chunks)));
        req.on('error', reject);
      });
      return read;
    },
  };
}

function wrapResponse(res: ServerResponse): HttpServerResponse {
  let started = false;
  return {
    get started() {
      return started;
    },
    send(status, headers, body) {
      if (started) return;
      started = true;
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      res.writeHead(status, { ...headers, 'content-length': String(bytes.length) });
      res.end(bytes);
    },
    stream(status, headers) {
      started = true;
      res.writeHead(status, headers);
      res.flushHeaders();
      res.socket?.setNoDelay(true);
      return {
        write: (chunk) => (res.writableEnded ? false : res.write(chunk)),
        buffered: () => res.writableLength,
        onClose: (handler) => res.once('close', handler),
        onDrain: (handler) => res.once('drain', handler),
        end: () => res.end(),
        destroy: () => res.destroy(),
      };
    },
  };
}

/** What {@link httpCall} returns. */
export interface HttpCallResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** A request {@link httpCall} sends. */
export interface HttpCallOptions {
  readonly method: string;
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array | string;
  readonly timeoutMs: number;
  readonly maxBytes: number;
}

/** A call to an HTTP server failed before an answer came (refused, timed out, too large). */
export class HttpCallError extends ShoalError {
  constructor(message: string, cause?: unknown) {
    super('HTTP_CALL_FAILED', message, { cause });
  }
}

/**
 * One plain-HTTP request with any method and body (the runtime's `http.get` covers tracker
 * announces; this is for talking to a running daemon). The egress policy is checked first.
 */
export function httpCall(egress: EgressCheck, options: HttpCallOptions): Promise<HttpCallResponse> {
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(options.url);
    } catch {
      reject(new HttpCallError(`"${options.url}" is not a URL`));
      return;
    }
    if (target.protocol !== 'http:') {
      reject(new HttpCallError(`only http:// URLs are supported, not "${options.url}"`));
      return;
    }
    const port = Number(target.port) || 80;
    try {
      egress.assertAllowed(target.hostname.replace(/^\[|\]$/g, ''), port, 'HTTP call');
    } catch (error) {
      reject(error);
      return;
    }
    const body =
      options.body === undefined
        ? undefined
        : typeof options.body === 'string'
          ? Buffer.from(options.body)
          : options.body;
    const req = nodeRequest(
      target,
      {
        method: options.method,
        headers: {
          ...options.headers,
          ...(body !== undefined && { 'content-length': String(body.length) }),
        },
        timeout: options.timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > options.maxBytes) {
            req.destroy(new HttpCallError(`the answer is larger than ${options.maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) {
            if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
          }
          resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks) });
        });
        res.on('error', (e) => reject(new HttpCallError(e.message, e)));
      },
    );
    req.on('timeout', () =>
      req.destroy(new HttpCallError(`no answer from ${target.host} in ${options.timeoutMs} ms`)),
    );
    req.on('error', (e) =>
      reject(
        e instanceof ShoalError
          ? e
          : new HttpCallError(`cannot reach ${target.host}: ${e.message}`),
      ),
    );
    req.end(body);
  });
}
