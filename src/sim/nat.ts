import type { RandomSource } from '../runtime/runtime.js';
import { SimError } from './errors.js';

/**
 * The NAT behaviours of RFC 4787 that matter to peer-to-peer traffic, as the classic four:
 * - `full-cone`: one mapping per internal port; anyone may send to it;
 * - `restricted`: one mapping per internal port; only addresses we sent to may send back;
 * - `port-restricted`: likewise, but only the exact address:port we sent to;
 * - `symmetric`: a new mapping (new external port) per destination, open only to it.
 */
export type NatType = 'full-cone' | 'restricted' | 'port-restricted' | 'symmetric';

/** Every NAT type, for option parsing. */
export const NAT_TYPES: readonly NatType[] = [
  'full-cone',
  'restricted',
  'port-restricted',
  'symmetric',
];

/**
 * How a NAT picks the external port of a new mapping it does not keep the source port for:
 * the next one up (`sequential`: many routers, and what makes a symmetric NAT's next ports
 * predictable) or anywhere (`random`: Linux's `--random-fully`, hardened routers; nothing
 * to predict).
 */
export type PortAllocation = 'sequential' | 'random';

/** First external port a NAT hands out; the range runs to 65535. */
const FIRST_PORT = 20_000;

interface Mapping {
  readonly internalPort: number;
  readonly externalPort: number;
  /** Symmetric NATs: the one remote endpoint this mapping serves. */
  readonly remote: string | undefined;
  /** Remote addresses (restricted) or endpoints (port-restricted) we sent to, and when. */
  readonly permissions: Map<string, number>;
  lastUsed: number;
}

/**
 * One home router in front of one simulated host: UDP mappings with an idle timeout
 * (default 120 s, RFC 4787's minimum is 2 minutes) and the type's filtering; TCP mappings
 * likewise (see {@link tcpOutbound}), which lets a SYN in only where a SYN went out, so a TCP
 * simultaneous open passes and anything unsolicited is dropped (no port forwarding, no UPnP).
 */
export class Nat {
  private readonly byKey = new Map<string, Mapping>();
  private readonly byPort = new Map<number, Mapping>();
  private nextPort = FIRST_PORT;
  private readonly tcpByKey = new Map<string, Mapping>();
  private readonly tcpByPort = new Map<number, Mapping>();
  private nextTcpPort = FIRST_PORT;

  constructor(
    readonly type: NatType,
    /** The router's public address, which the outside world sees. */
    readonly publicIp: string,
    readonly udpTimeoutMs = 120_000,
    /** `random` needs `random`, the simulation's seeded source. */
    readonly allocation: PortAllocation = 'sequential',
    private readonly random?: RandomSource,
  ) {}

  /** Where the search for a new external port starts. */
  private startPort(next: number): number {
    if (this.allocation === 'random' && this.random !== undefined)
      return FIRST_PORT + this.random.int(65_536 - FIRST_PORT);
    return next;
  }

  /** Translates an outgoing datagram's source port; returns the external port. */
  outbound(internalPort: number, remoteIp: string, remotePort: number, now: number): number {
    const endpoint = `${remoteIp}:${remotePort}`;
    const key = this.type === 'symmetric' ? `${internalPort}>${endpoint}` : `${internalPort}`;
    let m = this.byKey.get(key);
    if (m !== undefined && now - m.lastUsed > this.udpTimeoutMs) {
      this.byKey.delete(key);
      this.byPort.delete(m.externalPort);
      m = undefined;
    }
    if (m === undefined) {
      m = {
        internalPort,
        externalPort: this.allocatePort(now),
        remote: this.type === 'symmetric' ? endpoint : undefined,
        permissions: new Map(),
        lastUsed: now,
      };
      this.byKey.set(key, m);
      this.byPort.set(m.externalPort, m);
    }
    m.lastUsed = now;
    if (this.type === 'restricted') m.permissions.set(remoteIp, now);
    else if (this.type === 'port-restricted') m.permissions.set(endpoint, now);
    return m.externalPort;
  }

  /** Filters an incoming datagram; returns the internal port, or undefined to drop it. */
  inbound(
    externalPort: number,
    remoteIp: string,
    remotePort: number,
    now: number,
  ): number | undefined {
    const m = this.byPort.get(externalPort);
    if (m === undefined || now - m.lastUsed > this.udpTimeoutMs) return undefined;
    switch (this.type) {
      case 'full-cone':
        break;
      case 'symmetric':
        if (m.remote !== `${remoteIp}:${remotePort}`) return undefined;
        break;
      default: {
        const key = this.type === 'restricted' ? remoteIp : `${remoteIp}:${remotePort}`;
        const sent = m.permissions.get(key);
        if (sent === undefined || now - sent > this.udpTimeoutMs) return undefined;
      }
    }
    // Inbound traffic does not refresh the mapping (conservative, as many routers behave).
    return m.internalPort;
  }

  /**
   * Translates an outgoing TCP SYN's source port; returns the external port. Like Linux's
   * MASQUERADE and most home routers, every type but symmetric keeps the source port when it
   * is free and uses one mapping per source port for every destination; a symmetric NAT picks
   * a new port per destination. The mapping lets in SYNs from where the type's filter allows
   * (a TCP simultaneous open needs exactly that).
   */
  tcpOutbound(internalPort: number, remoteIp: string, remotePort: number, now: number): number {
    const endpoint = `${remoteIp}:${remotePort}`;
    const key = this.type === 'symmetric' ? `${internalPort}>${endpoint}` : `${internalPort}`;
    let m = this.tcpByKey.get(key);
    if (m !== undefined && now - m.lastUsed > this.udpTimeoutMs) {
      this.tcpByKey.delete(key);
      this.tcpByPort.delete(m.externalPort);
      m = undefined;
    }
    if (m === undefined) {
      const keep = this.type !== 'symmetric' && !this.tcpByPort.has(internalPort);
      m = {
        internalPort,
        externalPort: keep ? internalPort : this.allocateTcpPort(now),
        remote: this.type === 'symmetric' ? endpoint : undefined,
        permissions: new Map(),
        lastUsed: now,
      };
      this.tcpByKey.set(key, m);
      this.tcpByPort.set(m.externalPort, m);
    }
    m.lastUsed = now;
    m.permissions.set(remoteIp, now);
    m.permissions.set(endpoint, now);
    return m.externalPort;
  }

  /** Filters an incoming TCP SYN; returns the internal port, or undefined to drop it. */
  tcpInbound(
    externalPort: number,
    remoteIp: string,
    remotePort: number,
    now: number,
  ): number | undefined {
    const m = this.tcpByPort.get(externalPort);
    if (m === undefined || now - m.lastUsed > this.udpTimeoutMs) return undefined;
    if (this.type !== 'full-cone') {
      const key = this.type === 'restricted' ? remoteIp : `${remoteIp}:${remotePort}`;
      if (!m.permissions.has(key)) return undefined;
    }
    return m.internalPort;
  }

  /** A free external TCP port; idle mappings are reclaimed on the way. */
  private allocateTcpPort(now: number): number {
    this.nextTcpPort = this.startPort(this.nextTcpPort);
    for (let tries = 0; tries < 65_536; tries++) {
      const p = this.nextTcpPort;
      this.nextTcpPort = this.nextTcpPort >= 65_535 ? FIRST_PORT : this.nextTcpPort + 1;
      const m = this.tcpByPort.get(p);
      if (m !== undefined && now - m.lastUsed > this.udpTimeoutMs) {
        this.tcpByPort.delete(p);
        const key = m.remote === undefined ? `${m.internalPort}` : `${m.internalPort}>${m.remote}`;
        if (this.tcpByKey.get(key) === m) this.tcpByKey.delete(key);
      }
      if (!this.tcpByPort.has(p)) return p;
    }
    throw new SimError('SIM_NAT_FULL', `NAT ${this.publicIp} has no free TCP port left`);
  }

  /** The next free external port; mappings idle past their timeout are reclaimed on the way. */
  private allocatePort(now: number): number {
    this.nextPort = this.startPort(this.nextPort);
    for (let tries = 0; tries < 65_536; tries++) {
      const p = this.nextPort;
      this.nextPort = this.nextPort >= 65_535 ? FIRST_PORT : this.nextPort + 1;
      const m = this.byPort.get(p);
      if (m !== undefined && now - m.lastUsed > this.udpTimeoutMs) {
        this.byPort.delete(p);
        const key = m.remote === undefined ? `${m.internalPort}` : `${m.internalPort}>${m.remote}`;
        if (this.byKey.get(key) === m) this.byKey.delete(key);
      }
      if (!this.byPort.has(p)) return p;
    }
    throw new SimError('SIM_NAT_FULL', `NAT ${this.publicIp} has no free port left`);
  }
}
