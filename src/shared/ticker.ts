import type { TimerHandle, Timers } from '../runtime/runtime.js';

/**
 * One interval timer shared by many subscribers: a node with 10,000 torrents runs one
 * one-second timer that ticks them all, instead of 10,000 timers of its own. The timer runs
 * only while someone subscribes.
 */
export class SharedTicker {
  private readonly subscribers = new Set<() => void>();
  private handle: TimerHandle | undefined;

  constructor(
    private readonly timers: Timers,
    readonly intervalMs: number,
  ) {}

  /** Calls `tick` every interval from now on, until the handle returned is cancelled. */
  subscribe(tick: () => void): TimerHandle {
    // A function given twice would tick once: wrap it so each subscription is its own.
    const entry = () => tick();
    this.subscribers.add(entry);
    this.handle ??= this.timers.setInterval(() => this.fire(), this.intervalMs);
    return {
      cancel: () => {
        this.subscribers.delete(entry);
        if (this.subscribers.size > 0) return;
        this.handle?.cancel();
        this.handle = undefined;
      },
    };
  }

  /** How many subscriptions are live. */
  get size(): number {
    return this.subscribers.size;
  }

  private fire(): void {
    // A subscriber cancelled during the loop is skipped; one added is ticked at once.
    for (const tick of this.subscribers) tick();
  }
}
