import type { MetricsRegistry } from '../metrics/registry.js';
import type { NodeControl, TorrentState } from './control.js';

const STATES: readonly TorrentState[] = [
  'metadata',
  'checking',
  'downloading',
  'seeding',
  'paused',
  'stopped',
  'error',
];

/**
 * Declares what only the daemon knows in the node's registry, so `/metrics` is the registry's
 * exposition and nothing else: torrents by state (including magnets still fetching metadata),
 * peers, content and verified bytes, rate limits and when the daemon started. The engines'
 * own metrics (connections, peer wire, DHT, torrents) are there already.
 */
export function declareDaemonMetrics(
  registry: MetricsRegistry,
  control: NodeControl,
  /** When the daemon started (ms since the Unix epoch). */
  startedAt: number,
): void {
  registry.gauge({
    name: 'shoal_torrents_by_state',
    help: 'Torrents in the daemon, by state.',
    labelNames: ['state'],
    collect: () => {
      const byState = new Map<TorrentState, number>();
      for (const s of control.summaries()) byState.set(s.state, (byState.get(s.state) ?? 0) + 1);
      return STATES.map((state) => [{ state }, byState.get(state) ?? 0] as const);
    },
  });
  registry.gauge({
    name: 'shoal_peers',
    help: 'Connected peers over all torrents.',
    collect: () => control.session().peers,
  });
  registry.gauge({
    name: 'shoal_content_bytes',
    help: 'Bytes of content, by state (all of it, and verified).',
    labelNames: ['state'],
    collect: () => {
      let size = 0;
      let have = 0;
      for (const s of control.summaries()) {
        size += s.size;
        have += s.have;
      }
      return [
        [{ state: 'total' }, size],
        [{ state: 'verified' }, have],
      ];
    },
  });
  registry.gauge({
    name: 'shoal_rate_limit_bytes',
    help: 'Node-wide rate limits in bytes per second, 0 = none.',
    labelNames: ['direction'],
    collect: () => {
      const limits = control.settings();
      return [
        [{ direction: 'download' }, limits.downloadLimit],
        [{ direction: 'upload' }, limits.uploadLimit],
      ];
    },
  });
  registry.gauge({
    name: 'shoal_start_time_seconds',
    help: 'When the daemon started, in seconds since the Unix epoch.',
    collect: () => startedAt / 1000,
  });
}
