import { SingleBar } from 'cli-progress';
import type { PeerInfo, TorrentStats } from '../swarm/torrent.js';
import type { TrackerStatus } from '../tracker/announcer.js';
import { formatBytes } from './format.js';

/** What a progress line shows besides the torrent's stats. */
export interface ProgressDetails {
  readonly trackers?: readonly TrackerStatus[];
  /** The connected peers: address, client, transport, encryption, rates. */
  readonly peers?: readonly PeerInfo[];
  /** The torrent's metrics (a registry snapshot). */
  readonly metrics?: Record<string, unknown>;
}

/**
 * Shows a torrent's progress: a bar (percent, rates, peers, ETA) on a terminal, one JSON
 * object per line with `--json`, and nothing otherwise.
 */
export class ProgressReporter {
  private bar: SingleBar | undefined;
  private readonly trackerNotes = new Map<string, string>();

  constructor(private readonly json: boolean) {}

  /** Shows progress; `showBar` false prints only tracker news (used while seeding). */
  update(s: TorrentStats, details: ProgressDetails = {}, showBar = true): void {
    const trackers = details.trackers ?? [];
    if (this.json) {
      process.stdout.write(
        `${JSON.stringify({ event: 'progress', ...s, trackers, peerList: details.peers ?? [], ...(details.metrics && { metrics: details.metrics }) })}\n`,
      );
      return;
    }
    for (const t of trackers) {
      // Tell the user what trackers say (failure reason, warning message), once per change.
      const note = t.error ? `error: ${t.error}` : t.warning ? `warning: ${t.warning}` : '';
      if (note !== (this.trackerNotes.get(t.url) ?? '')) {
        this.trackerNotes.set(t.url, note);
        if (note) this.event('tracker', {}, `tracker ${t.url}: ${note}`);
      }
    }
    if (!process.stderr.isTTY || !showBar) return;
    const remaining = s.totalLength - s.bytesHave;
    const eta = s.downloadRate > 0 ? Math.ceil(remaining / s.downloadRate) : 0;
    const payload = {
      down: `${formatBytes(s.downloadRate)}/s`,
      up: `${formatBytes(s.uploadRate)}/s`,
      peers: s.peers,
      etaText: s.state === 'seeding' ? 'done' : eta > 0 ? `${eta}s` : '-',
    };
    if (!this.bar) {
      this.bar = new SingleBar({
        format: `${s.name} [{bar}] {percentage}% | ↓ {down} ↑ {up} | {peers} peers | ETA {etaText}`,
        stream: process.stderr,
        hideCursor: true,
      });
      this.bar.start(1000, Math.round(s.progress * 1000), payload);
    } else {
      this.bar.update(Math.round(s.progress * 1000), payload);
    }
  }

  /** Prints a one-off event (done, warning, listening, …). */
  event(name: string, fields: Record<string, unknown>, text: string): void {
    // The line's `event` always wins over a field of that name.
    if (this.json) process.stdout.write(`${JSON.stringify({ ...fields, event: name })}\n`);
    else {
      this.bar?.stop();
      this.bar = undefined;
      process.stderr.write(`${text}\n`);
    }
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
