import { NatReplyError } from './errors.js';

/** Where SSDP searches go (UPnP Device Architecture 1.1, §1.3.2). */
export const SSDP_GROUP = '239.255.255.250';
export const SSDP_PORT = 1900;

/** What an Internet Gateway Device answers to: version 1 and 2 devices (v2 also answers v1). */
export const IGD_SEARCH_TARGETS = [
  'urn:schemas-upnp-org:device:InternetGatewayDevice:1',
  'urn:schemas-upnp-org:device:InternetGatewayDevice:2',
] as const;

/** The largest SSDP answer read; real ones are a few hundred bytes. */
export const MAX_SSDP_BYTES = 2048;

/** An M-SEARCH datagram for `searchTarget`, answered within `maxWaitSeconds`. */
export function ssdpSearch(searchTarget: string, maxWaitSeconds = 2): Buffer {
  return Buffer.from(
    'M-SEARCH * HTTP/1.1\r\n' +
      `HOST: ${SSDP_GROUP}:${SSDP_PORT}\r\n` +
      'MAN: "ssdp:discover"\r\n' +
      `MX: ${maxWaitSeconds}\r\n` +
      `ST: ${searchTarget}\r\n` +
      '\r\n',
    'latin1',
  );
}

/** The parts of an SSDP search answer a control point uses. */
export interface SsdpAnswer {
  /** URL of the device description (http only). */
  readonly location: string;
  /** The search target it answers for. */
  readonly searchTarget: string | undefined;
  readonly server: string | undefined;
}

/**
 * Reads an answer to an M-SEARCH: `HTTP/1.1 200 OK` and headers, of which LOCATION (an http
 * URL) is required. @throws {NatReplyError} on anything else
 */
export function parseSsdpAnswer(data: Uint8Array): SsdpAnswer {
  const fail = (problem: string) => new NatReplyError('SSDP answer', problem);
  if (data.length > MAX_SSDP_BYTES) throw fail(`${data.length} bytes, over ${MAX_SSDP_BYTES}`);
  const lines = Buffer.from(data.buffer, data.byteOffset, data.length)
    .toString('latin1')
    .split(/\r?\n/);
  if (!/^HTTP\/1\.[01] 200(?: |$)/.test(lines[0] ?? '')) throw fail('not an HTTP 200 answer');
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    if (line === '') break;
    const colon = line.indexOf(':');
    if (colon <= 0) throw fail('a header line without a name');
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  const location = headers.get('location');
  if (location === undefined) throw fail('no LOCATION header');
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw fail(`LOCATION "${location.slice(0, 100)}" is not a URL`);
  }
  if (url.protocol !== 'http:') throw fail(`LOCATION "${location.slice(0, 100)}" is not http`);
  return { location: url.href, searchTarget: headers.get('st'), server: headers.get('server') };
}
