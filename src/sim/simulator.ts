import { promiseHooks } from 'node:v8';
import type { TimerHandle } from '../runtime/runtime.js';
import { SeededRandom } from '../runtime/seeded-random.js';
import { SimError } from './errors.js';
import { EventQueue, SimEvent, type SimOwner } from './event-queue.js';
import { Trace } from './trace.js';

/** Trace tags for the kinds of events the simulator runs. */
export const EventKind = {
  timer: 1,
  udp: 2,
  tcpSegment: 3,
  tcpControl: 4,
  scenario: 5,
  churn: 6,
} as const;

/** Virtual epoch: `wallTime()` of virtual time 0 (2024-01-01T00:00:00Z). */
export const SIM_EPOCH_MS = 1_704_067_200_000;

/** Microtask turns after which a drain gives up: something is looping without ever waiting. */
const MAX_DRAIN_TURNS = 1_000_000;
/** How often (in events) the loop checks that no real I/O has been started. */
const REAL_IO_CHECK_EVERY = 1 << 16;

/** Node's live handles and requests (timers, sockets, file requests, workers) by type. */
function realResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1);
  return counts;
}

/** Types of which there are more now than in `before`. */
function newResources(before: Map<string, number>): string[] {
  const out: string[] = [];
  for (const [type, n] of realResources()) if (n > (before.get(type) ?? 0)) out.push(type);
  return out;
}

/** Promise reaction jobs run so far, counted by a V8 promise hook while a simulation runs. */
let reactions = 0;

/** Told about every run now and then (see {@link watchProgress}). */
let progressWatcher: ((sim: Simulator) => void) | undefined;

/**
 * Has `watcher` called every 65,536 events of any simulation run, for a progress line during
 * long runs (`shoal sim --progress`); it must only read, never schedule. Undefined stops it.
 */
export function watchProgress(watcher: ((sim: Simulator) => void) | undefined): void {
  progressWatcher = watcher;
}

/**
 * Deterministic discrete-event simulation over virtual time. One event queue ordered by
 * (time, sequence), one seeded PRNG for everything, and a run loop that after each event lets
 * every pending microtask run before the clock moves, so `async` engine code behaves exactly as
 * it would on a real event loop — but replays identically. Nothing here touches real timers,
 * sockets or the disk: the loop never yields to the macrotask queue while it runs.
 */
export class Simulator {
  /** Virtual milliseconds since the start. */
  now = 0;
  readonly random: SeededRandom;
  readonly trace = new Trace();
  /** Events run so far (cancelled ones not counted). */
  eventsRun = 0;
  /**
   * Bumped by every call into the simulated runtime. A drain ends only when a microtask turn
   * saw neither promise reactions nor runtime calls, so work started from `queueMicrotask`
   * callbacks is waited for too.
   */
  activity = 0;
  private readonly queue = new EventQueue();
  private seq = 0;
  private running = false;

  constructor(readonly seed: number) {
    this.random = new SeededRandom(seed);
  }

  /** Events waiting in the queue (cancelled ones included until they are reached). */
  get pending(): number {
    return this.queue.size;
  }

  /** Runs `fn` at virtual time `time` (not earlier than now). */
  at(time: number, fn: () => void, owner?: SimOwner, kind: number = EventKind.timer): SimEvent {
    this.activity++;
    const e = new SimEvent(Math.max(time, this.now), this.seq++, fn, owner, kind);
    this.queue.push(e);
    return e;
  }

  /** Runs `fn` after `delayMs` of virtual time. */
  after(delayMs: number, fn: () => void, owner?: SimOwner, kind?: number): SimEvent {
    return this.at(this.now + Math.max(0, delayMs), fn, owner, kind);
  }

  /** Runs `fn` every `periodMs` (first after one period) until cancelled. */
  every(periodMs: number, fn: () => void, owner?: SimOwner): TimerHandle {
    const period = Math.max(1, periodMs);
    let current: SimEvent | undefined;
    let cancelled = false;
    const fire = () => {
      if (cancelled) return;
      current = this.after(period, fire, owner);
      fn();
    };
    current = this.after(period, fire, owner);
    return {
      cancel: () => {
        cancelled = true;
        current?.cancel();
      },
    };
  }

  /** A promise that resolves after `ms` of virtual time (for scenario scripts). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve, undefined, EventKind.scenario));
  }

  /**
   * Runs events until virtual time `untilMs` (then sets the clock there), until `stop()` says
   * so, or until nothing is left to do.
   */
  async run(untilMs = Number.POSITIVE_INFINITY, stop?: () => boolean): Promise<void> {
    if (this.running) throw new SimError('SIM_REENTRANT', 'the simulation is already running');
    this.running = true;
    const hook = promiseHooks.createHook({
      before: () => {
        reactions++;
      },
    });
    const resources = realResources();
    const checkRealIo = () => {
      const started = newResources(resources);
      if (started.length > 0)
        throw new SimError(
          'SIM_REAL_IO',
          `simulated code started real I/O (${started.join(', ')}), which would run outside ` +
            'virtual time; everything must go through the simulated runtime',
        );
    };
    try {
      await this.drain();
      for (;;) {
        if (stop?.()) break;
        const e = this.queue.peek();
        if (e === undefined || e.time > untilMs) break;
        this.queue.pop();
        if (e.cancelled || (e.owner !== undefined && !e.owner.alive)) continue;
        this.now = e.time;
        if ((++this.eventsRun & (REAL_IO_CHECK_EVERY - 1)) === 0) {
          checkRealIo();
          progressWatcher?.(this);
        }
        this.trace.event(e.time, e.kind, e.owner?.index ?? 0xffffffff);
        e.fn();
        await this.drain();
      }
      checkRealIo();
      if (Number.isFinite(untilMs) && this.now < untilMs && !stop?.()) this.now = untilMs;
    } finally {
      hook();
      this.running = false;
    }
  }

  /** Runs until `promise` settles (or `maxMs` of virtual time pass) and returns its outcome. */
  async runUntilSettled<T>(promise: Promise<T>, maxMs = Number.POSITIVE_INFINITY): Promise<T> {
    let settled = false;
    promise.then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    await this.run(this.now + maxMs, () => settled);
    if (!settled)
      throw new SimError('SIM_TIMEOUT', `still waiting after ${maxMs} ms of virtual time`);
    return promise;
  }

  /**
   * Lets every pending microtask run: yields until a turn passes in which nothing but our own
   * continuation ran. Never involves a macrotask, so no real I/O can interleave.
   */
  private async drain(): Promise<void> {
    for (let i = 0; i < MAX_DRAIN_TURNS; i++) {
      const before = reactions + this.activity;
      await null;
      if (reactions + this.activity - before <= 1) return;
    }
    throw new SimError(
      'SIM_LIVELOCK',
      `microtasks kept running for ${MAX_DRAIN_TURNS} turns at ${this.now} ms without waiting`,
    );
  }
}
