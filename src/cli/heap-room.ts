import { totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { rerunSelf } from '../runtime/process.js';

/** Set in the environment of the re-run, so it never re-runs again. */
const RERUN_MARK = 'SHOAL_HEAP_ROOM';
const MIB = 1024 * 1024;

/** What {@link heapRoomFlags} decides from. */
export interface HeapRoomFacts {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly execArgv: readonly string[];
  readonly heapLimitMiB: number;
  readonly totalMemoryMiB: number;
}

/**
 * Young-generation semi-space for a large simulation, in MiB. Scavenges of a multi-GiB heap cost
 * tens of milliseconds however little they free, so fewer of them pay: `shoal sim dht --nodes
 * 100000` took 23.9 minutes with 64 against 30.9 with V8's default (16), at 5.0 GiB peak RSS
 * against 4.6; `shoal sim swarm --leechers 300` 339 s with 64, 331 s with 128 and 313 s with
 * 256 (1.47, 1.55 and 1.81 GB peak RSS; a 2-core AMD EPYC VM).
 */
const SEMI_SPACE_MIB = 256;

/**
 * The Node flags that give a large simulation room — a heap of three quarters of the machine's
 * memory and a larger young generation ({@link SEMI_SPACE_MIB}) — or undefined when this
 * process should go on as it is: it is the re-run already, someone chose a heap limit
 * (`--max-old-space-size` in Node's flags or `NODE_OPTIONS`), or the limit is that large
 * anyway. Node's default stops near 4 GiB whatever the machine, and `shoal sim dht --nodes
 * 100000` or `sim swarm --leechers 1000` need more. A semi-space someone chose is kept.
 */
export function heapRoomFlags(facts: HeapRoomFacts): string[] | undefined {
  if (facts.env[RERUN_MARK] !== undefined) return undefined;
  const flags = [...facts.execArgv, facts.env.NODE_OPTIONS ?? ''];
  const chosen = (name: string) => flags.some((f) => f.includes(name));
  const want = Math.floor(facts.totalMemoryMiB * 0.75);
  if (chosen('--max-old-space-size') || facts.heapLimitMiB >= want) return undefined;
  const room = [`--max-old-space-size=${want}`];
  if (!chosen('--max-semi-space-size')) room.push(`--max-semi-space-size=${SEMI_SPACE_MIB}`);
  return room;
}

/**
 * For `shoal sim`: re-runs the command once with {@link heapRoomFlags}' flags when it says so;
 * undefined when this process should go on itself.
 */
export function rerunWithHeapRoom(): Promise<number> | undefined {
  const flags = heapRoomFlags({
    env: process.env,
    execArgv: process.execArgv,
    heapLimitMiB: getHeapStatistics().heap_size_limit / MIB,
    totalMemoryMiB: totalmem() / MIB,
  });
  return flags === undefined ? undefined : rerunSelf(flags, { [RERUN_MARK]: '1' });
}
