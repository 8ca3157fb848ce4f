import type { PortMappingStatus } from '../net/nat/port-mapper.js';
import type { Node } from '../node/node.js';

/** Prints an event: one JSON line with `--json`, else the text. */
export type EventPrinter = (event: string, fields: Record<string, unknown>, text: string) => void;

/** One line about a port mapping, for people. */
export function describePortMapping(s: PortMappingStatus): string {
  const how = s.method === 'nat-pmp' ? 'NAT-PMP' : 'UPnP';
  switch (s.state) {
    case 'mapped': {
      const ports = s.ports
        .map((p) => `${p.transport.toUpperCase()} ${p.externalPort} → ${p.internalPort}`)
        .join(', ');
      const lease = s.leaseSeconds ? `, renewed every ${Math.round(s.leaseSeconds / 2)} s` : '';
      return (
        `port mapping (${how} on ${s.router}): ${s.externalAddress ?? 'external address unknown'} ${ports}${lease}` +
        (s.warning ? `\nwarning: ${s.warning}` : '')
      );
    }
    case 'failed':
      return `port mapping failed: ${s.error ?? 'no reason'}`;
    case 'stopped':
      return 'port mapping removed';
    default:
      return 'port mapping: asking the router…';
  }
}

/**
 * Reports the node's port mapping as it changes: every change as a `portMapping` JSON line,
 * and for people only what they act on (mapped, failed, a new address or port).
 */
export function reportPortMapping(node: Node, print: EventPrinter, json: boolean): void {
  let last = '';
  let mapped = false;
  const show = (s: PortMappingStatus) => {
    const text = describePortMapping(s);
    // People hear of a removal only if something was mapped.
    const worth = s.state === 'stopped' ? mapped : s.state !== 'mapping';
    if (json) print('portMapping', { ...s }, text);
    else if (worth && text !== last) print('portMapping', {}, text);
    last = text;
    mapped = s.state === 'mapped' || (mapped && s.state === 'mapping');
  };
  node.on('portMapping', show);
  // A router may have answered (or the egress policy refused) before we listened.
  const now = node.portMapping;
  if (now && now.state !== 'mapping') show(now);
}
