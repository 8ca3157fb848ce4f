import type { ByteStream } from '../runtime/runtime.js';
import { SimIoError } from './errors.js';
import { type Listener, type PendingConnect, SimHost, SimUdpSocket } from './host.js';
import { DEFAULT_LATENCY, LatencyModel, type LatencyOptions } from './latency.js';
import type { NatType, PortAllocation } from './nat.js';
import { SimStream } from './sim-stream.js';
import { EventKind, type Simulator } from './simulator.js';
import type { UdpFaults } from './udp-faults.js';

/** Settings of the network model, with defaults in {@link DEFAULT_NETWORK}. */
export interface NetworkOptions {
  readonly latency: Partial<LatencyOptions>;
  /** Probability that a datagram is lost. TCP is reliable in the model (see ARCHITECTURE). */
  readonly udpLoss: number;
  /** Default access-link capacities, bytes per second. */
  readonly upBytesPerSecond: number;
  readonly downBytesPerSecond: number;
  /** TCP receive window: a flow may have this many bytes sent but not yet read. */
  readonly tcpWindowBytes: number;
  /** A stream's `write` returns false once this many bytes wait to be sent. */
  readonly tcpHighWaterBytes: number;
  /** How long an unanswered connect waits when the caller gives no timeout. */
  readonly connectTimeoutMs: number;
}

/** Defaults: a 20/100 Mbit/s line, 0.5 % datagram loss, realistic latency. */
export const DEFAULT_NETWORK: NetworkOptions = {
  latency: DEFAULT_LATENCY,
  udpLoss: 0.005,
  upBytesPerSecond: 2_500_000,
  downBytesPerSecond: 12_500_000,
  tcpWindowBytes: 1 << 20,
  tcpHighWaterBytes: 128 * 1024,
  connectTimeoutMs: 20_000,
};

/** How to create one simulated host. */
export interface HostOptions {
  readonly upBytesPerSecond?: number;
  readonly downBytesPerSecond?: number;
  /** Behind a home router of this type; the host then has a private address. */
  readonly nat?: NatType;
  /** How that router picks new external ports (default `sequential`). */
  readonly natPorts?: PortAllocation;
  /** Index into `REGIONS`; random by weight when absent. */
  readonly region?: number;
}

/** IP + UDP header bytes counted against link capacity per datagram. */
const UDP_OVERHEAD = 28;
/** TCP/IP header overhead as a share of payload (40 bytes per 1460). */
const TCP_OVERHEAD = 1.0274;
/** How long a flow blocked by a partition waits before trying again (a retransmission). */
const PARTITION_RETRY_MS = 1000;
/** Datagram copies are carved from slabs this big (cheaper than one allocation each). */
const SLAB_BYTES = 256 * 1024;

let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let slabUsed = 0;

/**
 * A private copy of a datagram: the sender may reuse its buffer while the copy is still
 * travelling for many virtual milliseconds, which on a real socket would be microseconds.
 */
function copyDatagram(data: Uint8Array): Buffer {
  const n = data.length;
  if (n > SLAB_BYTES / 4) return Buffer.from(data);
  if (slabUsed + n > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    slabUsed = 0;
  }
  slab.set(data, slabUsed);
  const out = slab.subarray(slabUsed, slabUsed + n);
  slabUsed += (n + 7) & ~7;
  return out;
}

/**
 * The simulated Internet: hosts with addresses, access links, NATs and locations; datagrams
 * and byte streams between them with latency, jitter, loss, capacity sharing, backpressure and
 * partitions. Every delivery is an event in the simulator; nothing real is touched.
 */
export class Network {
  readonly options: NetworkOptions;
  readonly latency: LatencyModel;
  readonly hosts: SimHost[] = [];
  private readonly byIp = new Map<string, SimHost>();
  private partitionOf: ((host: SimHost) => number) | undefined;
  /** Reordering and duplication of datagrams, when a test sets it (none by default). */
  udpFaults: UdpFaults | undefined;
  /** Datagrams sent, delivered and dropped (by cause). */
  readonly counters = {
    udpSent: 0,
    udpDelivered: 0,
    udpLost: 0,
    udpUnreachable: 0,
    udpFiltered: 0,
    tcpConnects: 0,
    tcpRefused: 0,
    tcpSegments: 0,
  };

  constructor(
    readonly sim: Simulator,
    options: Partial<NetworkOptions> = {},
  ) {
    this.options = { ...DEFAULT_NETWORK, ...options };
    this.latency = new LatencyModel(sim.seed ^ 0x5eed, this.options.latency);
  }

  /** Adds a host with a fresh public address (and a NAT with a private one, if asked). */
  addHost(options: HostOptions = {}): SimHost {
    const index = this.hosts.length;
    const publicIp = this.freshPublicIp();
    const privateIp =
      options.nat === undefined
        ? undefined
        : `10.${(index >> 16) & 255}.${(index >> 8) & 255}.${(index & 255) | 1}`;
    const location = this.latency.place(this.sim.random, index, options.region);
    const host = new SimHost(
      index,
      publicIp,
      privateIp,
      options.nat === undefined
        ? undefined
        : { type: options.nat, ports: options.natPorts ?? 'sequential', random: this.sim.random },
      location,
      (options.upBytesPerSecond ?? this.options.upBytesPerSecond) / 1000,
      (options.downBytesPerSecond ?? this.options.downBytesPerSecond) / 1000,
      this.sim.now,
    );
    this.hosts.push(host);
    this.byIp.set(publicIp, host);
    return host;
  }

  /** The host at a public address. */
  hostAt(ip: string): SimHost | undefined {
    return this.byIp.get(ip);
  }

  /**
   * Takes a host off the network at once, as a crash or a pulled cable would: its events stop,
   * its sockets vanish, and its peers notice only through their own timeouts.
   */
  kill(host: SimHost): void {
    if (!host.alive) return;
    host.alive = false;
    for (const s of host.streams) s.closed = true;
    host.streams.clear();
    host.udp.clear();
    host.listeners.clear();
    this.byIp.delete(host.publicIp);
  }

  /**
   * Splits the network: datagrams between hosts in different groups are lost and streams
   * between them stall until {@link heal}. `groupOf` names each host's group.
   */
  partition(groupOf: (host: SimHost) => number): void {
    this.partitionOf = groupOf;
  }

  /** Ends a partition; stalled streams resume. */
  heal(): void {
    this.partitionOf = undefined;
  }

  /** One-way delay between two hosts, without jitter. */
  oneWayMs(a: SimHost, b: SimHost): number {
    return this.latency.oneWay(a.index, b.index);
  }

  /** Median round-trip time over random pairs of the hosts present (a property of the model). */
  medianRttMs(samples = 20_000): number {
    const live = this.hosts.filter((h) => h.alive);
    if (live.length < 2) return 0;
    const rtts: number[] = [];
    // A private generator: sampling the model must not perturb the simulation's stream.
    let state = 0x9e3779b9 ^ this.sim.seed;
    const next = () => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return state;
    };
    for (let i = 0; i < samples; i++) {
      const a = live[next() % live.length]!;
      const b = live[next() % live.length]!;
      if (a !== b) rtts.push(2 * this.oneWayMs(a, b));
    }
    rtts.sort((x, y) => x - y);
    return rtts[Math.floor(rtts.length / 2)] ?? 0;
  }

  // ------------------------------------------------------------------ UDP

  /** Binds a UDP socket on `host`. */
  bindUdp(host: SimHost, port: number, address: string): SimUdpSocket {
    const p = port === 0 ? host.ephemeralPort() : port;
    if (host.udp.has(p)) throw new SimIoError('EADDRINUSE', `bind UDP port ${p} on ${host.ip}`);
    const s = new SimUdpSocket(host, address, p);
    host.udp.set(p, s);
    return s;
  }

  /** Sends one datagram from `socket` to `ip:port`. */
  sendUdp(socket: SimUdpSocket, data: Uint8Array, port: number, ip: string): void {
    const sim = this.sim;
    sim.activity++;
    const from = socket.host;
    if (!from.alive || socket.closed) return;
    this.counters.udpSent++;
    const to = this.resolve(from, ip);
    let srcPort = socket.port;
    if (from.nat !== undefined && to !== from)
      srcPort = from.nat.outbound(srcPort, ip, port, sim.now);
    const bytes = data.length + UDP_OVERHEAD;
    const departs = from.up.reserve(sim.now, bytes);
    if (to === undefined || !to.alive) {
      this.counters.udpUnreachable++;
      return;
    }
    if (this.options.udpLoss > 0 && sim.random.float() < this.options.udpLoss) {
      this.counters.udpLost++;
      return;
    }
    if (this.partitioned(from, to)) {
      this.counters.udpLost++;
      return;
    }
    const path = this.oneWayMs(from, to);
    const arrives = departs + path + this.latency.jitter(sim.random, path);
    const delivered = to.down.reserve(arrives, bytes);
    const copy = copyDatagram(data);
    const srcIp = to === from ? from.ip : from.publicIp;
    const deliver = () => this.deliverUdp(to, srcIp, srcPort, port, copy, from.index);
    if (this.udpFaults === undefined) sim.at(delivered, deliver, to, EventKind.udp);
    else
      for (const late of this.udpFaults.copies(sim.random))
        sim.at(delivered + late, deliver, to, EventKind.udp);
  }

  private deliverUdp(
    to: SimHost,
    srcIp: string,
    srcPort: number,
    port: number,
    data: Buffer,
    fromIndex: number,
  ): void {
    const sim = this.sim;
    sim.trace.note(fromIndex, data.length);
    sim.trace.bytes(data);
    let local = port;
    if (to.nat !== undefined && srcIp !== to.ip) {
      const inside = to.nat.inbound(port, srcIp, srcPort, sim.now);
      if (inside === undefined) {
        this.counters.udpFiltered++;
        return;
      }
      local = inside;
    }
    const socket = to.udp.get(local);
    if (socket === undefined || socket.closed || socket.handler === undefined) {
      this.counters.udpUnreachable++;
      return;
    }
    this.counters.udpDelivered++;
    socket.handler(data, { address: srcIp, port: srcPort, family: 'IPv4' });
  }

  // ------------------------------------------------------------------ TCP

  /** Listens for TCP connections on `host`. */
  listenTcp(host: SimHost, port: number, onConnection: (s: ByteStream) => void): Listener {
    const p = port === 0 ? host.ephemeralPort() : port;
    if (host.listeners.has(p))
      throw new SimIoError('EADDRINUSE', `listen on TCP port ${p} of ${host.ip}`);
    const l: Listener = { port: p, onConnection, closed: false };
    host.listeners.set(p, l);
    return l;
  }

  /**
   * Opens a TCP connection from `from` to `ip:port` (three-way handshake in virtual time), from
   * `localPort` when given. A SYN reaching a host behind a NAT passes only through a mapping
   * that host's own SYN opened; a SYN meeting a connect of the other host to it (same ends)
   * makes a simultaneous open: both connects complete as one connection (a TCP hole punch).
   */
  connectTcp(
    from: SimHost,
    ip: string,
    port: number,
    timeoutMs?: number,
    localPort?: number,
  ): Promise<ByteStream> {
    const sim = this.sim;
    sim.activity++;
    this.counters.tcpConnects++;
    return new Promise((resolve, reject) => {
      const source = localPort ?? from.ephemeralPort();
      const key = `${source}>${ip}:${port}`;
      const pending: PendingConnect = { done: false, pairing: false, resolve: () => {} };
      const finish = (): boolean => {
        if (pending.done) return false;
        pending.done = true;
        timer.cancel();
        if (from.connecting.get(key) === pending) from.connecting.delete(key);
        return true;
      };
      const fail = (reason: string, what: string) => {
        if (finish()) reject(new SimIoError(reason, `connect to ${ip}:${port} ${what}`));
      };
      pending.resolve = (stream) => {
        if (finish()) resolve(stream);
      };
      const timer = sim.after(
        timeoutMs ?? this.options.connectTimeoutMs,
        () => fail('ETIMEDOUT', 'timed out'),
        from,
      );
      from.connecting.set(key, pending);
      const to = this.resolve(from, ip);
      if (to === undefined || !to.alive || this.partitioned(from, to)) return; // SYN lost
      const srcPort =
        from.nat !== undefined && to !== from
          ? from.nat.tcpOutbound(source, ip, port, sim.now)
          : source;
      const srcIp = to === from ? from.ip : from.publicIp;
      const oneWay = this.oneWayMs(from, to);
      const synArrives = sim.now + oneWay + this.latency.jitter(sim.random, oneWay);
      sim.at(
        synArrives,
        () => {
          if (pending.done || pending.pairing) return;
          let local = port;
          if (to.nat !== undefined && to !== from) {
            // Behind a NAT, an unsolicited SYN finds no mapping and is dropped.
            const inside = to.nat.tcpInbound(port, srcIp, srcPort, sim.now);
            if (inside === undefined) return;
            local = inside;
          }
          const crossing = to.connecting.get(`${local}>${srcIp}:${srcPort}`);
          if (crossing !== undefined && !crossing.done && !crossing.pairing) {
            this.simultaneousOpen(
              from,
              to,
              { pending, source, port, srcIp, srcPort, local },
              crossing,
            );
            return;
          }
          const listener = to.listeners.get(local);
          if (listener === undefined || listener.closed) {
            this.counters.tcpRefused++;
            sim.after(oneWay, () => fail('ECONNREFUSED', 'refused'), from, EventKind.tcpControl);
            return;
          }
          sim.after(
            oneWay,
            () => {
              if (pending.done) return; // gave up before the SYN-ACK: the server's half times out alone
              const client = new SimStream(this, from, from.ip, source, to.publicIp, port);
              const server = new SimStream(this, to, to.ip, local, srcIp, srcPort);
              client.peer = server;
              server.peer = client;
              from.streams.add(client);
              // The server accepts when the client's ACK arrives, one more trip later.
              sim.after(
                oneWay,
                () => {
                  if (listener.closed || client.closed) {
                    server.closed = true;
                    client.remoteClosed();
                    return;
                  }
                  to.streams.add(server);
                  listener.onConnection(server);
                },
                to,
                EventKind.tcpControl,
              );
              pending.resolve(client);
            },
            from,
            EventKind.tcpControl,
          );
        },
        to,
        EventKind.tcpControl,
      );
    });
  }

  /**
   * `from`'s SYN met `to`'s own connect to it: `to` answers with a SYN-ACK (its connect then
   * waits for `from`'s ACK), and both ends become one connection.
   */
  private simultaneousOpen(
    from: SimHost,
    to: SimHost,
    ours: {
      pending: PendingConnect;
      source: number;
      port: number;
      srcIp: string;
      srcPort: number;
      local: number;
    },
    theirs: PendingConnect,
  ): void {
    ours.pending.pairing = true;
    theirs.pairing = true;
    const oneWay = this.oneWayMs(from, to);
    this.sim.after(
      oneWay,
      () => {
        const client = new SimStream(this, from, from.ip, ours.source, to.publicIp, ours.port);
        const server = new SimStream(this, to, to.ip, ours.local, ours.srcIp, ours.srcPort);
        client.peer = server;
        server.peer = client;
        if (ours.pending.done) return;
        from.streams.add(client);
        ours.pending.resolve(client);
        this.sim.after(
          oneWay,
          () => {
            if (theirs.done || client.closed) {
              client.remoteClosed();
              return;
            }
            to.streams.add(server);
            theirs.resolve(server);
          },
          to,
          EventKind.tcpControl,
        );
      },
      from,
      EventKind.tcpControl,
    );
  }

  /** Puts `stream`'s host's uplink to work if it has something to send. */
  kick(stream: SimStream): void {
    const link = stream.host.up;
    if (!stream.onLink) {
      stream.onLink = true;
      link.flows.push(stream);
    }
    if (!link.scheduled) {
      link.scheduled = true;
      this.sim.at(link.busyUntil, () => this.serve(stream.host), stream.host, EventKind.tcpSegment);
    }
  }

  /** Sends the next segment of the next flow in round-robin order on `host`'s uplink. */
  private serve(host: SimHost): void {
    const link = host.up;
    link.scheduled = false;
    const flows = link.flows;
    while (flows.length > 0) {
      if (link.next >= flows.length) link.next = 0;
      const s = flows[link.next]!;
      const window = this.options.tcpWindowBytes - s.inFlight - s.peer.inboxBytes;
      if (s.closed || s.queued === 0 || window <= 0) {
        flows.splice(link.next, 1);
        s.onLink = false;
        continue;
      }
      if (this.partitioned(host, s.peer.host)) {
        flows.splice(link.next, 1);
        s.onLink = false;
        this.sim.after(PARTITION_RETRY_MS, () => this.kick(s), host);
        continue;
      }
      link.next++;
      this.transmit(s, Math.min(s.queued, link.segmentBytes, window));
      link.scheduled = true;
      this.sim.at(link.busyUntil, () => this.serve(host), host, EventKind.tcpSegment);
      return;
    }
  }

  private transmit(s: SimStream, size: number): void {
    const sim = this.sim;
    const from = s.host;
    const to = s.peer.host;
    const chunks = s.take(size);
    s.inFlight += size;
    this.counters.tcpSegments++;
    const sent = from.up.reserve(sim.now, size * TCP_OVERHEAD);
    const path = this.oneWayMs(from, to);
    const arrives = sent + path + this.latency.jitter(sim.random, path);
    let delivered = to.down.reserve(arrives, size * TCP_OVERHEAD);
    if (delivered < s.lastDelivery) delivered = s.lastDelivery;
    s.lastDelivery = delivered;
    const receiver = s.peer;
    sim.at(delivered, () => receiver.receive(chunks, size), to, EventKind.tcpSegment);
    s.afterTransmit();
  }

  /** Schedules `fn` on `to` once everything `s` sent before has arrived (FIN, RST). */
  afterInFlight(s: SimStream, fn: () => void): void {
    const to = s.peer.host;
    const at = Math.max(this.sim.now + this.oneWayMs(s.host, to), s.lastDelivery);
    s.lastDelivery = at;
    this.sim.at(at, fn, to, EventKind.tcpControl);
  }

  private resolve(from: SimHost, ip: string): SimHost | undefined {
    if (ip === 'localhost' || ip === '127.0.0.1' || ip === from.ip || ip === '0.0.0.0') return from;
    return this.byIp.get(ip);
  }

  private partitioned(a: SimHost, b: SimHost): boolean {
    const p = this.partitionOf;
    return p !== undefined && a !== b && p(a) !== p(b);
  }

  private freshPublicIp(): string {
    for (;;) {
      const v = this.sim.random.next();
      const a = v >>> 24;
      const b = (v >>> 16) & 255;
      const reserved =
        a === 0 ||
        a === 10 ||
        a === 127 ||
        a >= 224 ||
        (a === 100 && b >= 64 && b < 128) ||
        (a === 169 && b === 254) ||
        (a === 172 && b >= 16 && b < 32) ||
        (a === 192 && b === 168) ||
        (v & 255) === 0 ||
        (v & 255) === 255;
      if (reserved) continue;
      const ip = `${a}.${b}.${(v >>> 8) & 255}.${v & 255}`;
      if (!this.byIp.has(ip)) return ip;
    }
  }
}

export { SimStream };
