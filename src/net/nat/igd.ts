/**
 * The UPnP Internet Gateway Device documents, without I/O: which service of a device
 * description maps ports, and the SOAP envelopes of its actions and their replies
 * (WANIPConnection v1/v2, WANPPPConnection v1: same actions, same arguments).
 */
import { NatReplyError } from './errors.js';
import { escapeXml, MAX_XML_CHARS, xmlElements, xmlText } from './xml.js';

/** Services that map ports, most preferred first. */
export const WAN_SERVICE_TYPES = [
  'urn:schemas-upnp-org:service:WANIPConnection:2',
  'urn:schemas-upnp-org:service:WANIPConnection:1',
  'urn:schemas-upnp-org:service:WANPPPConnection:1',
] as const;

/** Where to send a gateway's port-mapping actions, and as which service. */
export interface IgdControl {
  readonly serviceType: string;
  /** Absolute http URL on the description's host. */
  readonly controlUrl: string;
}

/**
 * Finds the port-mapping service in a device description fetched from `location`. Its control
 * URL must be on the host that served the description: a description may not send our
 * requests anywhere else. @throws {NatReplyError} when there is none, or the document is bad
 */
export function parseDeviceDescription(xml: string, location: string): IgdControl {
  const fail = (problem: string) => new NatReplyError('device description', problem);
  if (xml.length > MAX_XML_CHARS) throw fail(`${xml.length} characters, over ${MAX_XML_CHARS}`);
  const origin = new URL(location);
  let base = origin;
  const urlBase = xmlText(xml, 'URLBase');
  if (urlBase) {
    try {
      base = new URL(urlBase);
    } catch {
      throw fail(`URLBase "${urlBase.slice(0, 100)}" is not a URL`);
    }
  }
  let best: { rank: number; control: IgdControl } | undefined;
  for (const service of xmlElements(xml, 'service', 64)) {
    const type = xmlText(service, 'serviceType') ?? '';
    const rank = (WAN_SERVICE_TYPES as readonly string[]).indexOf(type);
    if (rank < 0 || (best && best.rank <= rank)) continue;
    const path = xmlText(service, 'controlURL');
    if (!path) throw fail(`service ${type} has no controlURL`);
    let url: URL;
    try {
      url = new URL(path, base);
    } catch {
      throw fail(`controlURL "${path.slice(0, 100)}" is not a URL`);
    }
    if (url.protocol !== 'http:' || url.host !== origin.host)
      throw fail(`controlURL ${url.href} is not on ${origin.host}, which described it`);
    best = { rank, control: { serviceType: type, controlUrl: url.href } };
  }
  if (!best) throw fail('no WANIPConnection or WANPPPConnection service');
  return best.control;
}

/** A SOAP call ready to POST: the body and the SOAPAction header value. */
export interface SoapCall {
  readonly body: Buffer;
  readonly soapAction: string;
}

/** The SOAP request for `action` of `serviceType` with `args` in order. */
export function soapCall(
  serviceType: string,
  action: string,
  args: readonly (readonly [string, string | number])[] = [],
): SoapCall {
  const params = args.map(([k, v]) => `<${k}>${escapeXml(String(v))}</${k}>`).join('');
  const body =
    '<?xml version="1.0"?>\r\n' +
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" ' +
    's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">' +
    `<s:Body><u:${action} xmlns:u="${escapeXml(serviceType)}">${params}</u:${action}></s:Body>` +
    '</s:Envelope>\r\n';
  return { body: Buffer.from(body, 'utf8'), soapAction: `"${serviceType}#${action}"` };
}

/** What a SOAP action came back with: its out-arguments, or the UPnP error it raised. */
export type SoapOutcome =
  | { readonly ok: true; readonly values: ReadonlyMap<string, string> }
  | { readonly ok: false; readonly errorCode: number; readonly description: string };

/**
 * Reads the reply to `action`: a fault's UPnP `errorCode` and `errorDescription`, or the
 * `outNames` found in `<actionResponse>`. @throws {NatReplyError} when it is neither
 */
export function parseSoapReply(
  xml: string,
  action: string,
  outNames: readonly string[] = [],
): SoapOutcome {
  const fail = (problem: string) => new NatReplyError(`${action} reply`, problem);
  if (xml.length > MAX_XML_CHARS) throw fail(`${xml.length} characters, over ${MAX_XML_CHARS}`);
  const [fault] = xmlElements(xml, 'Fault', 1);
  if (fault !== undefined) {
    const code = Number(xmlText(fault, 'errorCode') ?? Number.NaN);
    return {
      ok: false,
      errorCode: Number.isInteger(code) ? code : -1,
      description: (
        xmlText(fault, 'errorDescription') ??
        xmlText(fault, 'faultstring') ??
        ''
      ).slice(0, 200),
    };
  }
  const [response] = xmlElements(xml, `${action}Response`, 1);
  if (response === undefined) throw fail(`no ${action}Response and no Fault`);
  const values = new Map<string, string>();
  for (const name of outNames) {
    const text = xmlText(response, name);
    if (text !== undefined) values.set(name, text);
  }
  return { ok: true, values };
}

/** UPnP IGD error codes a control point acts on (WANIPConnection:2 §2.4.16). */
export const UPNP_ERRORS = {
  /** The external port is mapped to someone else. */
  conflict: 718,
  /** The gateway takes only permanent (lease 0) mappings (IGD v1 routers). */
  onlyPermanentLeases: 725,
  /** The gateway refuses a wildcard or this combination of ports. */
  samePortValuesRequired: 724,
  /** IGD v2: the port or address is not allowed to this client. */
  notAuthorized: 606,
  /** No such mapping (when deleting). */
  noSuchEntry: 714,
} as const;
