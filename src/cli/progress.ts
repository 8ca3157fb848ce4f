import { SingleBar } from 'cli-progress';
import type { TorrentStats } from '../swarm/torrent.js';
import { formatBytes } from './format.js';

/**
 * Shows a torrent's progress: a bar (percent, rates, peers, ETA) on a terminal, one JSON
 * object per line with `--json`, and nothing otherwise.
 */
export class ProgressReporter {
  private bar: SingleBar | undefined;

  constructor(private readonly json: boolean) {}

  update(s: TorrentStats): void {
    if (this.json) {
      process.stdout.write(`${JSON.stringify({ event: 'progress', ...s })}\n`);
      return;
    }
    if (!process.stderr.isTTY) return;
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
    if (this.json) process.stdout.write(`${JSON.stringify({ event: name, ...fields })}\n`);
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
