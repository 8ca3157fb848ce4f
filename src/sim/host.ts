import type { ByteStream, RandomSource, UdpRemote } from '../runtime/runtime.js';
import type { SimOwner } from './event-queue.js';
import type { Location } from './latency.js';
import type { MemFs } from './memfs.js';
import { Nat, type NatType, type PortAllocation } from './nat.js';
import type { SimStream } from './sim-stream.js';

/** One direction of a host's access link: capacity, and the time it is busy until. */
export class Link {
  busyUntil = 0;
  /** Bytes carried so far (payload and headers), for utilisation figures. */
  bytes = 0;
  /** Streams with data waiting to be sent on this (upload) link, served round-robin. */
  readonly flows: SimStream[] = [];
  next = 0;
  scheduled = false;
  /**
   * Largest TCP segment the model moves as one event: about 20 ms of the link's time, between
   * 16 and 64 KiB (coarser than real packets, which keeps bulk transfers cheap to simulate;
   * small writes still go alone, so requests are not held back by it).
   */
  readonly segmentBytes: number;

  constructor(readonly bytesPerMs: number) {
    this.segmentBytes = Math.max(16 * 1024, Math.min(64 * 1024, Math.round(bytesPerMs * 20)));
  }

  /** Books `bytes` on the link first-come first-served from `from`; returns when they are through. */
  reserve(from: number, bytes: number): number {
    this.busyUntil = Math.max(from, this.busyUntil) + bytes / this.bytesPerMs;
    this.bytes += bytes;
    return this.busyUntil;
  }
}

/** A bound simulated UDP socket (implements the runtime's `UdpSocket` through the runtime). */
export class SimUdpSocket {
  handler: ((data: Buffer, from: UdpRemote) => void) | undefined;
  closed = false;

  constructor(
    readonly host: SimHost,
    readonly boundAddress: string,
    readonly port: number,
  ) {}
}

/** A TCP connect waiting for its SYN-ACK (a crossing SYN may complete it: simultaneous open). */
export interface PendingConnect {
  done: boolean;
  /** Being completed by a simultaneous open (a second crossing SYN changes nothing). */
  pairing: boolean;
  resolve: (stream: ByteStream) => void;
}

/** A TCP listener of a host: the network hands it each connection accepted on its port. */
export interface Listener {
  readonly port: number;
  readonly onConnection: (stream: ByteStream) => void;
  closed: boolean;
}

/**
 * One simulated machine: its own address (public, or private behind its own NAT), access link
 * capacities, location for latency, sockets, and file system. It is an event owner: when it
 * leaves (churn), its timers and deliveries stop.
 */
export class SimHost implements SimOwner {
  alive = true;
  /** The address the host itself has (private when behind a NAT). */
  readonly ip: string;
  /** The address the rest of the network sees (the NAT's when behind one). */
  readonly publicIp: string;
  readonly nat: Nat | undefined;
  readonly up: Link;
  readonly down: Link;
  readonly udp = new Map<number, SimUdpSocket>();
  readonly listeners = new Map<number, Listener>();
  readonly streams = new Set<SimStream>();
  /** Connects in flight, by `localPort>ip:port` (what a crossing SYN must match). */
  readonly connecting = new Map<string, PendingConnect>();
  /** Set by whoever gives the host a file system (the runtime factory). */
  fs: MemFs | undefined;
  /** When it joined, virtual ms. */
  readonly bornAt: number;
  private nextPort = 49_152;

  constructor(
    readonly index: number,
    publicIp: string,
    privateIp: string | undefined,
    nat:
      | { readonly type: NatType; readonly ports: PortAllocation; readonly random: RandomSource }
      | undefined,
    readonly location: Location,
    upBytesPerMs: number,
    downBytesPerMs: number,
    now: number,
  ) {
    this.publicIp = publicIp;
    this.ip = privateIp ?? publicIp;
    this.nat =
      nat === undefined ? undefined : new Nat(nat.type, publicIp, undefined, nat.ports, nat.random);
    this.up = new Link(upBytesPerMs);
    this.down = new Link(downBytesPerMs);
    this.bornAt = now;
  }

  /** A free local port for an outgoing connection or an unnamed socket. */
  ephemeralPort(): number {
    for (;;) {
      const p = this.nextPort;
      this.nextPort = p >= 65_535 ? 49_152 : p + 1;
      if (!this.udp.has(p) && !this.listeners.has(p)) return p;
    }
  }
}
