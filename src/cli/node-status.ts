import type { Node } from '../node/node.js';
import type { EventPrinter } from './port-mapping.js';

/** Says what the node loaded at start that changes whom it talks to (the IP blocklist). */
export function reportNodeSetup(node: Node, print: EventPrinter): void {
  const b = node.blocklist;
  if (!b) return;
  const skipped = b.skipped > 0 ? ` (${b.skipped} lines were not ranges and were skipped)` : '';
  print(
    'blocklist',
    { source: b.source, ranges: b.list.size, skipped: b.skipped, stale: b.staleBecause ?? null },
    b.staleBecause
      ? `blocklist: ${b.source} unreachable (${b.staleBecause}); using its copy from the last fetch, ${b.list.size} ranges${skipped}`
      : `blocklist: ${b.list.size} address ranges from ${b.source}${skipped}`,
  );
}
