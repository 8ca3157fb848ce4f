import { ShoalError } from '../errors.js';
import type { PeerAddress } from '../metainfo/magnet.js';
import type { Clock, TimerHandle, Timers } from '../runtime/runtime.js';
import {
  type DialPeer,
  type ExchangeDeadlines,
  type ExchangeOutcome,
  MetadataExchange,
  type MetadataTarget,
} from './metadata-exchange.js';

export type { DialPeer } from './metadata-exchange.js';

/** No peer handed over a verified info dictionary in time. */
export class MetadataError extends ShoalError {
  constructor(message: string) {
    super('METADATA_UNAVAILABLE', message);
  }
}

/** How hard to try, with defaults in {@link DEFAULT_METADATA_LIMITS}. */
export interface MetadataLimits extends ExchangeDeadlines {
  /** Peers asked at once while they keep answering. */
  readonly parallel: number;
  /** Connections open at once, counting peers that went quiet but have not timed out yet. */
  readonly maxOpen: number;
  /** A peer quiet this long stops holding one of the `parallel` places: another is asked too. */
  readonly staggerMs: number;
  /** Times one peer is asked before it is given up (a peer that lied is given up at once). */
  readonly attemptsPerPeer: number;
  /** Wait before asking a peer again, times its attempts so far. */
  readonly retryAfterMs: number;
  /** Peers remembered as candidates (the rest of a long list is ignored). */
  readonly maxCandidates: number;
  /** While nobody is being asked, "waiting" is reported this often. */
  readonly waitingReportMs: number;
}

/**
 * Six peers at a time; a quiet one gives its place to another after 0.5 s, up to 32 open;
 * 4 s to connect, 5 s to handshake and per piece. Through 100 silent peers that is about
 * 8 peers a second, so an honest peer late in a hostile list is reached in seconds.
 */
export const DEFAULT_METADATA_LIMITS: MetadataLimits = {
  parallel: 6,
  maxOpen: 32,
  staggerMs: 500,
  connectTimeoutMs: 4000,
  handshakeTimeoutMs: 5000,
  pieceTimeoutMs: 5000,
  attemptsPerPeer: 3,
  retryAfterMs: 5000,
  maxCandidates: 2000,
  waitingReportMs: 5000,
};

/** What the fetch is doing, for the user: each peer asked, each failure, and waits for peers. */
export interface MetadataProgress {
  readonly event: 'asking' | 'failed' | 'waiting' | 'done';
  /** `host:port` of the peer concerned (asking, failed, done). */
  readonly peer?: string;
  /** Why it failed. */
  readonly reason?: string;
  /** Peers known so far, being asked now, and asked without success so far. */
  readonly known: number;
  readonly asking: number;
  readonly failed: number;
  /** Peers known and not given up: to be asked (again) when their turn comes. */
  readonly toAsk: number;
  readonly elapsedMs: number;
}

/** What to fetch, from whom, and how. */
export interface FetchMetadataOptions {
  readonly infoHashV1?: Buffer;
  readonly infoHashV2?: Buffer;
  /** Peers to ask; a function is read again as the fetch goes (peers from the DHT, trackers). */
  readonly peers: readonly PeerAddress[] | (() => readonly PeerAddress[]);
  readonly peerId: Buffer;
  /** Opens connections (the node's dialer). */
  readonly dial: DialPeer;
  /** Give up after this long (default 60 s). */
  readonly timeoutMs?: number;
  readonly limits?: Partial<MetadataLimits>;
  /** Aborting it stops the fetch at once (rejects with code `STOPPED`). */
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: MetadataProgress) => void;
}

/** How often the fetch looks for new peers, quiet ones and its deadline. */
const TICK_MS = 250;

/**
 * Fetches a torrent's info dictionary for a magnet link (BEP 9) from several peers at once:
 * a few are asked in parallel, one that goes quiet lets another be asked alongside, peers that
 * appear later (DHT, trackers) are tried as they come, and one that lies, stalls or floods is
 * dropped for the next. Connections go through `dial` (the node's dialer), so connection
 * limits, bans, back-off and encryption apply. The result hashes to the info-hash(es).
 */
export async function fetchMetadata(
  runtime: { readonly clock: Clock; readonly timers: Timers },
  options: FetchMetadataOptions,
): Promise<Buffer> {
  const handshakeHash = options.infoHashV1 ?? options.infoHashV2?.subarray(0, 20);
  if (!handshakeHash) throw new MetadataError('the magnet link has no info-hash');
  if (Array.isArray(options.peers) && options.peers.length === 0) {
    throw new MetadataError(
      'no peers to fetch the torrent metadata from (give --peer HOST:PORT or x.pe in the link)',
    );
  }
  const target: MetadataTarget = {
    handshakeHash,
    peerId: options.peerId,
    ...(options.infoHashV1 && { infoHashV1: options.infoHashV1 }),
    ...(options.infoHashV2 && { infoHashV2: options.infoHashV2 }),
  };
  return new MetadataFetch(runtime, options, target).run();
}

interface Candidate {
  readonly peer: PeerAddress;
  readonly key: string;
  attempts: number;
  nextTryAt: number;
  asking: boolean;
  dropped: boolean;
}

/** One fetch: the candidates, the exchanges open, and the rules for starting more. */
class MetadataFetch {
  private readonly limits: MetadataLimits;
  private readonly candidates = new Map<string, Candidate>();
  private readonly open = new Set<MetadataExchange>();
  private readonly started: number;
  private readonly problems: string[] = [];
  private failed = 0;
  private lastWaitingReport = Number.NEGATIVE_INFINITY;
  private ticker: TimerHandle | undefined;
  private ended = false;
  private settle: (outcome: Buffer | Error) => void = () => {};

  constructor(
    private readonly runtime: { readonly clock: Clock; readonly timers: Timers },
    private readonly options: FetchMetadataOptions,
    private readonly target: MetadataTarget,
  ) {
    this.limits = { ...DEFAULT_METADATA_LIMITS, ...options.limits };
    this.started = runtime.clock.now();
  }

  run(): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      this.settle = (outcome) => (outcome instanceof Buffer ? resolve(outcome) : reject(outcome));
      const signal = this.options.signal;
      if (signal?.aborted) return this.end(stoppedError());
      signal?.addEventListener('abort', this.onAbort, { once: true });
      this.ticker = this.runtime.timers.setInterval(() => this.tick(), TICK_MS);
      this.tick();
    });
  }

  private readonly onAbort = () => this.end(stoppedError());

  private tick(): void {
    if (this.ended) return;
    const now = this.runtime.clock.now();
    if (now - this.started >= (this.options.timeoutMs ?? 60_000)) {
      this.end(this.giveUp());
      return;
    }
    this.learnPeers();
    this.launch(now);
    if (this.open.size === 0 && now - this.lastWaitingReport >= this.limits.waitingReportMs) {
      this.lastWaitingReport = now;
      this.report('waiting');
    }
  }

  private learnPeers(): void {
    const peers =
      typeof this.options.peers === 'function' ? this.options.peers() : this.options.peers;
    for (const peer of peers) {
      if (this.candidates.size >= this.limits.maxCandidates) return;
      const key = `${peer.host}:${peer.port}`;
      if (this.candidates.has(key)) continue;
      this.candidates.set(key, {
        peer: { host: peer.host, port: peer.port },
        key,
        attempts: 0,
        nextTryAt: 0,
        asking: false,
        dropped: false,
      });
    }
  }

  /** Starts exchanges while fewer than `parallel` are making progress and `maxOpen` allows. */
  private launch(now: number): void {
    let busy = 0;
    for (const x of this.open) if (now - x.lastProgressAt < this.limits.staggerMs) busy++;
    while (busy < this.limits.parallel && this.open.size < this.limits.maxOpen) {
      const c = this.nextCandidate(now);
      if (!c) return;
      c.asking = true;
      c.attempts++;
      const x = new MetadataExchange(
        { ...this.runtime, dial: this.options.dial },
        c.peer,
        this.target,
        this.limits,
        (outcome) => this.exchangeEnded(x, c, outcome),
      );
      this.open.add(x);
      busy++;
      this.report('asking', c.key);
      x.start();
    }
  }

  /** Peers never asked first, in the order they came; then those due for another try. */
  private nextCandidate(now: number): Candidate | undefined {
    let retry: Candidate | undefined;
    for (const c of this.candidates.values()) {
      if (c.asking || c.dropped || c.nextTryAt > now) continue;
      if (c.attempts === 0) return c;
      retry ??= c;
    }
    return retry;
  }

  private exchangeEnded(x: MetadataExchange, c: Candidate, outcome: ExchangeOutcome): void {
    this.open.delete(x);
    c.asking = false;
    if (this.ended) return;
    if (outcome.kind === 'done') {
      this.report('done', c.key);
      this.end(outcome.info);
      return;
    }
    const now = this.runtime.clock.now();
    if (outcome.verdict === 'later') {
      c.attempts--; // our own limits refused it: not the peer's fault
      c.nextTryAt = now + this.limits.retryAfterMs;
    } else {
      this.failed++;
      this.problems.push(`${c.key}: ${outcome.reason}`);
      if (this.problems.length > 3) this.problems.shift();
      if (outcome.verdict === 'drop' || c.attempts >= this.limits.attemptsPerPeer) c.dropped = true;
      else c.nextTryAt = now + this.limits.retryAfterMs * c.attempts;
      this.report('failed', c.key, outcome.reason);
    }
    this.launch(now);
  }

  private giveUp(): MetadataError {
    const seconds = Math.round((this.runtime.clock.now() - this.started) / 1000);
    if (this.candidates.size === 0)
      return new MetadataError(
        `no peers found in ${seconds} s to fetch the torrent metadata from (give --peer HOST:PORT, x.pe in the link, or use the DHT)`,
      );
    return new MetadataError(
      `could not fetch the torrent metadata from ${this.candidates.size} peers in ${seconds} s` +
        (this.problems.length > 0 ? `: ${this.problems.join('; ')}` : ''),
    );
  }

  private end(outcome: Buffer | Error): void {
    if (this.ended) return;
    this.ended = true;
    this.ticker?.cancel();
    this.options.signal?.removeEventListener('abort', this.onAbort);
    for (const x of this.open) x.cancel();
    this.open.clear();
    this.settle(outcome);
  }

  private report(event: MetadataProgress['event'], peer?: string, reason?: string): void {
    this.options.onProgress?.({
      event,
      ...(peer !== undefined && { peer }),
      ...(reason !== undefined && { reason }),
      known: this.candidates.size,
      asking: this.open.size,
      failed: this.failed,
      toAsk: [...this.candidates.values()].filter((c) => !c.dropped && !c.asking).length,
      elapsedMs: this.runtime.clock.now() - this.started,
    });
  }
}

function stoppedError(): ShoalError {
  return new ShoalError('STOPPED', 'the metadata fetch was cancelled');
}
