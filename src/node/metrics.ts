import type { MetricsRegistry } from '../metrics/registry.js';
import type { ConnectionManager } from '../net/connection-manager.js';
import type { DatagramMux } from '../net/datagram-mux.js';
import type { Dialer } from '../net/dialer.js';
import type { InboundDemux } from '../net/inbound-demux.js';

/** The node-level parts whose counts are read when the registry is read. */
export interface NodeMetricSources {
  readonly connections: ConnectionManager;
  readonly dialer: Dialer;
  readonly inbound: InboundDemux;
  readonly datagrams: () => DatagramMux | undefined;
  readonly torrents: () => number;
  /** Address ranges on the IP blocklist (0 without one). */
  readonly blocklistRanges: () => number;
}

/**
 * Declares the node's connection-layer metrics, computed from the connection manager, the
 * dialer, the inbound demultiplexer and the UDP socket when the registry is read: connections
 * open (by transport and direction), connection outcomes, inbound protocols recognised,
 * outgoing encryption, bytes, and torrents.
 */
export function declareNodeMetrics(registry: MetricsRegistry, n: NodeMetricSources): void {
  registry.gauge({
    name: 'shoal_connections',
    help: 'Connections open, by transport and direction.',
    labelNames: ['transport', 'direction'],
    collect: () =>
      Object.entries(n.connections.breakdown()).map(([key, count]) => {
        const [transport = 'tcp', direction = 'inbound'] = key.split('-');
        return [{ transport, direction }, count] as const;
      }),
  });
  registry.counter({
    name: 'shoal_connections_total',
    help: 'Connections by direction and outcome (accepted, dialled, failed, refused for a reason).',
    labelNames: ['direction', 'outcome'],
    collect: () => {
      const c = n.connections.counters;
      return [
        [{ direction: 'inbound', outcome: 'accepted' }, c.accepted],
        [{ direction: 'inbound', outcome: 'handshake_timeout' }, c.pendingTimeouts],
        [{ direction: 'outbound', outcome: 'dialled' }, c.dialled],
        [{ direction: 'outbound', outcome: 'failed' }, c.dialFailures],
        ...Object.entries(c.refused).map(
          ([reason, count]) =>
            [
              { direction: 'any', outcome: `refused_${reason.replaceAll('-', '_')}` },
              count,
            ] as const,
        ),
      ];
    },
  });
  registry.counter({
    name: 'shoal_connection_bytes_total',
    help: 'Bytes on every connection of the node, by direction.',
    labelNames: ['direction'],
    collect: () => {
      const b = n.connections.bytes();
      return [
        [{ direction: 'in' }, b.received],
        [{ direction: 'out' }, b.sent],
      ];
    },
  });
  registry.counter({
    name: 'shoal_inbound_protocols_total',
    help: 'Accepted connections by the protocol their first bytes belonged to.',
    labelNames: ['protocol'],
    collect: () => [...n.inbound.counts].map(([protocol, count]) => [{ protocol }, count] as const),
  });
  registry.counter({
    name: 'shoal_outbound_encryption_total',
    help: 'Outgoing BitTorrent connections by how encryption (MSE/PE) went.',
    labelNames: ['result'],
    collect: () => [
      [{ result: 'negotiated' }, n.dialer.counts.encrypted],
      [{ result: 'plaintext' }, n.dialer.counts.plaintext],
      [{ result: 'refused_by_peer' }, n.dialer.counts.encryptionRefused],
      [{ result: 'redialled_new_key' }, n.dialer.counts.newKeyRedials],
    ],
  });
  registry.gauge({
    name: 'shoal_banned_addresses',
    help: 'Addresses banned node-wide.',
    collect: () => n.connections.bannedCount,
  });
  registry.gauge({
    name: 'shoal_blocklist_ranges',
    help: 'Address ranges on the IP blocklist (connections with them are refused_blocked).',
    collect: () => n.blocklistRanges(),
  });
  registry.counter({
    name: 'shoal_udp_unrouted_datagrams_total',
    help: 'Datagrams on the node socket that no protocol recognised.',
    collect: () => n.datagrams()?.unrouted ?? 0,
  });
  registry.gauge({
    name: 'shoal_torrents',
    help: 'Torrents the node runs.',
    collect: () => n.torrents(),
  });
}
