import type { Clock } from '../runtime/runtime.js';
import type { PeerInfo, TorrentStats } from '../swarm/torrent.js';
import type { TrackerStatus } from '../tracker/announcer.js';
import { formatBytes } from './format.js';
import { formatDuration, SmoothedRate } from './smoothed-rate.js';

/** What a progress line shows besides the torrent's stats. */
export interface ProgressDetails {
  readonly trackers?: readonly TrackerStatus[];
  /** The connected peers: address, client, transport, encryption, rates. */
  readonly peers?: readonly PeerInfo[];
  /** The torrent's metrics (a registry snapshot). */
  readonly metrics?: Record<string, unknown>;
}

/** Where the lines for people go (stderr); a test gives a fake terminal. */
export interface ProgressOutput {
  write(text: string): void;
  readonly isTTY: boolean;
  /** Width of the terminal, when known. */
  readonly columns?: number;
}

/** How a {@link ProgressReporter} works. */
export interface ProgressOptions {
  /** One JSON object per line on stdout instead of lines for people. */
  readonly json: boolean;
  readonly clock: Clock;
  /** Lines for people: `process.stderr` unless given. */
  readonly out?: ProgressOutput;
  /** The node-wide rate limits (0 = none): a shown rate never exceeds them. */
  readonly limits?: () => { readonly upload: number; readonly download: number };
}

/** What a torrent's live line shows: downloading (a bar and ETA) or seeding (upload, ratio). */
export type LineMode = 'download' | 'seed';

interface Row {
  stats: TorrentStats;
  mode: LineMode;
  readonly down: SmoothedRate;
  readonly up: SmoothedRate;
}

const BAR_WIDTH = 20;

/**
 * Shows torrents' progress. On a terminal: one live line per torrent (bar, percent, smoothed
 * rates, peers, ETA), redrawn in place; anything else said (events, status notes) is printed
 * above the live lines, which are cleared and redrawn around it, so no stale bar is left
 * behind; a finished download leaves its 100% line. With `--json`: one object per line on
 * stdout. Otherwise (a pipe): only the events and notes.
 */
export class ProgressReporter {
  private readonly out: ProgressOutput;
  private readonly rows = new Map<string, Row>();
  /** Live lines on the screen below the cursor's line, to clear before printing. */
  private drawn = 0;
  private readonly notes = new Map<string, string>();
  /** Downloads whose final line was printed: no live line again until they seed. */
  private readonly finished = new Set<string>();

  constructor(private readonly options: ProgressOptions) {
    this.out = options.out ?? process.stderr;
  }

  private get json(): boolean {
    return this.options.json;
  }

  /** A torrent's stats, once a second: its live line, and what its trackers say. */
  update(s: TorrentStats, details: ProgressDetails = {}, mode: LineMode = 'download'): void {
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
      this.note(`tracker ${t.url}`, note && `tracker ${t.url}: ${note}`);
    }
    if (mode === 'download' && this.finished.has(s.infoHash)) return;
    const now = this.options.clock.now();
    let row = this.rows.get(s.infoHash);
    if (!row) {
      row = { stats: s, mode, down: new SmoothedRate(), up: new SmoothedRate() };
      this.rows.set(s.infoHash, row);
    }
    row.stats = s;
    row.mode = mode;
    row.down.sample(now, s.downloaded);
    row.up.sample(now, s.uploaded);
    if (this.out.isTTY) this.redraw();
  }

  /** Prints a one-off event (done, warning, listening, …) above the live lines. */
  event(name: string, fields: Record<string, unknown>, text: string): void {
    // The line's `event` always wins over a field of that name.
    if (this.json) {
      process.stdout.write(`${JSON.stringify({ ...fields, event: name })}
`);
      return;
    }
    this.print(`${text}\n`);
  }

  /**
   * Says `text` about `key` (a DHT, a peer, a tracker) only when it differs from what was last
   * said about it: status that repeats every second is printed once per change. An empty
   * `text` says nothing but is remembered (the trouble is over).
   */
  note(key: string, text: string, fields: Record<string, unknown> = {}): void {
    if ((this.notes.get(key) ?? '') === text) return;
    this.notes.set(key, text);
    if (text !== '') this.event('status', { ...fields, message: text }, text);
  }

  /** A torrent is done: its line is drawn one last time (at 100%) and stays; `text` follows. */
  finish(s: TorrentStats, fields: Record<string, unknown>, text: string): void {
    this.finished.add(s.infoHash);
    const row = this.rows.get(s.infoHash);
    if (row) row.stats = s;
    if (this.json || !this.out.isTTY || !row) {
      this.rows.delete(s.infoHash);
      this.event('done', fields, text);
      return;
    }
    this.rows.delete(s.infoHash);
    this.print(`${this.line(row)}\n${text}\n`);
  }

  /** Leaves the live lines as they are (the last word on the screen) and stops drawing. */
  stop(): void {
    this.rows.clear();
    this.drawn = 0;
  }

  /** Writes `text` above the live lines: clears them, writes, draws them again (one write). */
  private print(text: string): void {
    this.out.write(`${this.clearing()}${text}${this.out.isTTY ? this.drawing() : ''}`);
  }

  private redraw(): void {
    this.out.write(`${this.clearing()}${this.drawing()}`);
  }

  /** Moves up over the live lines and clears to the end of the screen. */
  private clearing(): string {
    if (this.drawn === 0) return '';
    const up = `\x1b[${this.drawn}A`;
    this.drawn = 0;
    return `${up}\r\x1b[J`;
  }

  private drawing(): string {
    const lines = [...this.rows.values()].map((r) => this.line(r));
    this.drawn = lines.length;
    return lines.map((l) => `${l}\n`).join('');
  }

  /** One torrent's live line, cut to the terminal's width. */
  private line(row: Row): string {
    const s = row.stats;
    const limits = this.options.limits?.() ?? { upload: 0, download: 0 };
    const cap = (rate: number, limit: number) => (limit > 0 ? Math.min(rate, limit) : rate);
    const down = cap(row.down.bytesPerSecond, limits.download);
    const up = cap(row.up.bytesPerSecond, limits.upload);
    const peers = `${s.peers} peer${s.peers === 1 ? '' : 's'}`;
    let rest: string;
    if (s.state === 'paused' || s.state === 'stopped' || s.state === 'error') {
      rest = `${s.state}${s.finished ? `: ${s.finished}` : s.error ? `: ${s.error}` : ''}`;
    } else if (s.state === 'checking') {
      rest = 'checking files…';
    } else if (row.mode === 'seed' && s.state === 'seeding') {
      const base = s.downloaded > 0 ? s.downloaded : s.totalLength;
      const ratio = base > 0 ? (s.uploaded / base).toFixed(2) : '0.00';
      rest = `seeding | ↑ ${formatBytes(Math.round(up))}/s | ${peers} | ${formatBytes(s.uploaded)} sent, ratio ${ratio}`;
    } else {
      const filled = Math.round(s.progress * BAR_WIDTH);
      const bar = `${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}`;
      const pct = `${(Math.floor(s.progress * 1000) / 10).toFixed(1)}%`;
      const left = s.totalLength - s.bytesHave;
      // The ETA of the smoothed rate (as shown, within the limit); "-" until it means something.
      const meaningful = row.down.eta(left) !== undefined && down >= 1;
      const eta =
        s.progress >= 1 ? 'done' : meaningful ? formatDuration(Math.ceil(left / down)) : '-';
      rest = `[${bar}] ${pct} | ↓ ${formatBytes(Math.round(down))}/s ↑ ${formatBytes(Math.round(up))}/s | ${peers} | ETA ${eta}`;
    }
    const width = Math.max(40, (this.out.columns || 100) - 1);
    const room = width - rest.length - 1;
    const name = s.name.length <= room ? s.name : `${s.name.slice(0, Math.max(8, room - 1))}…`;
    return `${name} ${rest}`.slice(0, width);
  }
}
