import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | undefined | null = null;

/**
 * Live heap bytes after a full garbage collection when one can be forced (V8's `gc` made
 * available for this one call), else the current heap use. For "memory per simulated node".
 */
export function liveHeapBytes(): number {
  if (collect === null) {
    try {
      setFlagsFromString('--expose-gc');
      collect = runInNewContext('gc') as () => void;
    } catch {
      collect = undefined;
    }
  }
  collect?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.external; // external includes array buffers
}

/** Peak resident set size of the process so far, bytes. */
export function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}
