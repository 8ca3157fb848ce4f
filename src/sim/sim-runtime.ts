import type {
  ByteStream,
  Clock,
  EgressCheck,
  HttpClient,
  HttpRequestOptions,
  HttpResponse,
  Runtime,
  TcpFactory,
  TcpServer,
  TimerHandle,
  Timers,
  UdpFactory,
  UdpRemote,
  UdpSocket,
} from '../runtime/runtime.js';
import { SimIoError } from './errors.js';
import type { SimHost, SimUdpSocket } from './host.js';
import { MemFs, type PageStore } from './memfs.js';
import type { Network } from './network.js';
import { SIM_EPOCH_MS, type Simulator } from './simulator.js';

/** What every host of one simulation shares: its clock and a policy that allows everything. */
interface Shared {
  readonly clock: Clock;
  readonly wallTime: () => number;
  readonly egress: EgressCheck;
}

const sharedBySimulation = new WeakMap<Network, Shared>();

/**
 * The {@link Runtime} of one simulated host: the simulator's virtual clock and timers (owned by
 * the host, so they stop when it leaves), the simulation's one seeded generator, UDP and TCP
 * over the network model, an in-memory file system, HTTP over simulated TCP, and an egress
 * policy that allows everything (nothing inside the simulation is real). Its parts are small
 * objects with methods rather than closures: a simulation makes one per host, 100,000 of them.
 */
export function createSimRuntime(net: Network, host: SimHost, pages: PageStore): Runtime {
  let shared = sharedBySimulation.get(net);
  if (!shared) {
    const clock = new SimClock(net.sim);
    shared = {
      clock,
      wallTime: () => clock.wallTime(),
      egress: { assertAllowed: () => undefined },
    };
    sharedBySimulation.set(net, shared);
  }
  host.fs ??= new MemFs(pages, shared.wallTime);
  const tcp = new SimTcp(net, host);
  return {
    clock: shared.clock,
    timers: new SimTimers(net.sim, host),
    random: net.sim.random,
    udp: new SimUdp(net, host),
    tcp,
    fs: host.fs,
    http: new SimHttp(tcp),
    egress: shared.egress,
  };
}

/** The simulator's virtual clock; wall time starts at {@link SIM_EPOCH_MS}. */
class SimClock implements Clock {
  constructor(private readonly sim: Simulator) {}

  now(): number {
    return this.sim.now;
  }

  wallTime(): number {
    return SIM_EPOCH_MS + this.sim.now;
  }
}

/** Timers owned by the host, so they stop when it leaves. */
class SimTimers implements Timers {
  constructor(
    private readonly sim: Simulator,
    private readonly host: SimHost,
  ) {}

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    // Like Node, a delay below 1 ms is 1 ms (so a zero-delay loop still lets time pass).
    return this.sim.after(Math.max(1, delayMs), callback, this.host);
  }

  setInterval(callback: () => void, periodMs: number): TimerHandle {
    return this.sim.every(periodMs, callback, this.host);
  }
}

/** UDP sockets bound on the host through the network model. */
class SimUdp implements UdpFactory {
  constructor(
    private readonly net: Network,
    private readonly host: SimHost,
  ) {}

  async bind(options: { port?: number; host?: string }): Promise<UdpSocket> {
    this.net.sim.activity++;
    const s = this.net.bindUdp(this.host, options.port ?? 0, options.host ?? '0.0.0.0');
    return new SimUdpHandle(this.net, this.host, s);
  }
}

/** A bound simulated UDP socket as the {@link Runtime} hands it out. */
class SimUdpHandle implements UdpSocket {
  constructor(
    private readonly net: Network,
    private readonly host: SimHost,
    private readonly s: SimUdpSocket,
  ) {}

  send(data: Uint8Array, port: number, ip: string): void {
    this.net.sendUdp(this.s, data, port, ip);
  }

  onMessage(handler: (data: Buffer, from: UdpRemote) => void): void {
    this.s.handler = handler;
  }

  onError(): void {}

  address(): { address: string; port: number } {
    return { address: this.s.boundAddress, port: this.s.port };
  }

  addMembership(): void {
    throw new SimIoError('ENOSYS', 'multicast is not simulated');
  }

  async close(): Promise<void> {
    this.s.closed = true;
    if (this.host.udp.get(this.s.port) === this.s) this.host.udp.delete(this.s.port);
  }
}

/** TCP listeners and connections of the host through the network model. */
class SimTcp implements TcpFactory {
  constructor(
    private readonly net: Network,
    private readonly host: SimHost,
  ) {}

  async listen(
    options: { port?: number; host?: string },
    onConnection: (stream: ByteStream) => void,
  ): Promise<TcpServer> {
    this.net.sim.activity++;
    const host = this.host;
    const l = this.net.listenTcp(host, options.port ?? 0, onConnection);
    const address = options.host ?? '0.0.0.0';
    return {
      address: () => ({ address, port: l.port }),
      async close() {
        l.closed = true;
        if (host.listeners.get(l.port) === l) host.listeners.delete(l.port);
      },
    };
  }

  connect(
    ip: string,
    port: number,
    options?: { timeoutMs?: number; localPort?: number },
  ): Promise<ByteStream> {
    return this.net.connectTcp(this.host, ip, port, options?.timeoutMs, options?.localPort);
  }
}

/** HTTP/1.1 GET and POST over a simulated stream (`Connection: close`; body to the end or its length). */
class SimHttp implements HttpClient {
  constructor(private readonly tcp: TcpFactory) {}

  get(url: string, options: HttpRequestOptions): Promise<HttpResponse> {
    return this.request('GET', url, undefined, options);
  }

  post(url: string, body: Uint8Array, options: HttpRequestOptions): Promise<HttpResponse> {
    return this.request('POST', url, body, options);
  }

  private async request(
    method: 'GET' | 'POST',
    url: string,
    body: Uint8Array | undefined,
    options: HttpRequestOptions,
  ): Promise<HttpResponse> {
    const u = new URL(url);
    if (u.protocol !== 'http:')
      throw new SimIoError('EPROTONOSUPPORT', `only http:// is simulated, not "${url}"`);
    const port = Number(u.port) || 80;
    const stream = await this.tcp.connect(u.hostname, port, { timeoutMs: options.timeoutMs });
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
  }
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
