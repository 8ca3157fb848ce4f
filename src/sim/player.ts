import type { Clock, Timers } from '../runtime/runtime.js';
import type { PieceReader } from '../swarm/piece-reader.js';

/** How a simulated player behaves. */
export interface PlayerOptions {
  /** The media's bitrate: how fast playing consumes bytes. */
  readonly bytesPerSecond: number;
  /** Media buffered before playback starts, seconds. */
  readonly startupSeconds: number;
  /** Media buffered before playback resumes after a stall, seconds. */
  readonly resumeSeconds: number;
  /** The player stops reading while this much media is buffered ahead, seconds. */
  readonly maxBufferSeconds: number;
}

/** A browser-like player: 2 s to start, 1 s to resume, reads at most 30 s ahead. */
export const DEFAULT_PLAYER: Omit<PlayerOptions, 'bytesPerSecond'> = {
  startupSeconds: 2,
  resumeSeconds: 1,
  maxBufferSeconds: 30,
};

const TICK_MS = 100;

/**
 * A media player in virtual time reading a torrent stream: it fills a start-up buffer, then
 * plays, consuming bytes at the bitrate; when the buffer runs dry it stalls until enough is
 * buffered again. It reads through a {@link PieceReader} as a real player reads its HTTP
 * stream (pulling as long as its buffer has room), so the reader's deadlines and bitrate
 * estimate meet what a player does. Records start-up time, stalls and stalled time.
 */
export class SimPlayer {
  /** Bytes read from the stream, and bytes played. */
  private read = 0;
  private played = 0;
  private playing = false;
  private lastTick: number;
  private readonly startedAt: number;
  /** Bytes of the whole stream. */
  private readonly total: number;
  /** When playback first started (undefined until then). */
  firstPlayAt: number | undefined;
  stalls = 0;
  stalledMs = 0;
  finished = false;
  private readonly done: Promise<void>;
  private finish!: () => void;

  constructor(
    private readonly reader: PieceReader,
    private readonly clock: Clock,
    private readonly timers: Timers,
    private readonly options: PlayerOptions,
  ) {
    this.startedAt = clock.now();
    this.total = reader.end - reader.position;
    this.lastTick = this.startedAt;
    this.done = new Promise((resolve) => {
      this.finish = resolve;
    });
    const tick = timers.setInterval(() => this.tick(), TICK_MS);
    void this.done.then(() => tick.cancel());
    void this.pump();
  }

  /** Milliseconds from opening the stream to the first frame, once playing. */
  get startupMs(): number | undefined {
    return this.firstPlayAt === undefined ? undefined : this.firstPlayAt - this.startedAt;
  }

  /** Settles when the whole stream has been played. */
  whenFinished(): Promise<void> {
    return this.done;
  }

  private async pump(): Promise<void> {
    const rate = this.options.bytesPerSecond;
    while (!this.finished) {
      if (this.read - this.played >= this.options.maxBufferSeconds * rate) {
        await new Promise<void>((resolve) => this.timers.setTimeout(resolve, 250));
        continue;
      }
      const chunk = await this.reader.read().catch(() => undefined);
      if (!chunk) break;
      this.read += chunk.length;
    }
  }

  private tick(): void {
    const now = this.clock.now();
    const dt = now - this.lastTick;
    this.lastTick = now;
    const rate = this.options.bytesPerSecond;
    const atEnd = this.reader.position >= this.reader.end;
    if (this.playing) {
      this.played = Math.min(this.read, this.played + (rate * dt) / 1000);
      if (this.played >= this.total) {
        this.finished = true;
        this.reader.close();
        this.finish();
      } else if (this.played >= this.read) {
        this.playing = false;
        this.stalls++;
      }
      return;
    }
    if (this.firstPlayAt !== undefined) this.stalledMs += dt;
    const need =
      (this.firstPlayAt === undefined ? this.options.startupSeconds : this.options.resumeSeconds) *
      rate;
    if (this.read - this.played >= need || (atEnd && this.read > this.played)) {
      this.playing = true;
      this.firstPlayAt ??= now;
    }
  }
}
