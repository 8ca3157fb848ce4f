/** Worker-thread entry: hashes jobs posted by {@link HashPool} off the main thread. */
import { serveParent } from '../runtime/workers.js';
import { type HashJob, runHashJob, transferList } from './hash-job.js';

serveParent((message) => {
  const m = message as { id: number; job: HashJob };
  const result = runHashJob(m.job);
  return [{ id: m.id, result }, transferList(result.buffer)];
});
