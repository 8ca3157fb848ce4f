import { totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { rerunSelf } from '../runtime/process.js';

/** Set in the environment of the re-run, so it never re-runs again. */
const RERUN_MARK = 'SHOAL_HEAP_ROOM';
const MIB = 1024 * 1024;

/**
 * The heap limit large simulations get: three quarters of the machine's memory. Node's default
 * stops near 4 GiB whatever the machine, and `shoal sim dht --nodes 100000` or `sim swarm
 * --leechers 1000` need more.
 */
export function simHeapMiB(): number {
  return Math.floor((totalmem() * 0.75) / MIB);
}

/**
 * For `shoal sim`: re-runs the command once with {@link simHeapMiB} of heap when Node's limit
 * is lower and nobody chose one (`--max-old-space-size` in the flags or `NODE_OPTIONS`);
 * undefined when this process should go on itself.
 */
export function rerunWithHeapRoom(): Promise<number> | undefined {
  if (process.env[RERUN_MARK] !== undefined) return undefined;
  const chosen = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((f) =>
    f.includes('--max-old-space-size'),
  );
  const want = simHeapMiB();
  if (chosen || getHeapStatistics().heap_size_limit / MIB >= want) return undefined;
  return rerunSelf([`--max-old-space-size=${want}`], { [RERUN_MARK]: '1' });
}
