import type { MutableSettings, NodeSettings, TorrentSeedLimits } from './control.js';

/**
 * Seeding limits in Transmission's RPC terms. Transmission has a ratio limit and an idle limit
 * (no seeding-time limit), each per session (`seedRatioLimit` + `seedRatioLimited`,
 * `idle-seeding-limit` + `idle-seeding-limit-enabled`) and per torrent with a mode: 0 follow
 * the session, 1 the torrent's own value, 2 unlimited. A disabled limit keeps its value, so
 * the values are remembered here as Transmission does.
 */

/** Transmission's per-torrent limit modes. */
export const TR_LIMIT_MODE = { global: 0, single: 1, unlimited: 2 } as const;

/** The mode of one of shoal's per-torrent limits (null follows the node, 0 is none). */
export function trLimitMode(own: number | null | undefined): number {
  if (own === null || own === undefined) return TR_LIMIT_MODE.global;
  return own === 0 ? TR_LIMIT_MODE.unlimited : TR_LIMIT_MODE.single;
}

/** Values remembered while a limit is off (Transmission's defaults until set). */
export interface RememberedSeedLimits {
  ratio: number;
  idleMinutes: number;
}

/** What the per-torrent `torrent-set` arguments make of a torrent's limits. */
export function torrentSetSeedLimits(
  args: Readonly<Record<string, unknown>>,
  current: TorrentSeedLimits,
  remembered: RememberedSeedLimits,
): TorrentSeedLimits {
  const next = { ...current };
  const apply = (key: 'ratio' | 'idleMinutes', modeArg: string, limitArg: string) => {
    const limit = nonNegative(args, limitArg);
    const mode = args[modeArg];
    if (limit !== undefined) remembered[key] = limit;
    if (mode === undefined) {
      // A new value takes effect at once only for a torrent already using its own.
      if (limit !== undefined && trLimitMode(current[key]) === TR_LIMIT_MODE.single)
        next[key] = limit;
      return;
    }
    if (mode === TR_LIMIT_MODE.global) next[key] = null;
    else if (mode === TR_LIMIT_MODE.unlimited) next[key] = 0;
    else if (mode === TR_LIMIT_MODE.single) next[key] = remembered[key];
    else throw new Error(`"${modeArg}" must be 0 (session), 1 (this torrent) or 2 (unlimited)`);
  };
  apply('ratio', 'seedRatioMode', 'seedRatioLimit');
  apply('idleMinutes', 'seedIdleMode', 'seedIdleLimit');
  return next;
}

/** True when `torrent-set` arguments touch seeding limits. */
export function touchesSeedLimits(args: Readonly<Record<string, unknown>>): boolean {
  return ['seedRatioMode', 'seedRatioLimit', 'seedIdleMode', 'seedIdleLimit'].some(
    (k) => args[k] !== undefined,
  );
}

/** The `session-get` fields about seeding limits. */
export function sessionSeedFields(
  s: NodeSettings,
  remembered: RememberedSeedLimits,
): Record<string, unknown> {
  return {
    seedRatioLimit: s.seedRatioLimit > 0 ? s.seedRatioLimit : remembered.ratio,
    seedRatioLimited: s.seedRatioLimit > 0,
    'idle-seeding-limit':
      s.seedIdleLimitMinutes > 0 ? s.seedIdleLimitMinutes : remembered.idleMinutes,
    'idle-seeding-limit-enabled': s.seedIdleLimitMinutes > 0,
  };
}

/** What `session-set` arguments change in the node's seeding limits. */
export function sessionSeedChanges(
  args: Readonly<Record<string, unknown>>,
  current: NodeSettings,
  remembered: RememberedSeedLimits,
): Partial<MutableSettings> {
  const ratio = nonNegative(args, 'seedRatioLimit');
  const idle = nonNegative(args, 'idle-seeding-limit');
  // A limit set another way (the REST API, config.json) is the one a switch-off keeps.
  if (current.seedRatioLimit > 0) remembered.ratio = current.seedRatioLimit;
  if (current.seedIdleLimitMinutes > 0) remembered.idleMinutes = current.seedIdleLimitMinutes;
  if (ratio !== undefined && ratio > 0) remembered.ratio = ratio;
  if (idle !== undefined && idle > 0) remembered.idleMinutes = idle;
  const ratioOn = flag(args, 'seedRatioLimited') ?? current.seedRatioLimit > 0;
  const idleOn = flag(args, 'idle-seeding-limit-enabled') ?? current.seedIdleLimitMinutes > 0;
  return {
    seedRatioLimit: ratioOn ? remembered.ratio : 0,
    seedIdleLimitMinutes: idleOn ? remembered.idleMinutes : 0,
  };
}

function nonNegative(args: Readonly<Record<string, unknown>>, key: string): number | undefined {
  const v = args[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
    throw new Error(`"${key}" must be a number ≥ 0`);
  return v;
}

function flag(args: Readonly<Record<string, unknown>>, key: string): boolean | undefined {
  const v = args[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new Error(`"${key}" must be true or false`);
  return v;
}
