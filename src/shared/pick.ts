import type { RandomSource } from '../runtime/runtime.js';

/**
 * One entry of `list` at random, or undefined when it is empty (the real random source refuses
 * to draw from an empty range, so every draw from a list that may be empty goes through here).
 */
export function pickOne<T>(random: RandomSource, list: readonly T[]): T | undefined {
  return list.length === 0 ? undefined : list[random.int(list.length)];
}
