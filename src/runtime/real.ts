import { randomBytes, randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, createServer, isIP, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { EgressPolicy } from './egress.js';
import { IoError } from './errors.js';
import { realFs } from './real-fs.js';
import type {
  ByteStream,
  HttpClient,
  HttpRequestOptions,
  HttpResponse,
  Runtime,
  TcpFactory,
  UdpFactory,
  UdpRemote,
  UdpSocket,
} from './runtime.js';

export { IoError } from './errors.js';
export { createRealFs, realFs } from './real-fs.js';

/** The production runtime: real clock, OS randomness, real sockets and disk, and egress checks. */
export function createRealRuntime(egress: EgressPolicy = EgressPolicy.fromEnv()): Runtime {
  return {
    clock: { now: () => performance.now(), wallTime: () => Date.now() },
    timers: {
      setTimeout(callback, delayMs) {
        const t = setTimeout(callback, delayMs);
        return { cancel: () => clearTimeout(t) };
      },
      setInterval(callback, periodMs) {
        const t = setInterval(callback, periodMs);
        return { cancel: () => clearInterval(t) };
      },
    },
    random: {
      bytes: (length) => randomBytes(length),
      float: () => randomBytes(6).readUIntBE(0, 6) / 2 ** 48,
      int: (maxExclusive) => randomInt(maxExclusive),
    },
    udp: realUdp(egress),
    tcp: realTcp(egress),
    fs: realFs,
    http: realHttp(egress),
    egress,
  };
}

function realHttp(egress: EgressPolicy): HttpClient {
  return {
    get: (url, options) => realRequest(egress, 'GET', url, undefined, options),
    post: (url, body, options) => realRequest(egress, 'POST', url, body, options),
  };
}

function realRequest(
  egress: EgressPolicy,
  method: 'GET' | 'POST',
  url: string,
  body: Uint8Array | undefined,
  options: HttpRequestOptions,
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      reject(new IoError(`bad URL "${url}"`));
      return;
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      reject(new IoError(`unsupported URL scheme in "${url}"`));
      return;
    }
    const port = Number(parsed.port) || (parsed.protocol === 'https:' ? 443 : 80);
    egress.assertAllowed(parsed.hostname, port, 'HTTP request');
    const send = parsed.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(
      parsed,
      {
        method,
        headers: {
          'user-agent': 'shoal/0.1.0',
          ...options.headers,
          ...(body !== undefined && { 'content-length': String(body.length) }),
        },
        ...(isSpecific(options.localAddress) && { localAddress: options.localAddress }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const localAddress = res.socket?.localAddress;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > options.maxBytes) {
            req.destroy(new IoError(`reply from ${parsed.host} exceeds ${options.maxBytes} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks),
            ...(localAddress !== undefined && { localAddress }),
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(options.timeoutMs, () =>
      req.destroy(new IoError(`${parsed.host} did not answer in ${options.timeoutMs} ms`)),
    );
    req.on('error', (error) =>
      reject(error instanceof IoError ? error : new IoError(error.message, error)),
    );
    req.end(body);
  });
}

function realUdp(egress: EgressPolicy): UdpFactory {
  return {
    bind(options) {
      const socket = createSocket({
        type: options.family === 'IPv6' ? 'udp6' : 'udp4',
        reuseAddr: options.reuseAddr === true,
        lookup: literalFirstLookup,
        ...(options.recvBufferBytes === undefined
          ? {}
          : { recvBufferSize: options.recvBufferBytes }),
        ...(options.sendBufferBytes === undefined
          ? {}
          : { sendBufferSize: options.sendBufferBytes }),
      });
      return new Promise((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(options.port ?? 0, options.host, () => {
          socket.off('error', reject);
          // Datagrams sent while handling what one poll of the socket delivered go out together
          // afterwards: a burst wakes the receiving process once rather than once per reply,
          // which on a busy tracker or DHT node is most of the cost of sending.
          const outData: Uint8Array[] = [];
          const outPorts: number[] = [];
          const outHosts: string[] = [];
          const flush = () => {
            for (let i = 0; i < outData.length; i++)
              socket.send(outData[i]!, outPorts[i]!, outHosts[i]!);
            outData.length = 0;
            outPorts.length = 0;
            outHosts.length = 0;
          };
          const wrapped: UdpSocket = {
            send(data, port, host) {
              egress.assertAllowed(host, port, 'UDP send');
              outPorts.push(port);
              outHosts.push(host);
              if (outData.push(data) === 1) setImmediate(flush);
            },
            onMessage(handler) {
              // Node's rinfo already has the shape of a UdpRemote ('IPv4' | 'IPv6' since Node 18.4).
              socket.on('message', (msg, rinfo) => handler(msg, rinfo as UdpRemote));
            },
            onError(handler) {
              socket.on('error', handler);
            },
            address: () => socket.address(),
            addMembership(group, interfaceAddress) {
              socket.addMembership(group, interfaceAddress);
              socket.setMulticastTTL(2);
              if (interfaceAddress) socket.setMulticastInterface(interfaceAddress);
            },
            // What is still queued goes out first: a flush after close would throw.
            close: () =>
              new Promise((done) => {
                flush();
                socket.close(() => done());
              }),
          };
          resolve(wrapped);
        });
      });
    },
  };
}

/**
 * dgram resolves every destination before sending, and Node's resolver answers even an IP
 * literal on the next tick: a closure and a tick per datagram, a tenth of a busy tracker's
 * time. Literals are answered at once; names still go to the resolver.
 */
function literalFirstLookup(
  host: string,
  options: LookupOneOptions,
  callback: (error: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  const family = isIP(host);
  if (family !== 0) callback(null, host, family);
  else dnsLookup(host, options, callback);
}

/**
 * What dialled sockets read into. Node allocates (and the GC later frees) a fresh 64 KiB buffer
 * for every read of an ordinary socket; at hundreds of MB/s that churn, and the collections it
 * sets off, cost more than the reads. One buffer serves every dialled socket, since reads run one
 * at a time on this thread and `ByteStream.onData` lends its chunk only for the call. Larger than
 * Node's 64 KiB, so one read takes what a busy connection has queued.
 */
const READ_BUFFER_BYTES = 256 * 1024;
let sharedReadBuffer: Buffer | undefined;
const readBuffer = (): Buffer => {
  sharedReadBuffer ??= Buffer.allocUnsafe(READ_BUFFER_BYTES);
  return sharedReadBuffer;
};

/**
 * Wraps a socket. `reader` is set for sockets created with `onread` (see {@link readBuffer}): it
 * receives the reads that such a socket does not emit as 'data' events.
 */
function wrapSocket(socket: Socket, reader?: { deliver: (data: Buffer) => void }): ByteStream {
  let closed = false;
  let lastError: Error | undefined;
  let onData: (data: Buffer) => void = () => {};
  let onDrain: () => void = () => {};
  let onClose: (error?: Error) => void = () => {};
  if (reader) reader.deliver = (d) => onData(d);
  else socket.on('data', (d: Buffer) => onData(d));
  socket.on('drain', () => onDrain());
  socket.on('error', (error) => {
    lastError = error;
  });
  socket.on('close', () => {
    closed = true;
    onClose(lastError);
  });
  return {
    remoteAddress: socket.remoteAddress ?? '',
    remotePort: socket.remotePort ?? 0,
    localAddress: socket.localAddress ?? '',
    localPort: socket.localPort ?? 0,
    write: (data) => !closed && socket.write(data),
    writev(chunks, flushed) {
      if (closed) return false;
      socket.cork();
      let ok = true;
      const last = chunks.length - 1;
      // The corked writes leave together, so the last one's callback covers them all.
      const done =
        flushed &&
        ((error?: Error | null) => {
          if (!error) flushed();
        });
      for (let i = 0; i <= last; i++)
        ok = socket.write(chunks[i]!, i === last ? done : undefined) && ok;
      socket.uncork();
      return ok;
    },
    onData(handler) {
      onData = handler;
    },
    onDrain(handler) {
      onDrain = handler;
    },
    onClose(handler) {
      onClose = handler;
      if (closed) handler(lastError);
    },
    pause: () => void socket.pause(),
    resume: () => void socket.resume(),
    end: () => void socket.end(),
    destroy: (error) => void socket.destroy(error),
  };
}

function realTcp(egress: EgressPolicy): TcpFactory {
  return {
    listen(options, onConnection) {
      const server = createServer({ noDelay: true }, (socket) => onConnection(wrapSocket(socket)));
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port ?? 0, options.host, () => {
          server.off('error', reject);
          resolve({
            address: () => {
              const a = server.address();
              if (a === null || typeof a === 'string') return { address: '', port: 0 };
              return { address: a.address, port: a.port };
            },
            close: () => new Promise((done) => server.close(() => done())),
          });
        });
      });
    },
    connect(host, port, options) {
      return new Promise((resolve, reject) => {
        egress.assertAllowed(host, port, 'TCP connect'); // a throw here rejects the promise
        const local = options?.localAddress;
        const bindable =
          local !== undefined && local !== '0.0.0.0' && local !== '::' && local !== '';
        const reader = { deliver: (_data: Buffer): void => {} };
        const shared = readBuffer();
        const socket = connect({
          host,
          port,
          noDelay: true,
          ...(bindable && { localAddress: local }),
          ...(options?.localPort !== undefined && { localPort: options.localPort }),
          onread: {
            buffer: shared,
            callback: (n) => {
              reader.deliver(shared.subarray(0, n));
              return true;
            },
          },
        });
        const timer =
          options?.timeoutMs === undefined
            ? undefined
            : setTimeout(() => {
                socket.destroy();
                reject(new IoError(`connect to ${host}:${port} timed out`));
              }, options.timeoutMs);
        socket.once('error', (error) => {
          clearTimeout(timer);
          reject(new IoError(`connect to ${host}:${port} failed: ${error.message}`, error));
        });
        socket.once('connect', () => {
          clearTimeout(timer);
          socket.removeAllListeners('error');
          resolve(wrapSocket(socket, reader));
        });
      });
    },
  };
}

/** True for a concrete address to bind to (not undefined, empty, 0.0.0.0 or ::). */
function isSpecific(address: string | undefined): address is string {
  return address !== undefined && address !== '' && address !== '0.0.0.0' && address !== '::';
}
