/** What the choker needs to know about one connected peer. */
export interface ChokeCandidate {
  readonly id: number;
  readonly interested: boolean;
  /** Bytes per second we receive from it. */
  readonly downloadRate: number;
  /** Bytes per second we send to it. */
  readonly uploadRate: number;
  /** It has sent us nothing for a long time despite being asked. */
  readonly snubbed: boolean;
}

/**
 * Decides who may download from us (BEP 3 tit-for-tat): while leeching, the interested peers
 * that give us the most; while seeding, those we can serve fastest (which spreads pieces
 * quickest); snubbed peers never earn a regular slot. One extra optimistic slot goes to
 * `optimistic` so newcomers get a chance to prove themselves.
 */
export function chooseUnchoked(
  peers: readonly ChokeCandidate[],
  slots: number,
  seeding: boolean,
  optimistic: number | undefined,
): Set<number> {
  const ranked = peers
    .filter((p) => p.interested && !p.snubbed)
    .sort((a, b) => (seeding ? b.uploadRate - a.uploadRate : b.downloadRate - a.downloadRate));
  const chosen = new Set(ranked.slice(0, slots).map((p) => p.id));
  if (optimistic !== undefined) chosen.add(optimistic);
  return chosen;
}

/** Picks the next optimistic unchoke: a random interested peer not already chosen. */
export function pickOptimistic(
  peers: readonly ChokeCandidate[],
  exclude: ReadonlySet<number>,
  random: (n: number) => number,
): number | undefined {
  const pool = peers.filter((p) => p.interested && !exclude.has(p.id));
  return pool.length === 0 ? undefined : pool[random(pool.length)]!.id;
}
