import { EventEmitter } from 'node:events';
import { hasCode } from '../../errors.js';
import type {
  FileSystem,
  HttpClient,
  RandomSource,
  TimerHandle,
  Timers,
  UdpFactory,
} from '../../runtime/runtime.js';
import { isPublicIpv4 } from './address.js';
import { PortMappingError } from './errors.js';
import { findDefaultGateway } from './gateway.js';
import { UPNP_ERRORS } from './igd.js';
import { NatPmpClient } from './natpmp-client.js';
import { discoverGateway, type UpnpGateway } from './upnp-client.js';

/** How a mapping was made. */
export type PortMappingMethod = 'upnp' | 'nat-pmp';

/** Which transport a mapped port carries. */
export type MappedTransport = 'tcp' | 'udp';

/** One port the router forwards to us. */
export interface MappedPort {
  readonly transport: MappedTransport;
  readonly internalPort: number;
  readonly externalPort: number;
}

/** What the port mapper has achieved, for the node, `--json` and the API. */
export interface PortMappingStatus {
  /** `mapping` while it asks, `mapped`, `failed` (it retries later), `stopped`. */
  readonly state: 'mapping' | 'mapped' | 'failed' | 'stopped';
  readonly method?: PortMappingMethod;
  /** The router's address. */
  readonly router?: string;
  /** The router's external address, as it reports it. */
  readonly externalAddress?: string;
  readonly ports: readonly MappedPort[];
  /** Seconds the router granted the mappings for (0: permanent); they are renewed at half. */
  readonly leaseSeconds?: number;
  readonly error?: string;
  readonly warning?: string;
}

/** Which protocols to try and how. */
export interface PortMapperOptions {
  readonly upnp: boolean;
  readonly natPmp: boolean;
  /** The NAT-PMP gateway; the default route's gateway when absent. */
  readonly gateway?: string;
  /** Address to send from (the node's listen address), when not any. */
  readonly bindHost?: string;
  /** Lease asked for (default one hour). */
  readonly leaseSeconds?: number;
  /** Shown in the router's list of mappings. */
  readonly description?: string;
}

/** The parts of the runtime a port mapper uses. */
export interface PortMapperDeps {
  readonly udp: UdpFactory;
  readonly http: HttpClient;
  readonly timers: Timers;
  readonly fs: FileSystem;
  readonly random: RandomSource;
}

interface Granted {
  readonly externalAddress: string | undefined;
  readonly ports: readonly MappedPort[];
  readonly leaseSeconds: number;
}

/** Mappings made with one method on one router: renewed, then removed on stop. */
interface Session {
  readonly method: PortMappingMethod;
  readonly router: string;
  readonly granted: Granted;
  renew(): Promise<Granted>;
  remove(): Promise<void>;
}

const DEFAULT_LEASE_SECONDS = 3600;
const RETRY_FIRST_MS = 60_000;
const RETRY_MAX_MS = 30 * 60_000;
const STOP_WAIT_MS = 4000;

/**
 * Asks the router to forward the node's TCP and UDP ports (NAT-PMP first, as it is one round
 * trip, then UPnP IGD), renews the mappings at half their lease, learns the external address,
 * and removes the mappings on stop. A failure is retried with back-off (1 minute doubling to
 * 30), except when the egress policy forbids the traffic. `change` reports every new status.
 */
export class PortMapper extends EventEmitter<{ change: [PortMappingStatus] }> {
  private current: PortMappingStatus = { state: 'mapping', ports: [] };
  private session: Session | undefined;
  private timer: TimerHandle | undefined;
  private ports: readonly (readonly [MappedTransport, number])[] = [];
  private failures = 0;
  private stopped = false;
  private work: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: PortMapperDeps,
    private readonly options: PortMapperOptions,
  ) {
    super();
  }

  /** Starts mapping TCP port `tcp` and UDP port `udp`. */
  start(ports: { tcp: number; udp: number }): void {
    this.ports = [
      ['tcp', ports.tcp],
      ['udp', ports.udp],
    ];
    this.work = this.establish();
  }

  get status(): PortMappingStatus {
    return this.current;
  }

  /**
   * The router's external address while a mapping stands, if it is public (behind a second
   * NAT the router's "external" address is not where peers reach us).
   */
  get publicAddress(): string | undefined {
    const s = this.current;
    return s.state === 'mapped' && s.externalAddress && isPublicIpv4(s.externalAddress)
      ? s.externalAddress
      : undefined;
  }

  /** The external port the router forwards for `transport`, while mapped. */
  externalPort(transport: MappedTransport): number | undefined {
    return this.current.ports.find((p) => p.transport === transport)?.externalPort;
  }

  /** Removes the mappings (waiting a few seconds at most for the router) and stops. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.timer?.cancel();
    await this.within(this.work, STOP_WAIT_MS);
    const session = this.session;
    this.session = undefined;
    if (session) await this.within(session.remove(), STOP_WAIT_MS);
    this.update({ state: 'stopped', ports: [] });
  }

  private async establish(): Promise<void> {
    this.update({ state: 'mapping', ports: [] });
    const methods: PortMappingMethod[] = [];
    if (this.options.natPmp) methods.push('nat-pmp');
    if (this.options.upnp) methods.push('upnp');
    const errors: string[] = [];
    let denied = 0;
    for (const method of methods) {
      try {
        const session = await (method === 'nat-pmp' ? this.openNatPmp() : this.openUpnp());
        if (this.stopped) {
          await session.remove();
          return;
        }
        this.session = session;
        this.failures = 0;
        this.publish(session, session.granted);
        return;
      } catch (error) {
        const label = method === 'nat-pmp' ? 'NAT-PMP' : 'UPnP';
        const message = (error as Error).message;
        errors.push(message.startsWith(label) ? message : `${label}: ${message}`);
        if (hasCode(error, 'EGRESS_DENIED')) denied++;
      }
    }
    if (this.stopped) return;
    this.update({ state: 'failed', ports: [], error: errors.join('; ') });
    if (denied === methods.length) return; // the egress policy forbids it: retrying cannot help
    const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** this.failures++);
    this.timer = this.deps.timers.setTimeout(() => {
      this.work = this.establish();
    }, delay);
  }

  private publish(session: Session, granted: Granted): void {
    const ext = granted.externalAddress;
    this.update({
      state: 'mapped',
      method: session.method,
      router: session.router,
      ...(ext && { externalAddress: ext }),
      ports: granted.ports,
      leaseSeconds: granted.leaseSeconds,
      ...(ext &&
        !isPublicIpv4(ext) && {
          warning: `the router's external address ${ext} is not public: another NAT is in front of it, so peers on the internet may still not reach this node`,
        }),
    });
    if (granted.leaseSeconds === 0) return; // permanent: removed on stop
    const delay = Math.max(60, granted.leaseSeconds / 2) * 1000;
    this.timer = this.deps.timers.setTimeout(() => {
      this.work = this.renew(session);
    }, delay);
  }

  private async renew(session: Session): Promise<void> {
    try {
      const granted = await session.renew();
      if (!this.stopped) this.publish(session, granted);
    } catch {
      // The router forgot us or went away (a reboot, a new router): start again.
      if (this.stopped) return;
      this.session = undefined;
      await this.within(session.remove(), STOP_WAIT_MS);
      if (!this.stopped) await this.establish();
    }
  }

  private update(status: PortMappingStatus): void {
    this.current = status;
    this.emit('change', status);
  }

  private within(work: Promise<unknown>, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = this.deps.timers.setTimeout(resolve, ms);
      work.then(
        () => {
          timer.cancel();
          resolve();
        },
        () => {
          timer.cancel();
          resolve();
        },
      );
    });
  }

  private lease(): number {
    return this.options.leaseSeconds ?? DEFAULT_LEASE_SECONDS;
  }

  private async openNatPmp(): Promise<Session> {
    const gateway = this.options.gateway ?? (await findDefaultGateway(this.deps.fs));
    if (!gateway)
      throw new PortMappingError('NAT-PMP: no default gateway found (set natGateway to name it)');
    const client = await NatPmpClient.open({
      udp: this.deps.udp,
      timers: this.deps.timers,
      gateway,
      ...(this.options.bindHost !== undefined && { bindHost: this.options.bindHost }),
    });
    const mapped: MappedPort[] = [];
    const mapAll = async (): Promise<Granted> => {
      const externalAddress = await client.externalAddress();
      let leaseSeconds = Number.POSITIVE_INFINITY;
      for (const [transport, internalPort] of this.ports) {
        const previous = mapped.findIndex((m) => m.transport === transport);
        const asked = previous < 0 ? internalPort : mapped[previous]!.externalPort;
        const m = await client.map(transport, internalPort, asked, this.lease());
        const port = { transport, internalPort, externalPort: m.externalPort };
        if (previous < 0) mapped.push(port);
        else mapped[previous] = port;
        leaseSeconds = Math.min(leaseSeconds, m.lifetimeSeconds);
      }
      return { externalAddress, ports: [...mapped], leaseSeconds };
    };
    const remove = async () => {
      for (const m of mapped.splice(0))
        await client.unmap(m.transport, m.internalPort).catch(() => {});
      await client.close();
    };
    try {
      return { method: 'nat-pmp', router: gateway, granted: await mapAll(), renew: mapAll, remove };
    } catch (error) {
      await remove();
      throw error;
    }
  }

  private async openUpnp(): Promise<Session> {
    const gateway = await discoverGateway({
      udp: this.deps.udp,
      http: this.deps.http,
      timers: this.deps.timers,
      ...(this.options.bindHost !== undefined && { bindHost: this.options.bindHost }),
    });
    const mapped: MappedPort[] = [];
    let leaseSeconds = this.lease();
    const mapAll = async (): Promise<Granted> => {
      const externalAddress = await gateway.externalAddress().catch(() => undefined);
      for (const [transport, internalPort] of this.ports) {
        const previous = mapped.findIndex((m) => m.transport === transport);
        const renewing = previous >= 0;
        const asked = renewing ? mapped[previous]!.externalPort : internalPort;
        const lease = { seconds: leaseSeconds };
        const externalPort = await this.addUpnpMapping(
          gateway,
          transport,
          internalPort,
          asked,
          lease,
          renewing,
        );
        leaseSeconds = lease.seconds;
        const port = { transport, internalPort, externalPort };
        if (renewing) mapped[previous] = port;
        else mapped.push(port);
      }
      return { externalAddress, ports: [...mapped], leaseSeconds };
    };
    const remove = async () => {
      for (const m of mapped.splice(0))
        await gateway
          .deletePortMapping(m.transport === 'tcp' ? 'TCP' : 'UDP', m.externalPort)
          .catch(() => {});
    };
    try {
      return {
        method: 'upnp',
        router: gateway.host,
        granted: await mapAll(),
        renew: mapAll,
        remove,
      };
    } catch (error) {
      await remove();
      throw error;
    }
  }

  /**
   * AddPortMapping, handling what routers answer: a router that takes only permanent mappings
   * gets lease 0 (`lease.seconds` is updated); an external port taken by another host is
   * replaced by a random one (our own mapping, when renewing, is deleted and added again).
   * Returns the external port mapped.
   */
  private async addUpnpMapping(
    gateway: UpnpGateway,
    transport: MappedTransport,
    internalPort: number,
    externalPort: number,
    lease: { seconds: number },
    renewing: boolean,
  ): Promise<number> {
    const protocol = transport === 'tcp' ? 'TCP' : 'UDP';
    let port = externalPort;
    let deleted = false;
    for (let attempt = 0; ; attempt++) {
      try {
        await gateway.addPortMapping({
          protocol,
          externalPort: port,
          internalPort,
          leaseSeconds: lease.seconds,
          description: this.options.description ?? 'shoal',
        });
        return port;
      } catch (error) {
        if (!(error instanceof PortMappingError) || attempt >= 4) throw error;
        if (error.routerCode === UPNP_ERRORS.onlyPermanentLeases && lease.seconds !== 0) {
          lease.seconds = 0;
        } else if (error.routerCode === UPNP_ERRORS.conflict && renewing && !deleted) {
          deleted = true;
          await gateway.deletePortMapping(protocol, port).catch(() => {});
        } else if (error.routerCode === UPNP_ERRORS.conflict) {
          port = 1024 + this.deps.random.int(65536 - 1024);
        } else {
          throw error;
        }
      }
    }
  }
}
