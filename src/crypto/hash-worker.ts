/** Worker-thread entry: hashes jobs posted by {@link HashPool} off the main thread. */
import { parentPort } from 'node:worker_threads';
import { type HashJob, runHashJob } from './hash-job.js';

parentPort?.on('message', (message: { id: number; job: HashJob }) => {
  const result = runHashJob(message.job);
  const transfer: ArrayBuffer[] = [result.buffer];
  parentPort?.postMessage({ id: message.id, result }, transfer);
});
