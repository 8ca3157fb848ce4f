import { totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { rerunSelf } from '../runtime/process.js';

/** Set in the environment of the re-run, so it never re-runs again. */
const RERUN_MARK = 'SHOAL_HEAP_ROOM';
const MIB = 1024 * 1024;

/** What {@link heapRoomFlag} decides from. */
export interface HeapRoomFacts {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly execArgv: readonly string[];
  readonly heapLimitMiB: number;
  readonly totalMemoryMiB: number;
}

/**
 * The Node flag that gives a large simulation room — a heap of three quarters of the machine's
 * memory — or undefined when this process should go on as it is: it is the re-run already,
 * someone chose a limit (`--max-old-space-size` in Node's flags or `NODE_OPTIONS`), or the
 * limit is that large anyway. Node's default stops near 4 GiB whatever the machine, and
 * `shoal sim dht --nodes 100000` or `sim swarm --leechers 1000` need more.
 */
export function heapRoomFlag(facts: HeapRoomFacts): string | undefined {
  if (facts.env[RERUN_MARK] !== undefined) return undefined;
  const chosen = [...facts.execArgv, facts.env.NODE_OPTIONS ?? ''].some((f) =>
    f.includes('--max-old-space-size'),
  );
  const want = Math.floor(facts.totalMemoryMiB * 0.75);
  if (chosen || facts.heapLimitMiB >= want) return undefined;
  return `--max-old-space-size=${want}`;
}

/**
 * For `shoal sim`: re-runs the command once with {@link heapRoomFlag}'s heap when it says so;
 * undefined when this process should go on itself.
 */
export function rerunWithHeapRoom(): Promise<number> | undefined {
  const flag = heapRoomFlag({
    env: process.env,
    execArgv: process.execArgv,
    heapLimitMiB: getHeapStatistics().heap_size_limit / MIB,
    totalMemoryMiB: totalmem() / MIB,
  });
  return flag === undefined ? undefined : rerunSelf([flag], { [RERUN_MARK]: '1' });
}
