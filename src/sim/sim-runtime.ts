import type {
  ByteStream,
  HttpClient,
  HttpRequestOptions,
  HttpResponse,
  Runtime,
  TcpFactory,
  UdpFactory,
  UdpSocket,
} from '../runtime/runtime.js';
import { SimIoError } from './errors.js';
import type { SimHost } from './host.js';
import { MemFs, type PageStore } from './memfs.js';
import type { Network } from './network.js';
import { SIM_EPOCH_MS } from './simulator.js';

/**
 * The {@link Runtime} of one simulated host: the simulator's virtual clock and timers (owned by
 * the host, so they stop when it leaves), the simulation's one seeded generator, UDP and TCP
 * over the network model, an in-memory file system, HTTP over simulated TCP, and an egress
 * policy that allows everything (nothing inside the simulation is real).
 */
export function createSimRuntime(net: Network, host: SimHost, pages: PageStore): Runtime {
  const sim = net.sim;
  const wallTime = () => SIM_EPOCH_MS + sim.now;
  host.fs ??= new MemFs(pages, wallTime);
  const tcp = simTcp(net, host);
  return {
    clock: {
      now: () => sim.now,
      wallTime,
    },
    timers: {
      // Like Node, a delay below 1 ms is 1 ms (so a zero-delay loop still lets time pass).
      setTimeout: (callback, delayMs) => sim.after(Math.max(1, delayMs), callback, host),
      setInterval: (callback, periodMs) => sim.every(periodMs, callback, host),
    },
    random: sim.random,
    udp: simUdp(net, host),
    tcp,
    fs: host.fs,
    http: simHttp(tcp),
    egress: { assertAllowed: () => undefined },
  };
}

function simUdp(net: Network, host: SimHost): UdpFactory {
  return {
    async bind(options) {
      net.sim.activity++;
      const s = net.bindUdp(host, options.port ?? 0, options.host ?? '0.0.0.0');
      const socket: UdpSocket = {
        send: (data, port, ip) => net.sendUdp(s, data, port, ip),
        onMessage(handler) {
          s.handler = handler;
        },
        onError() {},
        address: () => ({ address: s.boundAddress, port: s.port }),
        addMembership() {
          throw new SimIoError('ENOSYS', 'multicast is not simulated');
        },
        async close() {
          s.closed = true;
          if (host.udp.get(s.port) === s) host.udp.delete(s.port);
        },
      };
      return socket;
    },
  };
}

function simTcp(net: Network, host: SimHost): TcpFactory {
  return {
    async listen(options, onConnection) {
      net.sim.activity++;
      const l = net.listenTcp(host, options.port ?? 0, onConnection);
      const address = options.host ?? '0.0.0.0';
      return {
        address: () => ({ address, port: l.port }),
        async close() {
          l.closed = true;
          if (host.listeners.get(l.port) === l) host.listeners.delete(l.port);
        },
      };
    },
    connect(ip, port, options) {
      return net.connectTcp(host, ip, port, options?.timeoutMs, options?.localPort);
    },
  };
}

/** HTTP/1.1 GET and POST over a simulated stream (`Connection: close`; body to the end or its length). */
function simHttp(tcp: TcpFactory): HttpClient {
  const request = async (
    method: 'GET' | 'POST',
    url: string,
    body: Uint8Array | undefined,
    options: HttpRequestOptions,
  ): Promise<HttpResponse> => {
    const u = new URL(url);
    if (u.protocol !== 'http:')
      throw new SimIoError('EPROTONOSUPPORT', `only http:// is simulated, not "${url}"`);
    const port = Number(u.port) || 80;
    const stream = await tcp.connect(u.hostname, port, { timeoutMs: options.timeoutMs });
    const head = [
      `${method} ${u.pathname}${u.search} HTTP/1.1`,
      `Host: ${u.host}`,
      'User-Agent: shoal/0.1.0 (simulated)',
      'Connection: close',
      ...(body === undefined ? [] : [`Content-Length: ${body.length}`]),
      ...Object.entries(options.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
      '',
      '',
    ].join('\r\n');
    stream.write(Buffer.from(head, 'latin1'));
    if (body !== undefined) stream.write(body);
    const response = await readResponse(stream, options.maxBytes, url);
    return { ...response, localAddress: stream.localAddress };
  };
  return {
    get: (url, options) => request('GET', url, undefined, options),
    post: (url, body, options) => request('POST', url, body, options),
  };
}

function readResponse(stream: ByteStream, maxBytes: number, url: string): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      stream.destroy();
      reject(error);
    };
    /** Resolves once the response is complete: its length reached, or the stream closed. */
    const attempt = (closed: boolean) => {
      if (settled) return;
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) {
        if (closed) fail(new SimIoError('EPROTO', `no HTTP response from ${url}`));
        return;
      }
      const lines = all.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
      const lengthLine = lines.find((l) => /^content-length:/i.test(l));
      const length = lengthLine === undefined ? undefined : Number(lengthLine.split(':')[1]);
      const body = all.subarray(end + 4);
      if (length === undefined ? !closed : body.length < length) {
        if (closed) fail(new SimIoError('ECONNRESET', `${url} closed mid-response`));
        return;
      }
      settled = true;
      stream.destroy();
      resolve({ status, body: length === undefined ? body : body.subarray(0, length) });
    };
    stream.onData((d) => {
      chunks.push(Buffer.from(d)); // lent for the call only (ByteStream.onData)
      size += d.length;
      if (size > maxBytes + 64 * 1024)
        fail(new SimIoError('EMSGSIZE', `reply from ${url} exceeds ${maxBytes} bytes`));
      else attempt(false);
    });
    stream.onClose(() => attempt(true));
  });
}
