import { realWorkers, type WorkerFactory, type WorkerHandle } from '../runtime/workers.js';
import { HashPoolClosedError } from './errors.js';
import { type HashJob, type HashJobResult, type PieceHasher, transferList } from './hash-job.js';

interface Pending {
  resolve: (result: HashJobResult) => void;
  reject: (error: Error) => void;
}

/**
 * A fixed set of worker threads that hash pieces, so that creating or verifying a multi-GiB
 * torrent keeps the event loop free. The threads start with the first job (a node that only
 * verifies small pieces never needs them). Jobs go to the least-busy worker; buffers are
 * transferred (or shared), not copied, both ways.
 */
export class HashPool implements PieceHasher {
  private readonly workers: { worker: WorkerHandle; busy: number }[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closed = false;

  readonly size: number;

  /** `size` defaults to the number of cores the process may use. Workers start on first use. */
  constructor(
    size?: number,
    private readonly threads: WorkerFactory = realWorkers,
  ) {
    this.size = size ?? threads.parallelism;
  }

  /**
   * Starts the threads now. A thread takes tens of milliseconds to boot (more on a busy machine);
   * a download that waits for its first verified piece before trusting a peer with more
   * requests should not spend them idle.
   */
  warm(): void {
    if (this.workers.length === 0 && !this.closed) this.start();
  }

  private start(): void {
    for (let i = 0; i < Math.max(1, this.size); i++) {
      // Spelled from the parent folder so that it also resolves from the bundled CLI's chunks
      // (dist/src/bin/), which sit one level below dist/src like this module's folder.
      const worker = this.threads.spawn(new URL('../crypto/hash-worker.js', import.meta.url));
      const slot = { worker, busy: 0 };
      worker.onMessage((message) => {
        const m = message as { id: number; result: HashJobResult };
        slot.busy--;
        if (slot.busy === 0) worker.unref();
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        p?.resolve(m.result);
      });
      worker.onError((error) => this.failAll(error));
      worker.unref();
      this.workers.push(slot);
    }
  }

  /**
   * Hashes `job` on a worker; an `ArrayBuffer` in `job.buffer` is unusable until the result
   * hands it back (shared memory is read in place).
   */
  run(job: HashJob): Promise<HashJobResult> {
    if (this.closed) return Promise.reject(new HashPoolClosedError());
    this.warm();
    const slot = this.workers.reduce((a, b) => (b.busy < a.busy ? b : a));
    const id = this.nextId++;
    slot.busy++;
    slot.worker.ref(); // keep the process alive while a job is outstanding
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, job }, transferList(job.buffer));
    });
  }

  /** Stops every worker; pending jobs fail. */
  async close(): Promise<void> {
    this.closed = true;
    this.failAll(new HashPoolClosedError());
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }

  private failAll(error: Error): void {
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }
}
