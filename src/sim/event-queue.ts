import type { TimerHandle } from '../runtime/runtime.js';

/** Whatever owns an event: its callbacks stop running once it is no longer alive (churn). */
export interface SimOwner {
  readonly alive: boolean;
  /** A small number naming the owner in the event trace. */
  readonly index: number;
}

/** What a cancelled event runs instead of its callback (which it lets go of). */
const NOTHING = (): void => {};

/**
 * One scheduled callback of the simulator. It doubles as the timer handle returned to the
 * code that scheduled it, so a timer costs one allocation.
 */
export class SimEvent implements TimerHandle {
  cancelled = false;

  constructor(
    readonly time: number,
    readonly seq: number,
    /** The callback; a cancelled event drops it, so what it holds can be collected at once. */
    public fn: () => void,
    readonly owner: SimOwner | undefined,
    /** Trace tag: what kind of event this is. */
    readonly kind: number,
  ) {}

  cancel(): void {
    this.cancelled = true;
    this.fn = NOTHING;
  }
}

/** Children per node of the heap: four siblings' keys share a cache line, and it is half as deep. */
const ARITY = 4;

/**
 * The simulator's agenda: a min-heap of events ordered by (time, sequence), so events at the
 * same virtual instant run in the order they were scheduled. The keys live in typed arrays
 * beside the events, so ordering never reads an event object: with a million events pending
 * (a thousand nodes' timers and segments) that is what kept the loop waiting on memory.
 * Cancelled events stay in the heap and are skipped when popped (cheaper than removing them).
 */
export class EventQueue {
  private times = new Float64Array(1024);
  private seqs = new Float64Array(1024);
  private events: (SimEvent | undefined)[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(e: SimEvent): void {
    if (this.count === this.times.length) this.grow();
    const times = this.times;
    const seqs = this.seqs;
    const events = this.events;
    const time = e.time;
    const seq = e.seq;
    let i = this.count++;
    while (i > 0) {
      const parent = ((i - 1) / ARITY) | 0;
      const pt = times[parent]!;
      if (pt < time || (pt === time && seqs[parent]! < seq)) break;
      times[i] = pt;
      seqs[i] = seqs[parent]!;
      events[i] = events[parent];
      i = parent;
    }
    times[i] = time;
    seqs[i] = seq;
    events[i] = e;
  }

  peek(): SimEvent | undefined {
    return this.count > 0 ? this.events[0] : undefined;
  }

  pop(): SimEvent | undefined {
    if (this.count === 0) return undefined;
    const times = this.times;
    const seqs = this.seqs;
    const events = this.events;
    const top = events[0];
    const n = --this.count;
    const time = times[n]!;
    const seq = seqs[n]!;
    const last = events[n];
    events[n] = undefined;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      const first = i * ARITY + 1;
      if (first >= n) break;
      const end = Math.min(first + ARITY, n);
      let c = first;
      let ct = times[first]!;
      let cs = seqs[first]!;
      for (let k = first + 1; k < end; k++) {
        const kt = times[k]!;
        if (kt < ct || (kt === ct && seqs[k]! < cs)) {
          c = k;
          ct = kt;
          cs = seqs[k]!;
        }
      }
      if (time < ct || (time === ct && seq < cs)) break;
      times[i] = ct;
      seqs[i] = cs;
      events[i] = events[c];
      i = c;
    }
    times[i] = time;
    seqs[i] = seq;
    events[i] = last;
    return top;
  }

  private grow(): void {
    const times = new Float64Array(this.times.length * 2);
    times.set(this.times);
    this.times = times;
    const seqs = new Float64Array(this.seqs.length * 2);
    seqs.set(this.seqs);
    this.seqs = seqs;
  }
}
