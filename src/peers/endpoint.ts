import type { PeerEndpoint } from '../codec/compact.js';
import { decodeCompactPeers, encodeCompactPeers, ipFamily } from '../codec/compact.js';

/** Bytes of a compact IPv4 endpoint (address, port) and of an IPv6 one. */
const IPV4_BYTES = 6;
const IPV6_BYTES = 18;

/** One endpoint in BEP 23 / BEP 7 compact form (6 or 18 bytes); undefined for a host name. */
export function encodeEndpoint(endpoint: PeerEndpoint): Buffer | undefined {
  const family = ipFamily(endpoint.host);
  if (family === 0 || endpoint.port < 1 || endpoint.port > 65535) return undefined;
  return encodeCompactPeers([endpoint], family);
}

/** Reads one compact endpoint; undefined unless it is 6 or 18 bytes with a port. */
export function decodeEndpoint(bytes: Uint8Array): PeerEndpoint | undefined {
  if (bytes.length !== IPV4_BYTES && bytes.length !== IPV6_BYTES) return undefined;
  return decodeCompactPeers(bytes, bytes.length === IPV4_BYTES ? 4 : 6)[0];
}

/** `host:port`, with IPv6 hosts in brackets. */
export function endpointText(endpoint: PeerEndpoint): string {
  return endpoint.host.includes(':')
    ? `[${endpoint.host}]:${endpoint.port}`
    : `${endpoint.host}:${endpoint.port}`;
}

/** IPv4-mapped IPv6 addresses (what a dual-stack socket reports) as plain IPv4. */
export function plainHost(host: string): string {
  return host.startsWith('::ffff:') && host.includes('.') ? host.slice(7) : host;
}
