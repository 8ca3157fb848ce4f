import type { HttpClient, Timers, UdpFactory, UdpRemote } from '../../runtime/runtime.js';
import { NatReplyError, PortMappingError } from './errors.js';
import { type IgdControl, parseDeviceDescription, parseSoapReply, soapCall } from './igd.js';
import { IGD_SEARCH_TARGETS, parseSsdpAnswer, SSDP_GROUP, SSDP_PORT, ssdpSearch } from './ssdp.js';
import { MAX_XML_CHARS } from './xml.js';

/** What UPnP discovery and control need from the runtime. */
export interface UpnpDeps {
  readonly udp: UdpFactory;
  readonly http: HttpClient;
  readonly timers: Timers;
  /** Address to send from (the node's listen address), when not any. */
  readonly bindHost?: string;
}

const HTTP_TIMEOUT_MS = 5000;
const SOAP_MAX_BYTES = 16 * 1024;

/** One port mapping as UPnP's AddPortMapping takes it. */
export interface UpnpMapping {
  readonly protocol: 'TCP' | 'UDP';
  readonly externalPort: number;
  readonly internalPort: number;
  /** Seconds; 0 asks for a permanent mapping (IGD v1 routers that take nothing else). */
  readonly leaseSeconds: number;
  readonly description: string;
}

/**
 * Finds the Internet Gateway Device on the local network: SSDP M-SEARCHes to
 * 239.255.255.250:1900 (sent twice, as UDP may lose one), then the device description of each
 * answer until one has a port-mapping service. An answer is followed only to the address it
 * came from. @throws {PortMappingError} when none is found within `timeoutMs`
 */
export async function discoverGateway(deps: UpnpDeps, timeoutMs = 3000): Promise<UpnpGateway> {
  const socket = await deps.udp.bind({ port: 0, host: deps.bindHost ?? '0.0.0.0' });
  const tried = new Set<string>();
  const problems: string[] = [];
  try {
    return await new Promise<UpnpGateway>((resolve, reject) => {
      let done = false;
      let inFlight = 0;
      let timedOut = false;
      const finish = (gateway: UpnpGateway | undefined, error?: Error) => {
        if (done) return;
        if (!gateway && !error && (inFlight > 0 || !timedOut)) return;
        done = true;
        for (const t of timers) t.cancel();
        if (gateway) resolve(gateway);
        else
          reject(
            error ??
              new PortMappingError(
                `UPnP: no gateway answered within ${timeoutMs} ms${problems.length > 0 ? ` (${problems.join('; ')})` : ''}`,
              ),
          );
      };
      const search = () => {
        try {
          for (const target of IGD_SEARCH_TARGETS)
            socket.send(ssdpSearch(target), SSDP_PORT, SSDP_GROUP);
        } catch (error) {
          finish(undefined, error as Error); // the egress policy said no
        }
      };
      const follow = async (data: Buffer, from: UdpRemote) => {
        let location: string;
        try {
          location = parseSsdpAnswer(data).location;
        } catch (error) {
          if (error instanceof NatReplyError) return; // not an answer to us
          throw error;
        }
        const host = new URL(location).hostname;
        if (host !== from.address || tried.has(location) || tried.size >= 8) return;
        tried.add(location);
        inFlight++;
        try {
          finish(await UpnpGateway.describe(deps, location));
        } catch (error) {
          problems.push((error as Error).message);
        } finally {
          inFlight--;
          finish(undefined);
        }
      };
      socket.onMessage((data, from) => void follow(data, from));
      socket.onError(() => {});
      const timers = [
        deps.timers.setTimeout(search, 1000),
        deps.timers.setTimeout(() => {
          timedOut = true;
          finish(undefined);
        }, timeoutMs),
      ];
      search();
    });
  } finally {
    await socket.close();
  }
}

/**
 * A gateway's port-mapping service (WANIPConnection or WANPPPConnection), reached by SOAP over
 * HTTP at the control URL its description gave.
 */
export class UpnpGateway {
  private constructor(
    private readonly deps: UpnpDeps,
    /** Where its description was. */
    readonly location: string,
    readonly control: IgdControl,
    /** Our address as the gateway sees it: the internal client of our mappings. */
    readonly localAddress: string,
  ) {}

  /** Reads the device description at `location`. @throws {PortMappingError} or {NatReplyError} */
  static async describe(deps: UpnpDeps, location: string): Promise<UpnpGateway> {
    const res = await deps.http.get(location, {
      timeoutMs: HTTP_TIMEOUT_MS,
      maxBytes: MAX_XML_CHARS,
      ...(deps.bindHost !== undefined && { localAddress: deps.bindHost }),
    });
    if (res.status !== 200)
      throw new PortMappingError(`UPnP: ${location} answered HTTP ${res.status}`);
    const control = parseDeviceDescription(res.body.toString('utf8'), location);
    const local = (res.localAddress ?? deps.bindHost ?? '').replace(/^::ffff:/, '');
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(local))
      throw new PortMappingError(`UPnP: cannot tell our IPv4 address towards ${location}`);
    return new UpnpGateway(deps, location, control, local);
  }

  /** The router's address. */
  get host(): string {
    return new URL(this.location).hostname;
  }

  /** GetExternalIPAddress. @throws {PortMappingError} */
  async externalAddress(): Promise<string> {
    const values = await this.call('GetExternalIPAddress', [], ['NewExternalIPAddress']);
    return values.get('NewExternalIPAddress') ?? '';
  }

  /** AddPortMapping to our address. @throws {PortMappingError} with the router's error code */
  async addPortMapping(m: UpnpMapping): Promise<void> {
    await this.call('AddPortMapping', [
      ['NewRemoteHost', ''],
      ['NewExternalPort', m.externalPort],
      ['NewProtocol', m.protocol],
      ['NewInternalPort', m.internalPort],
      ['NewInternalClient', this.localAddress],
      ['NewEnabled', 1],
      ['NewPortMappingDescription', m.description],
      ['NewLeaseDuration', m.leaseSeconds],
    ]);
  }

  /** DeletePortMapping. @throws {PortMappingError} */
  async deletePortMapping(protocol: 'TCP' | 'UDP', externalPort: number): Promise<void> {
    await this.call('DeletePortMapping', [
      ['NewRemoteHost', ''],
      ['NewExternalPort', externalPort],
      ['NewProtocol', protocol],
    ]);
  }

  private async call(
    action: string,
    args: readonly (readonly [string, string | number])[],
    outNames: readonly string[] = [],
  ): Promise<ReadonlyMap<string, string>> {
    const request = soapCall(this.control.serviceType, action, args);
    const res = await this.deps.http.post(this.control.controlUrl, request.body, {
      timeoutMs: HTTP_TIMEOUT_MS,
      maxBytes: SOAP_MAX_BYTES,
      headers: { 'content-type': 'text/xml; charset="utf-8"', soapaction: request.soapAction },
      ...(this.deps.bindHost !== undefined && { localAddress: this.deps.bindHost }),
    });
    if (res.status !== 200 && res.status !== 500)
      throw new PortMappingError(`UPnP ${action}: HTTP ${res.status} from ${this.host}`);
    const outcome = parseSoapReply(res.body.toString('utf8'), action, outNames);
    if (!outcome.ok)
      throw new PortMappingError(
        `UPnP ${action} refused by ${this.host}: ${outcome.description || 'no reason given'} (${outcome.errorCode})`,
        outcome.errorCode,
      );
    return outcome.values;
  }
}
