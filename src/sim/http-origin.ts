import { parseRange } from '../node/http-range.js';
import type { ByteStream, Runtime, TcpServer } from '../runtime/runtime.js';

/** Longest request head the origin reads. */
const MAX_HEAD_BYTES = 8 * 1024;

/** A running {@link startHttpOrigin}. */
export interface HttpOrigin {
  /** Body bytes sent so far. */
  readonly bytesServed: number;
  readonly requests: number;
  close(): Promise<void>;
}

/**
 * A static file server for simulations: answers `GET /<name>` (one request per connection)
 * from the host's file system, with one `Range` (206) or the whole file, so a simulated
 * viewer's web seed has an origin to fetch from. Counts what it serves.
 */
export async function startHttpOrigin(
  runtime: Runtime,
  options: { readonly port: number; readonly files: ReadonlyMap<string, string> },
): Promise<HttpOrigin> {
  let bytesServed = 0;
  let requests = 0;
  const serve = async (stream: ByteStream, head: string): Promise<void> => {
    const [requestLine = '', ...lines] = head.split('\r\n');
    const [method, target = '/'] = requestLine.split(' ');
    const path = options.files.get(decodeURIComponent(target.split('?')[0]!));
    const reply = (status: string, headers: Record<string, string>, body?: Uint8Array) => {
      const text = Object.entries({ ...headers, 'content-length': String(body?.length ?? 0) })
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      stream.write(Buffer.from(`HTTP/1.1 ${status}\r\n${text}connection: close\r\n\r\n`, 'latin1'));
      if (body) stream.write(body);
      stream.end();
    };
    if (method !== 'GET' || path === undefined) return reply('404 Not Found', {});
    requests++;
    const size = (await runtime.fs.stat(path)).size;
    const rangeLine = lines.find((l) => /^range:/i.test(l));
    const range = parseRange(rangeLine?.slice(rangeLine.indexOf(':') + 1), size);
    if (range === 'unsatisfiable')
      return reply('416 Range Not Satisfiable', { 'content-range': `bytes */${size}` });
    const start = range?.start ?? 0;
    const end = range?.end ?? size - 1;
    const body = Buffer.alloc(end - start + 1);
    const file = await runtime.fs.open(path, 'r');
    try {
      await file.read(body, 0, body.length, start);
    } finally {
      await file.close();
    }
    bytesServed += body.length;
    reply(
      range ? '206 Partial Content' : '200 OK',
      range ? { 'content-range': `bytes ${start}-${end}/${size}` } : {},
      body,
    );
  };
  const server: TcpServer = await runtime.tcp.listen({ port: options.port }, (stream) => {
    let buffered = Buffer.alloc(0);
    let answered = false;
    stream.onData((data) => {
      if (answered) return;
      buffered = Buffer.concat([buffered, data]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buffered.length > MAX_HEAD_BYTES) stream.destroy();
        return;
      }
      answered = true;
      void serve(stream, buffered.subarray(0, end).toString('latin1')).catch(() =>
        stream.destroy(),
      );
    });
    stream.onClose(() => undefined);
  });
  return {
    get bytesServed() {
      return bytesServed;
    },
    get requests() {
      return requests;
    },
    close: () => server.close(),
  };
}
