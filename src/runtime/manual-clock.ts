import type { Clock, TimerHandle, Timers } from './runtime.js';

interface Scheduled {
  at: number;
  seq: number;
  periodMs: number | undefined;
  callback: () => void;
  cancelled: boolean;
}

/**
 * A clock that moves only when told to, with timers that fire in (time, order-scheduled)
 * order. Unit tests use it to drive timeouts and retries without waiting.
 */
export class ManualClock implements Clock, Timers {
  private time: number;
  private seq = 0;
  private queue: Scheduled[] = [];

  constructor(
    startMs = 0,
    private readonly epochMs = 1_700_000_000_000,
  ) {
    this.time = startMs;
  }

  now(): number {
    return this.time;
  }

  wallTime(): number {
    return this.epochMs + this.time;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    return this.schedule(callback, delayMs, undefined);
  }

  setInterval(callback: () => void, periodMs: number): TimerHandle {
    return this.schedule(callback, periodMs, Math.max(1, periodMs));
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const target = this.time + ms;
    for (;;) {
      this.queue = this.queue.filter((s) => !s.cancelled);
      this.queue.sort((x, y) => x.at - y.at || x.seq - y.seq);
      const next = this.queue[0];
      if (next === undefined || next.at > target) break;
      this.time = next.at;
      if (next.periodMs === undefined) next.cancelled = true;
      else {
        next.at += next.periodMs;
        next.seq = this.seq++;
      }
      next.callback();
    }
    this.time = target;
  }

  /** Number of timers still scheduled. */
  pending(): number {
    return this.queue.filter((s) => !s.cancelled).length;
  }

  private schedule(
    callback: () => void,
    delayMs: number,
    periodMs: number | undefined,
  ): TimerHandle {
    const s: Scheduled = {
      at: this.time + Math.max(0, delayMs),
      seq: this.seq++,
      periodMs,
      callback,
      cancelled: false,
    };
    this.queue.push(s);
    return {
      cancel: () => {
        s.cancelled = true;
      },
    };
  }
}
