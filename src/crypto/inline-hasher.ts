import { type HashJob, type HashJobResult, type PieceHasher, runHashJob } from './hash-job.js';

/**
 * Hashes on the calling thread, synchronously, and hands back an already-resolved promise.
 * For the simulator: a worker thread would finish in real time, outside virtual time, and make
 * runs unrepeatable. Also handy where threads are unwanted (tiny torrents, tests).
 */
export class InlineHasher implements PieceHasher {
  readonly size = 1;

  /** Nothing to get ready: the calling thread is there already. */
  warm(): void {}

  run(job: HashJob): Promise<HashJobResult> {
    try {
      return Promise.resolve(runHashJob(job));
    } catch (error) {
      return Promise.reject(error);
    }
  }
}
