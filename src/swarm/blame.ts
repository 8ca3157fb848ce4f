import type { RandomSource } from '../runtime/runtime.js';
import type { TorrentMetrics } from './metrics.js';
import type { PeerSession } from './peer-session.js';
import type { PieceJob } from './piece-job.js';

/** Banned addresses a torrent remembers for its `banned` count. */
const MAX_REMEMBERED_BANS = 4096;

/** What blame needs from its torrent. */
export interface BlameDeps {
  readonly random: RandomSource;
  /** Hash failures a peer may be blamed for before it is banned. */
  readonly banAfterFailures: number;
  readonly sessions: () => Iterable<PeerSession>;
  /** Bans the peer's address node-wide and drops its connections. */
  readonly ban: (session: PeerSession, reason: string) => void;
  readonly isBanned: (host: string) => boolean;
  /** Fetch piece `index` again from `peer` only. */
  readonly retryFrom: (index: number, size: number, peer: PeerSession) => void;
  readonly warn: (message: string) => void;
  readonly metrics: TorrentMetrics;
}

/**
 * Who is to blame for a piece that failed its hash check. A sole contributor is banned at once;
 * when several sent blocks, each gets a strike and two strikes ban, and the piece is fetched
 * again from one of them only, so the next failure names the culprit. A piece that verifies
 * clears its contributors' strikes.
 */
export class Blame {
  private readonly strikes = new Map<string, number>();
  /** Addresses this torrent banned (for bad data or forged hashes). */
  private readonly bannedHere = new Set<string>();

  constructor(private readonly deps: BlameDeps) {}

  /** The piece verified: its contributors are in good standing. */
  acquit(job: PieceJob): void {
    this.deps.metrics.piecesVerified.inc();
    for (const s of job.contributors) {
      this.strikes.delete(s.host);
      s.trusted = true;
    }
  }

  /** The piece failed its hash check. */
  convict(job: PieceJob): void {
    this.deps.metrics.piecesFailed.inc();
    this.deps.metrics.wasted.inc(job.size);
    const sole = job.contributors.size === 1;
    for (const s of job.contributors) {
      const n = (this.strikes.get(s.host) ?? 0) + (sole ? this.deps.banAfterFailures : 1);
      this.strikes.set(s.host, n);
      if (n >= this.deps.banAfterFailures) this.ban(s, 'sending corrupt data');
    }
    this.deps.warn(
      `piece ${job.index} failed its hash check (${job.contributors.size} peer(s) sent it)`,
    );
    // Fetch it again from one peer only, so the next failure points at the culprit.
    const candidates = [...this.deps.sessions()].filter((s) => !s.closed && s.bits?.has(job.index));
    const peer =
      job.contributors.size > 1
        ? candidates[this.deps.random.int(Math.max(1, candidates.length))]
        : undefined;
    if (peer) this.deps.retryFrom(job.index, job.size, peer);
  }

  /** Bans a peer for provably bad data (a corrupt piece, forged hashes). */
  ban(session: PeerSession, reason: string): void {
    this.bannedHere.add(session.host);
    if (this.bannedHere.size > MAX_REMEMBERED_BANS)
      this.bannedHere.delete(this.bannedHere.values().next().value!);
    if (this.deps.isBanned(session.host)) return;
    this.deps.ban(session, reason);
  }

  /** How many addresses this torrent banned. */
  get bannedCount(): number {
    let n = 0;
    for (const host of this.bannedHere) if (this.deps.isBanned(host)) n++;
    return n;
  }
}
