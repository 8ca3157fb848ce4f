import type { MetricsRegistry } from '../metrics/registry.js';
import { CONNECTION_KINDS } from './peer-connection.js';
import type { SecurePeers } from './secure-peers.js';

/**
 * Declares the secure peer layer's metrics, computed when the registry is read: connections by
 * key open now and made so far by kind (direct, punched, relayed), connects that failed, hole
 * punches tried, and what the node does for others as a rendezvous and a relay.
 */
export function declarePeerMetrics(registry: MetricsRegistry, peers: SecurePeers): void {
  registry.gauge({
    name: 'shoal_secure_connections',
    help: 'Secure connections by key open now, by how they were made.',
    labelNames: ['kind'],
    collect: () => {
      const open = peers.table.countByKind();
      return CONNECTION_KINDS.map((kind) => [{ kind }, open[kind]] as const);
    },
  });
  registry.counter({
    name: 'shoal_secure_connections_total',
    help: 'Secure connections made, by kind; connects that failed every way as kind "failed".',
    labelNames: ['kind'],
    collect: () => {
      const c = peers.counters;
      return [
        ...CONNECTION_KINDS.map((kind) => [{ kind }, c[kind]] as const),
        [{ kind: 'failed' }, c.failed] as const,
      ];
    },
  });
  registry.counter({
    name: 'shoal_hole_punches_total',
    help: 'TCP hole punches we started after an introduction.',
    collect: () => [[{}, peers.counters.punchesTried]],
  });
  registry.counter({
    name: 'shoal_rendezvous_introductions_total',
    help: 'Introductions passed on for others, and refused (not registered here, busy).',
    labelNames: ['result'],
    collect: () => [
      [{ result: 'introduced' }, peers.rendezvous.counters.introduced],
      [{ result: 'refused' }, peers.rendezvous.counters.refused],
    ],
  });
  registry.gauge({
    name: 'shoal_rendezvous_registered_peers',
    help: 'Peers behind NATs registered with us as their rendezvous.',
    collect: () => [[{}, peers.rendezvous.registeredCount]],
  });
  registry.gauge({
    name: 'shoal_relay_circuits',
    help: 'Relayed connections we carry for others now.',
    collect: () => [[{}, peers.relay.circuitCount]],
  });
  registry.counter({
    name: 'shoal_relay_circuits_total',
    help: 'Relay circuits opened for others, and refused (limits, target not connected).',
    labelNames: ['result'],
    collect: () => [
      [{ result: 'opened' }, peers.relay.counters.circuits],
      [{ result: 'refused' }, peers.relay.counters.refused],
    ],
  });
  registry.counter({
    name: 'shoal_relay_bytes_total',
    help: 'Bytes we relayed for others (ciphertext), both ways.',
    collect: () => [[{}, peers.relay.counters.bytes]],
  });
}
