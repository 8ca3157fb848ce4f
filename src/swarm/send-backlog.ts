import type { Timers } from '../runtime/runtime.js';

/**
 * The blocks an uploader has handed to its peers' sockets that have not gone out yet, counted
 * across all peers, and whose turn it is to start the next piece. A block handed to a socket is
 * committed: it can no longer be refused when the peer is choked nor given to another peer, and
 * the link shares its time among every socket that holds data, so with blocks of many pieces
 * queued every piece arrives late. Kept small, the queue of requests stays with us and pieces
 * go out one after another: each reaches its peer sooner and is passed on sooner. A peer that
 * is in the middle of a piece goes on with it; one that would start a piece while others wait
 * to start theirs queues behind them, so the pieces go round the peers one at a time.
 */
export class SendBacklog<K> {
  private readonly perKey = new Map<K, number>();
  private blocks = 0;
  /** Keys waiting to start their next piece, longest-waiting first. */
  private readonly turns: K[] = [];
  /** Keys in the middle of a piece: the next block they send is of the same piece. */
  private readonly underway = new Set<K>();
  /** How to wake each key that waits (for room, or for its turn). */
  private readonly wakers = new Map<K, () => void>();

  constructor(private readonly timers: Timers) {}

  /** Blocks handed to sockets and not yet gone out. */
  get size(): number {
    return this.blocks;
  }

  /**
   * True when fewer than `budget` blocks wait. Blocks of peers for which `counts` is false (a
   * peer that does not read what we send) are left out: they hold no one else back.
   */
  hasRoom(budget: number, counts: (key: K) => boolean): boolean {
    if (this.blocks < budget) return true;
    let live = 0;
    for (const [key, n] of this.perKey) if (counts(key)) live += n;
    return live < budget;
  }

  /**
   * True when `key` may start a piece: nobody waits to start one, or `key` waited longest and
   * no other key is in the middle of a piece.
   */
  isTurnOf(key: K): boolean {
    if (this.turns.length === 0) return true;
    if (this.turns[0] !== key) return false;
    return this.underway.size === 0 || (this.underway.size === 1 && this.underway.has(key));
  }

  /**
   * A block for `key` is being handed to its socket (its turn, if it waited for one, is used);
   * `continues` when its next block is of the same piece.
   */
  add(key: K, continues: boolean): void {
    this.perKey.set(key, (this.perKey.get(key) ?? 0) + 1);
    this.blocks++;
    const wasFirst = this.leaveTurns(key);
    if (continues) this.underway.add(key);
    else if (this.underway.delete(key) || wasFirst) this.wake();
  }

  /** A block of `key`'s went out or will not be sent (nothing if `key` was dropped meanwhile). */
  remove(key: K): void {
    const n = this.perKey.get(key);
    if (n === undefined) return;
    if (n <= 1) this.perKey.delete(key);
    else this.perKey.set(key, n - 1);
    this.blocks--;
    this.wake();
  }

  /** `key` is gone: its blocks never will go out, and it waits for nothing. */
  drop(key: K): void {
    this.blocks -= this.perKey.get(key) ?? 0;
    this.perKey.delete(key);
    this.wakers.delete(key);
    this.underway.delete(key);
    this.leaveTurns(key);
    this.wake();
  }

  /** `key` no longer waits (it stopped sending): the next key may start its piece. */
  leave(key: K): void {
    this.wakers.delete(key);
    const wasUnderway = this.underway.delete(key);
    if (this.leaveTurns(key) || wasUnderway) this.wake();
  }

  /**
   * Resolves when `key` may try again: a block went out (and it continues a piece, or its turn
   * to start one has come), or after `maxMs` (so a wait is never stuck). With `toStart`, `key`
   * queues for its turn to start a piece, keeping its place over repeated waits.
   */
  wait(key: K, maxMs: number, toStart: boolean): Promise<void> {
    if (toStart && !this.turns.includes(key)) this.turns.push(key);
    return new Promise<void>((resolve) => {
      const timer = this.timers.setTimeout(() => {
        if (this.wakers.get(key) === wake) this.wakers.delete(key);
        resolve();
      }, maxMs);
      const wake = () => {
        timer.cancel();
        resolve();
      };
      this.wakers.set(key, wake); // one serve loop per key: never two waits at once
    });
  }

  /**
   * Wakes the keys that continue a piece, or when none does, the one whose turn it is to start
   * one: pieces under way go first, so they finish one after another.
   */
  private wake(): void {
    let continuing = false;
    for (const [key, wake] of this.wakers) {
      if (this.turns.includes(key)) continue;
      continuing = true;
      this.wakers.delete(key);
      wake();
    }
    const head = this.turns[0];
    if (head === undefined || continuing || !this.isTurnOf(head)) return;
    const wakeHead = this.wakers.get(head);
    if (wakeHead === undefined) return;
    this.wakers.delete(head);
    wakeHead();
  }

  /** Takes `key` off the queue of turns; true if it was first. */
  private leaveTurns(key: K): boolean {
    const i = this.turns.indexOf(key);
    if (i >= 0) this.turns.splice(i, 1);
    return i === 0;
  }
}
