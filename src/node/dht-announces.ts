import type { Clock, TimerHandle, Timers } from '../runtime/runtime.js';

/** How the schedule paces announces. */
export interface DhtAnnounceScheduleOptions {
  /** How often each torrent is announced. */
  readonly intervalMs: number;
  /** The least time between two announces starting (new torrents go at this pace). */
  readonly minGapMs: number;
  /** Announces under way at once, at most. */
  readonly maxRunning: number;
}

/**
 * A node's DHT announces, spread out: each torrent is announced once per interval, one after
 * another (every interval / torrents), never more than a few at once, new torrents first. A
 * node that starts with 10,000 torrents does not begin 10,000 lookups at once, nor again every
 * 15 minutes.
 */
export class DhtAnnounceSchedule {
  /** Torrents never announced yet, first added first. */
  private readonly fresh = new Map<string, () => Promise<void>>();
  /** Torrents announced at least once, least recently announced first. */
  private readonly announced = new Map<string, () => Promise<void>>();
  private timer: TimerHandle | undefined;
  private running = 0;
  private lastStartAt = Number.NEGATIVE_INFINITY;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly timers: Timers,
    private readonly options: DhtAnnounceScheduleOptions,
  ) {}

  /** Announces torrent `id` with `announce` soon, then once per interval until removed. */
  add(id: string, announce: () => Promise<void>): void {
    if (this.stopped) return;
    this.remove(id);
    this.fresh.set(id, announce);
    // A wait for the next round may be long: a new torrent goes after the short gap.
    this.timer?.cancel();
    this.timer = undefined;
    this.pump();
  }

  /** Announces torrent `id` no more (one under way finishes). */
  remove(id: string): void {
    this.fresh.delete(id);
    this.announced.delete(id);
  }

  /** How many torrents are scheduled. */
  get size(): number {
    return this.fresh.size + this.announced.size;
  }

  /** Stops announcing anything. */
  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.fresh.clear();
    this.announced.clear();
  }

  /** Starts the next announce when it is time and there is room; else waits for either. */
  private pump(): void {
    if (this.stopped || this.timer !== undefined || this.running >= this.options.maxRunning) return;
    if (this.size === 0) return;
    const gap =
      this.fresh.size > 0
        ? this.options.minGapMs
        : Math.max(this.options.minGapMs, this.options.intervalMs / this.size);
    const wait = this.lastStartAt + gap - this.clock.now();
    if (wait > 0) {
      this.timer = this.timers.setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, wait);
      return;
    }
    const [id, announce] = (this.fresh.size > 0 ? this.fresh : this.announced).entries().next()
      .value!;
    this.remove(id);
    this.announced.set(id, announce); // to the back of the round
    this.lastStartAt = this.clock.now();
    this.running++;
    void announce()
      .catch(() => undefined)
      .finally(() => {
        this.running--;
        this.pump();
      });
    this.pump();
  }
}
