/**
 * Seeding limits, as Transmission and qBittorrent users know them: stop seeding a torrent once
 * it uploaded N times what it downloaded, after N minutes of seeding, or after N minutes
 * without uploading anything. 0 means no limit.
 */
export interface SeedLimits {
  /** Uploaded ÷ downloaded (÷ the size for a torrent seeded from the start). */
  readonly ratio: number;
  readonly seedTimeMinutes: number;
  readonly idleMinutes: number;
}

/** The most seeding time one tick may account for. */
const MAX_TICK_GAP_MS = 2000;

/** No limit at all: seed until told to stop. */
export const NO_SEED_LIMITS: SeedLimits = { ratio: 0, seedTimeMinutes: 0, idleMinutes: 0 };

/**
 * A torrent's own limits: a given value replaces the node's (0: no limit for this torrent,
 * whatever the node says); an absent one follows the node's.
 */
export type SeedLimitOverrides = { -readonly [K in keyof SeedLimits]?: number };

/** Which limit stopped a torrent, and a sentence saying so. */
export interface SeedLimitReached {
  readonly limit: keyof SeedLimits;
  readonly message: string;
}

/** What the limiter reads of a torrent each tick. */
export interface SeedProgress {
  readonly uploaded: number;
  readonly downloaded: number;
  readonly totalLength: number;
}

/**
 * Watches one torrent while it seeds and says when one of its limits is reached. Time seeding
 * and idle time are counted in this session, from the ticks it is given; so are the bytes.
 */
export class SeedLimiter {
  private seedingMs = 0;
  private lastTickAt: number | undefined;
  private lastUploaded = -1;
  private idleSince = 0;

  constructor(
    /** The node's limits (they may change while the torrent runs). */
    private readonly nodeLimits: () => SeedLimits,
    /** The torrent's own limits. */
    public overrides: SeedLimitOverrides = {},
  ) {}

  /** The limits in force: the torrent's own where it has them, else the node's. */
  effective(): SeedLimits {
    const node = this.nodeLimits();
    return {
      ratio: this.overrides.ratio ?? node.ratio,
      seedTimeMinutes: this.overrides.seedTimeMinutes ?? node.seedTimeMinutes,
      idleMinutes: this.overrides.idleMinutes ?? node.idleMinutes,
    };
  }

  /** Minutes seeded so far in this session. */
  get seedingMinutes(): number {
    return this.seedingMs / 60_000;
  }

  /**
   * One housekeeping tick at `now` (ms); `seeding` says whether the torrent seeds now. Returns
   * the limit reached, if one is.
   */
  tick(
    now: number,
    seeding: boolean,
    p: SeedProgress,
    /** The longest gap since the last tick that counts as seeding (a quiet torrent ticks seldom). */
    maxGapMs = MAX_TICK_GAP_MS,
  ): SeedLimitReached | undefined {
    const last = this.lastTickAt;
    this.lastTickAt = now;
    if (!seeding) {
      this.lastUploaded = -1;
      return undefined;
    }
    // Ticks come every second; a longer gap is time spent paused or failed, not seeding.
    if (last !== undefined) this.seedingMs += Math.min(now - last, maxGapMs);
    if (p.uploaded !== this.lastUploaded) {
      // Seeding just began, or something went out: the idle clock starts again.
      if (this.lastUploaded < 0 || p.uploaded > this.lastUploaded) this.idleSince = now;
      this.lastUploaded = p.uploaded;
    }
    const limits = this.effective();
    const base = p.downloaded > 0 ? p.downloaded : p.totalLength;
    const ratio = base > 0 ? p.uploaded / base : 0;
    if (limits.ratio > 0 && ratio >= limits.ratio)
      return { limit: 'ratio', message: `seeding ratio ${limits.ratio} reached` };
    if (limits.seedTimeMinutes > 0 && this.seedingMs >= limits.seedTimeMinutes * 60_000)
      return {
        limit: 'seedTimeMinutes',
        message: `seeded for ${limits.seedTimeMinutes} minutes`,
      };
    if (limits.idleMinutes > 0 && now - this.idleSince >= limits.idleMinutes * 60_000)
      return { limit: 'idleMinutes', message: `idle for ${limits.idleMinutes} minutes` };
    return undefined;
  }

  /** The limit that stopped the torrent, while it stays stopped. */
  reached: SeedLimitReached | undefined;

  /**
   * The user started the torrent again: if a limit had stopped it, that limit no longer
   * applies to it (as Transmission does on a manual start), or it would stop again at once.
   */
  resumed(): void {
    const limit = this.reached?.limit;
    this.reached = undefined;
    // Idle time counts again from now; the time paused was not seeding.
    this.lastUploaded = -1;
    this.lastTickAt = undefined;
    if (limit !== undefined) this.overrides = { ...this.overrides, [limit]: 0 };
  }
}
