import type { Timers } from '../runtime/runtime.js';

/**
 * The blocks an uploader has handed to its peers' sockets that have not gone out yet, counted
 * across all peers. A block handed to a socket is committed: it can no longer be refused when
 * the peer is choked nor given to another peer, and the link shares its time among every socket
 * that holds data, so with many blocks queued every piece arrives late. Kept small, the queue of
 * requests stays with us and pieces go out one after another: each reaches its peer sooner and
 * is passed on sooner. In the simulator's 1,000-leecher crowd, a budget of 8 blocks (a second
 * at the peers' 1 Mbit/s) gave the median leecher 21 pieces at 20 s instead of 12, the seed's
 * first copies were all out 6 s sooner, and the last leecher finished in 1.19 x T_min, not 1.209.
 */
export class SendBacklog<K> {
  private readonly perKey = new Map<K, number>();
  private blocks = 0;
  private waiters: (() => void)[] = [];

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

  /** A block for `key` is being handed to its socket. */
  add(key: K): void {
    this.perKey.set(key, (this.perKey.get(key) ?? 0) + 1);
    this.blocks++;
  }

  /** A block of `key`'s went out or will not be sent (nothing if `key` was dropped meanwhile). */
  remove(key: K): void {
    const n = this.perKey.get(key);
    if (n === undefined) return;
    if (n <= 1) this.perKey.delete(key);
    else this.perKey.set(key, n - 1);
    this.blocks--;
    this.waiters.shift()?.();
  }

  /** `key` is gone: its blocks never will go out. */
  drop(key: K): void {
    const n = this.perKey.get(key);
    if (n === undefined) return;
    this.perKey.delete(key);
    this.blocks -= n;
    this.wakeAll();
  }

  /** Resolves when a block goes out, or after `maxMs` (so a wait is never stuck). */
  wait(maxMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        timer.cancel();
        resolve();
      };
      const timer = this.timers.setTimeout(() => {
        const i = this.waiters.indexOf(wake);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve();
      }, maxMs);
      this.waiters.push(wake);
    });
  }

  private wakeAll(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
