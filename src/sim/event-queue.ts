import type { TimerHandle } from '../runtime/runtime.js';

/** Whatever owns an event: its callbacks stop running once it is no longer alive (churn). */
export interface SimOwner {
  readonly alive: boolean;
  /** A small number naming the owner in the event trace. */
  readonly index: number;
}

/**
 * One scheduled callback of the simulator. It doubles as the timer handle returned to the
 * code that scheduled it, so a timer costs one allocation.
 */
export class SimEvent implements TimerHandle {
  cancelled = false;

  constructor(
    readonly time: number,
    readonly seq: number,
    readonly fn: () => void,
    readonly owner: SimOwner | undefined,
    /** Trace tag: what kind of event this is. */
    readonly kind: number,
  ) {}

  cancel(): void {
    this.cancelled = true;
  }
}

/**
 * The simulator's agenda: a binary min-heap of events ordered by (time, sequence), so events at
 * the same virtual instant run in the order they were scheduled. Cancelled events stay in the
 * heap and are skipped when popped (cheaper than removing them).
 */
export class EventQueue {
  private heap: SimEvent[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(e: SimEvent): void {
    const h = this.heap;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent]!;
      if (p.time < e.time || (p.time === e.time && p.seq < e.seq)) break;
      h[i] = p;
      i = parent;
    }
    h[i] = e;
  }

  peek(): SimEvent | undefined {
    return this.heap[0];
  }

  pop(): SimEvent | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    const n = h.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      let child = h[l]!;
      if (r < n) {
        const rc = h[r]!;
        if (rc.time < child.time || (rc.time === child.time && rc.seq < child.seq)) {
          c = r;
          child = rc;
        }
      }
      if (last.time < child.time || (last.time === child.time && last.seq < child.seq)) break;
      h[i] = child;
      i = c;
    }
    h[i] = last;
    return top;
  }
}
