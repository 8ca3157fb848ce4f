/** IPv4 ranges no peer on the internet can reach us at (RFC 6890 special-purpose and more). */
const NOT_PUBLIC: readonly (readonly [number, number])[] = [
  [0x00000000, 8], // "this network"
  [0x0a000000, 8], // private
  [0x64400000, 10], // shared address space (carrier-grade NAT)
  [0x7f000000, 8], // loopback
  [0xa9fe0000, 16], // link-local
  [0xac100000, 12], // private
  [0xc0000000, 24], // IETF protocol assignments
  [0xc0000200, 24], // TEST-NET-1
  [0xc0a80000, 16], // private
  [0xc6120000, 15], // benchmarking
  [0xc6336400, 24], // TEST-NET-2
  [0xcb007100, 24], // TEST-NET-3
  [0xe0000000, 4], // multicast
  [0xf0000000, 4], // reserved and broadcast
];

/**
 * True for a dotted-quad IPv4 address peers on the internet could reach: what a router
 * reports as its external address is worth announcing only then (behind a second NAT the
 * router's "external" address is private or carrier-grade NAT space).
 */
export function isPublicIpv4(address: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (!m) return false;
  const octets = m.slice(1).map(Number);
  if (octets.some((o) => o > 255)) return false;
  const n = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
  return NOT_PUBLIC.every(([net, bits]) => (n ^ net) >>> (32 - bits) !== 0);
}
