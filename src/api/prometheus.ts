import type { NodeControl, TorrentState } from './control.js';

/**
 * `/metrics` in Prometheus' text format (version 0.0.4), computed from the node's public
 * figures. It stands in until the shared metrics registry (`src/metrics/registry.ts`, with its
 * own `toPrometheus()`) covers the node; then `/metrics` serves the registry and the figures
 * below become gauges and counters registered there, with the same names.
 */
export class NodeMetrics {
  /** Bytes of torrents that are gone, so the byte counters never go down when one is removed. */
  private readonly lastTotals = new Map<string, { down: number; up: number }>();
  private goneDown = 0;
  private goneUp = 0;

  constructor(private readonly control: NodeControl) {}

  /** The whole exposition, ending with a newline. */
  render(): string {
    const summaries = this.control.summaries();
    const session = this.control.session();
    const byState = new Map<TorrentState, number>();
    let down = 0;
    let up = 0;
    let size = 0;
    let have = 0;
    const seen = new Set<string>();
    for (const s of summaries) {
      byState.set(s.state, (byState.get(s.state) ?? 0) + 1);
      const last = this.lastTotals.get(s.id);
      // A counter restarts when a torrent is removed and added again: keep what it had.
      const d = Math.max(s.downloaded, last?.down ?? 0);
      const u = Math.max(s.uploaded, last?.up ?? 0);
      this.lastTotals.set(s.id, { down: d, up: u });
      seen.add(s.id);
      down += d;
      up += u;
      size += s.size;
      have += s.have;
    }
    for (const [id, last] of this.lastTotals) {
      if (seen.has(id)) continue;
      this.goneDown += last.down;
      this.goneUp += last.up;
      this.lastTotals.delete(id);
    }
    const out: string[] = [];
    const metric = (
      name: string,
      type: 'gauge' | 'counter',
      help: string,
      samples: readonly [string, number][],
    ) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples) out.push(`${name}${labels} ${format(value)}`);
    };
    const states: TorrentState[] = [
      'metadata',
      'checking',
      'downloading',
      'seeding',
      'paused',
      'stopped',
      'error',
    ];
    metric(
      'shoal_torrents',
      'gauge',
      'Torrents in the node, by state.',
      states.map((st) => [`{state="${st}"}`, byState.get(st) ?? 0]),
    );
    metric('shoal_downloaded_bytes_total', 'counter', 'Payload bytes downloaded since start.', [
      ['', down + this.goneDown],
    ]);
    metric('shoal_uploaded_bytes_total', 'counter', 'Payload bytes uploaded since start.', [
      ['', up + this.goneUp],
    ]);
    metric('shoal_download_rate_bytes_per_second', 'gauge', 'Node-wide download rate.', [
      ['', session.downloadRate],
    ]);
    metric('shoal_upload_rate_bytes_per_second', 'gauge', 'Node-wide upload rate.', [
      ['', session.uploadRate],
    ]);
    metric('shoal_peers', 'gauge', 'Connected peers over all torrents.', [['', session.peers]]);
    metric('shoal_content_bytes', 'gauge', 'Content bytes of all torrents.', [['', size]]);
    metric('shoal_verified_bytes', 'gauge', 'Verified content bytes of all torrents.', [
      ['', have],
    ]);
    if (session.dhtNodes !== undefined)
      metric('shoal_dht_nodes', 'gauge', 'Nodes in the DHT routing table.', [
        ['', session.dhtNodes],
      ]);
    const limits = this.control.settings();
    metric('shoal_rate_limit_bytes_per_second', 'gauge', 'Node-wide rate limits, 0 = none.', [
      ['{direction="download"}', limits.downloadLimit],
      ['{direction="upload"}', limits.uploadLimit],
    ]);
    metric('shoal_uptime_seconds', 'gauge', 'Seconds since the daemon started.', [
      ['', session.uptime],
    ]);
    return `${out.join('\n')}\n`;
  }
}

function format(value: number): string {
  return Number.isFinite(value) ? String(Math.round(value * 1000) / 1000) : 'NaN';
}
