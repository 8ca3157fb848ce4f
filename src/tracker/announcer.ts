import type { PeerEndpoint } from '../codec/compact.js';
import type { Runtime, TimerHandle } from '../runtime/runtime.js';
import {
  type AnnounceRequest,
  type AnnounceResponse,
  announceUrl,
  decodeAnnounceResponse,
} from './http-messages.js';
import type { UdpTrackerClient } from './udp-client.js';
import type { AnnounceEvent } from './udp-messages.js';

/** What the announcer reports about each tracker. */
export interface TrackerStatus {
  readonly url: string;
  readonly tier: number;
  /** `idle` (not tried yet), `working`, `updating`, `error`. */
  readonly state: 'idle' | 'updating' | 'working' | 'error';
  /** Milliseconds since the epoch of the last successful announce. */
  readonly lastAnnounce?: number;
  readonly nextAnnounceInSeconds?: number;
  readonly peersReceived: number;
  readonly seeders?: number;
  readonly leechers?: number;
  readonly error?: string;
  readonly warning?: string;
}

/** What a torrent tells its trackers about itself. */
export interface AnnounceState {
  readonly uploaded: number;
  readonly downloaded: number;
  readonly left: number;
}

/** Everything an announcer needs. */
export interface AnnouncerDeps {
  readonly runtime: Runtime;
  readonly udp: UdpTrackerClient;
  /** The 20-byte hash announced: the v1 info-hash, or the truncated v2 one. */
  readonly infoHash: Buffer;
  readonly peerId: Buffer;
  readonly port: () => number;
  readonly state: () => AnnounceState;
  readonly onPeers: (peers: readonly PeerEndpoint[], url: string) => void;
  /** The node's listen address: HTTP announces leave from it (and it is left out of replies). */
  readonly localAddress?: string;
  /**
   * Our address as the internet sees it, when known (the router told us): announced as `ip`,
   * which trackers may use instead of the packet's source.
   */
  readonly externalAddress?: () => string | undefined;
  readonly numWant?: number;
}

interface Entry {
  url: string;
  tier: number;
  status: Mutable<TrackerStatus>;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const HTTP_TIMEOUT_MS = 15_000;
const MAX_REPLY_BYTES = 2 * 1024 * 1024;
const RETRY_FIRST_MS = 15_000;
const RETRY_MAX_MS = 30 * 60_000;

/**
 * Announces one torrent to its trackers (BEP 3 HTTP, BEP 15 UDP) following BEP 12: tiers are
 * tried in order, trackers within a tier in shuffled order, and the one that answers moves to
 * the front of its tier. Respects `interval` and `min interval`, sends started / completed /
 * stopped, backs off on failure, and hands every peer it hears of to `onPeers`.
 */
export class Announcer {
  private readonly tiers: Entry[][];
  private readonly key: number;
  private timer: TimerHandle | undefined;
  private nextAt = 0;
  private failures = 0;
  private startedSent = false;
  private stopped = false;

  constructor(
    tiers: readonly (readonly string[])[],
    private readonly deps: AnnouncerDeps,
  ) {
    const random = deps.runtime.random;
    this.tiers = tiers
      .map((urls, t) =>
        shuffle([...new Set(urls)], (n) => random.int(n))
          .filter((url) => /^(https?|udp):\/\//i.test(url))
          .map((url) => ({
            url,
            tier: t,
            status: { url, tier: t, state: 'idle' as const, peersReceived: 0 },
          })),
      )
      .filter((tier) => tier.length > 0);
    this.key = random.bytes(4).readUInt32BE(0);
  }

  /** True when there is at least one usable tracker. */
  get hasTrackers(): boolean {
    return this.tiers.length > 0;
  }

  /** Status of every tracker, tier by tier. */
  status(): TrackerStatus[] {
    const now = this.deps.runtime.clock.now();
    return this.tiers.flat().map((e) => ({
      ...e.status,
      ...(this.timer && {
        nextAnnounceInSeconds: Math.max(0, Math.round((this.nextAt - now) / 1000)),
      }),
    }));
  }

  /** Sends `started` and keeps announcing at the trackers' interval. */
  start(): void {
    if (!this.hasTrackers || this.stopped) return;
    void this.announceAll(this.startedSent ? 'none' : 'started');
  }

  /** Tells the trackers the download finished. */
  completed(): void {
    if (!this.hasTrackers || this.stopped) return;
    void this.announceAll('completed');
  }

  /** Sends `stopped` (best effort, briefly) and ends the schedule. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    if (!this.startedSent) return;
    await Promise.race([
      this.announceAll('stopped'),
      new Promise<void>((resolve) => this.deps.runtime.timers.setTimeout(resolve, 3000)),
    ]);
  }

  private async announceAll(event: AnnounceEvent): Promise<void> {
    this.timer?.cancel();
    let interval = Number.POSITIVE_INFINITY;
    let minInterval = 0;
    let anyOk = false;
    await Promise.all(
      this.tiers.map(async (tier) => {
        for (const [i, entry] of tier.entries()) {
          const r = await this.announceOne(entry, event);
          if (!r) continue;
          anyOk = true;
          interval = Math.min(interval, r.interval);
          minInterval = Math.max(minInterval, r.minInterval ?? 0);
          if (i > 0) tier.unshift(...tier.splice(i, 1)); // BEP 12: the one that answered goes first
          return;
        }
      }),
    );
    if (event === 'started' && anyOk) this.startedSent = true;
    if (event === 'stopped' || this.stopped) return;
    let delayMs: number;
    if (anyOk) {
      this.failures = 0;
      delayMs = Math.max(interval, minInterval) * 1000;
    } else {
      delayMs = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** this.failures++);
    }
    const next: AnnounceEvent = this.startedSent ? 'none' : 'started';
    this.nextAt = this.deps.runtime.clock.now() + delayMs;
    this.timer = this.deps.runtime.timers.setTimeout(() => void this.announceAll(next), delayMs);
  }

  private async announceOne(
    entry: Entry,
    event: AnnounceEvent,
  ): Promise<AnnounceResponse | undefined> {
    const s = this.deps.state();
    const ip = this.deps.externalAddress?.();
    const request: AnnounceRequest = {
      infoHash: this.deps.infoHash,
      peerId: this.deps.peerId,
      port: this.deps.port(),
      uploaded: s.uploaded,
      downloaded: s.downloaded,
      left: s.left,
      event,
      numWant: event === 'stopped' ? 0 : (this.deps.numWant ?? 50),
      compact: true,
      noPeerId: true,
      key: this.key.toString(16),
      ...(ip !== undefined && { ip }),
    };
    entry.status.state = 'updating';
    try {
      const reply = await this.send(entry.url, request);
      entry.status.state = 'working';
      entry.status.lastAnnounce = this.deps.runtime.clock.wallTime();
      entry.status.peersReceived += reply.peers.length;
      entry.status.seeders = reply.complete;
      entry.status.leechers = reply.incomplete;
      delete entry.status.error;
      if (reply.warning) entry.status.warning = reply.warning;
      else delete entry.status.warning;
      // Some trackers list the asker too: drop our own address (a self-connection would
      // be caught by peer id anyway; this saves the attempt).
      const port = this.deps.port();
      const peers = reply.peers.filter(
        (p) => !(p.port === port && p.host === this.deps.localAddress),
      );
      if (peers.length > 0) this.deps.onPeers(peers, entry.url);
      return reply;
    } catch (error) {
      entry.status.state = 'error';
      entry.status.error = (error as Error).message;
      return undefined;
    }
  }

  private async send(url: string, request: AnnounceRequest): Promise<AnnounceResponse> {
    if (url.toLowerCase().startsWith('udp://')) {
      const u = new URL(url);
      const host = u.hostname.replace(/^\[|\]$/g, '');
      return this.deps.udp.announce(host, Number(u.port) || 80, request, this.key);
    }
    const res = await this.deps.runtime.http.get(announceUrl(url, request), {
      timeoutMs: HTTP_TIMEOUT_MS,
      maxBytes: MAX_REPLY_BYTES,
      ...(this.deps.localAddress !== undefined && { localAddress: this.deps.localAddress }),
    });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    return decodeAnnounceResponse(res.body);
  }
}

function shuffle<T>(items: T[], random: (n: number) => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = random(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
