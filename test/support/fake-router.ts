/**
 * A home router in memory for port-mapping tests: it answers SSDP searches, serves a device
 * description, runs WANIPConnection SOAP actions and NAT-PMP requests, and keeps the mappings
 * it granted, all on a {@link ManualClock} and without a socket.
 */
import type { PortMapperDeps } from '../../src/net/nat/port-mapper.js';
import { EgressDeniedError } from '../../src/runtime/egress.js';
import { ManualClock } from '../../src/runtime/manual-clock.js';
import type { UdpRemote, UdpSocket } from '../../src/runtime/runtime.js';
import { SeededRandom } from '../../src/runtime/seeded-random.js';

/** An IGD v2 description shaped like miniupnpd's: the WAN service two devices deep. */
export const IGD_V2_DESCRIPTION = `<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0"><specVersion><major>1</major><minor>1</minor></specVersion>
<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:2</deviceType>
<serviceList><service><serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType>
<controlURL>/ctl/L3F</controlURL></service></serviceList>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:2</deviceType>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:2</deviceType>
<serviceList><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:2</serviceType>
<serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId><SCPDURL>/WANIPCn.xml</SCPDURL>
<controlURL>/ctl/IPConn</controlURL><eventSubURL>/evt/IPConn</eventSubURL></service>
</serviceList></device></deviceList></device></deviceList></device></root>`;

/** An IGD v1 description with a URLBase, listing a PPP service before the IP one. */
export const IGD_V1_DESCRIPTION = `<?xml version="1.0" encoding="utf-8"?>
<root xmlns="urn:schemas-upnp-org:device-1-0"><URLBase>http://192.168.1.1:5000</URLBase>
<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
<deviceList><device><deviceList><device><serviceList>
<service><serviceType>urn:schemas-upnp-org:service:WANPPPConnection:1</serviceType>
<controlURL>/upnp/control/WANPPPConn1</controlURL></service>
<service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>
<controlURL>/upnp/control/WANIPConn1</controlURL></service>
</serviceList></device></deviceList></device></deviceList></device></root>`;

/** How the fake router behaves. */
export interface FakeRouterOptions {
  readonly natPmp?: boolean;
  readonly upnp?: boolean;
  /** Answer AddPortMapping with a lease with 725 OnlyPermanentLeasesSupported. */
  readonly onlyPermanentLeases?: boolean;
  /** External ports mapped to another host (AddPortMapping answers 718). */
  readonly takenPorts?: readonly number[];
  /** The longest NAT-PMP lifetime granted. */
  readonly natPmpLifetimeCap?: number;
  /** Every send throws EGRESS_DENIED, as under SHOAL_EGRESS=loopback. */
  readonly egressDenied?: boolean;
  /** The router's external address (default 100.128.0.1). */
  readonly externalAddress?: string;
}

/** A mapping the router holds. */
export interface FakeMapping {
  readonly protocol: 'tcp' | 'udp';
  readonly externalPort: number;
  readonly internalPort: number;
  readonly client: string;
  readonly lease: number;
}

const LAN = '192.168.1.1';
const CLIENT = '192.168.1.20';
const LOCATION = `http://${LAN}:5000/rootDesc.xml`;
const CONTROL = `http://${LAN}:5000/ctl/IPConn`;

/** The router. `deps()` is what a PortMapper takes. */
export class FakeRouter {
  readonly clock = new ManualClock();
  readonly mappings = new Map<string, FakeMapping>();
  /** Every request it got, in order, e.g. `nat-pmp map tcp 6881 3600`, `upnp AddPortMapping`. */
  readonly log: string[] = [];
  readonly options: FakeRouterOptions;

  constructor(options: FakeRouterOptions = {}) {
    this.options = { natPmp: true, upnp: true, ...options };
  }

  static readonly lan = LAN;
  static readonly client = CLIENT;
  static readonly external = '100.128.0.1';

  private get external(): number[] {
    return (this.options.externalAddress ?? FakeRouter.external).split('.').map(Number);
  }

  deps(): PortMapperDeps {
    return {
      timers: this.clock,
      random: new SeededRandom(7),
      fs: {
        readFile: async (path: string) => {
          if (path !== '/proc/net/route') throw new Error(`no ${path}`);
          return Buffer.from(
            'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n' +
              'eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n',
          );
        },
      } as unknown as PortMapperDeps['fs'],
      udp: {
        bind: async () => this.socket(),
      },
      http: {
        get: async (url) => {
          this.log.push(`GET ${url}`);
          if (url !== LOCATION || !this.options.upnp) return { status: 404, body: Buffer.alloc(0) };
          return { status: 200, body: Buffer.from(IGD_V2_DESCRIPTION), localAddress: CLIENT };
        },
        post: async (url, body, options) => {
          if (url !== CONTROL) return { status: 404, body: Buffer.alloc(0) };
          return this.soap(String(options.headers?.soapaction), Buffer.from(body).toString('utf8'));
        },
      },
    };
  }

  /** The mapping of `protocol` external port `port`, if any. */
  mapping(protocol: 'tcp' | 'udp', port: number): FakeMapping | undefined {
    return this.mappings.get(`${protocol}/${port}`);
  }

  private socket(): UdpSocket {
    let handler: (data: Buffer, from: UdpRemote) => void = () => {};
    const reply = (data: Buffer, port: number) =>
      queueMicrotask(() => handler(data, { address: LAN, port, family: 'IPv4' }));
    return {
      send: (data, port, host) => {
        if (this.options.egressDenied)
          throw new EgressDeniedError(host, port, 'UDP send', 'loopback');
        const bytes = Buffer.from(data);
        if (host === '239.255.255.250' && port === 1900 && this.options.upnp) {
          this.log.push('M-SEARCH');
          reply(
            Buffer.from(
              `HTTP/1.1 200 OK\r\nST: ${/ST: (.*)\r\n/.exec(bytes.toString('latin1'))?.[1]}\r\nLOCATION: ${LOCATION}\r\n\r\n`,
            ),
            1900,
          );
        } else if (host === LAN && port === 5351 && this.options.natPmp) {
          const out = this.natPmp(bytes);
          if (out) reply(out, 5351);
        }
      },
      onMessage: (h) => {
        handler = h;
      },
      onError: () => {},
      address: () => ({ address: '0.0.0.0', port: 40000 }),
      addMembership: () => {},
      close: async () => {},
    };
  }

  private natPmp(req: Buffer): Buffer | undefined {
    const op = req[1]!;
    if (op === 0) {
      this.log.push('nat-pmp address');
      return Buffer.from([0, 128, 0, 0, 0, 0, 0, 1, ...this.external]);
    }
    const protocol = op === 1 ? 'udp' : 'tcp';
    const internalPort = req.readUInt16BE(4);
    const suggested = req.readUInt16BE(6);
    const lifetime = req.readUInt32BE(8);
    this.log.push(`nat-pmp map ${protocol} ${internalPort} ${lifetime}`);
    const out = Buffer.alloc(16);
    out[1] = 128 + op;
    out.writeUInt16BE(internalPort, 8);
    if (lifetime === 0) {
      for (const [k, m] of this.mappings)
        if (m.protocol === protocol && m.internalPort === internalPort) this.mappings.delete(k);
      return out;
    }
    let external = suggested || internalPort;
    while (this.options.takenPorts?.includes(external)) external++;
    const granted = Math.min(lifetime, this.options.natPmpLifetimeCap ?? lifetime);
    this.mappings.set(`${protocol}/${external}`, {
      protocol,
      externalPort: external,
      internalPort,
      client: CLIENT,
      lease: granted,
    });
    out.writeUInt16BE(external, 10);
    out.writeUInt32BE(granted, 12);
    return out;
  }

  private soap(soapAction: string, body: string): { status: number; body: Buffer } {
    const action = /#(\w+)"?$/.exec(soapAction)?.[1] ?? '';
    const arg = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(body)?.[1] ?? '';
    this.log.push(`upnp ${action}`);
    const ok = (inner = '') => ({
      status: 200,
      body: Buffer.from(
        `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><u:${action}Response xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:2">${inner}</u:${action}Response></s:Body></s:Envelope>`,
      ),
    });
    const fault = (code: number, text: string) => ({
      status: 500,
      body: Buffer.from(
        `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>${code}</errorCode><errorDescription>${text}</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>`,
      ),
    });
    const protocol = arg('NewProtocol').toLowerCase() as 'tcp' | 'udp';
    const externalPort = Number(arg('NewExternalPort'));
    switch (action) {
      case 'GetExternalIPAddress':
        return ok(`<NewExternalIPAddress>${this.external.join('.')}</NewExternalIPAddress>`);
      case 'AddPortMapping': {
        const lease = Number(arg('NewLeaseDuration'));
        if (this.options.onlyPermanentLeases && lease !== 0)
          return fault(725, 'OnlyPermanentLeasesSupported');
        const client = arg('NewInternalClient');
        const existing = this.mapping(protocol, externalPort);
        if (
          this.options.takenPorts?.includes(externalPort) ||
          (existing && existing.client !== client)
        )
          return fault(718, 'ConflictInMappingEntry');
        this.log.push(`upnp map ${protocol} ${externalPort} ${lease}`);
        this.mappings.set(`${protocol}/${externalPort}`, {
          protocol,
          externalPort,
          internalPort: Number(arg('NewInternalPort')),
          client,
          lease,
        });
        return ok();
      }
      case 'DeletePortMapping':
        if (!this.mappings.delete(`${protocol}/${externalPort}`))
          return fault(714, 'NoSuchEntryInArray');
        return ok();
      default:
        return fault(401, 'Invalid Action');
    }
  }
}
