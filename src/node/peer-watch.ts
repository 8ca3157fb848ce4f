import { hasCode } from '../errors.js';
import type { ConnectionManager } from '../net/connection-manager.js';
import { Dialer, type DialerDeps, type DialRequest, type EncryptionPolicy } from '../net/dialer.js';
import { ConnectionRefusedError } from '../net/errors.js';
import type { Transport } from '../net/transport.js';
import type { Clock } from '../runtime/runtime.js';

/**
 * What the node is trying and how it goes, for the people watching it: a terminal prints one
 * line per change (`shoal get`, `share`, `start`), `--json` one `status` object.
 */
export type NodeStatus =
  | {
      /** The DHT after a (re)join: how many nodes it knows, and why none, when none. */
      readonly kind: 'dht';
      readonly nodes: number;
      readonly problem?: string;
    }
  | {
      /** A peer the user named (`--peer`) for a torrent: reached, or why not and when again. */
      readonly kind: 'peer';
      readonly infoHash: string;
      readonly address: string;
      readonly connected: boolean;
      /** Attempts that failed in a row. */
      readonly attempts: number;
      readonly problem?: string;
      /** When the next attempt is due, in ms from now. */
      readonly retryInMs?: number;
    };

interface Watched {
  readonly infoHashes: Set<string>;
  attempts: number;
}

/**
 * Watches dials to the peers users name: wraps the node's transports (to hear why each failed)
 * and its dialer (to hear that a dial failed as a whole), and reports every failed attempt and
 * the first success after failures. Other peers (from trackers, the DHT, PEX) come and go by
 * the hundred and are not reported.
 */
export class PeerWatch {
  private readonly watched = new Map<string, Watched>();
  /** Why each transport failed, for the watched address being dialled now. */
  private readonly reasons = new Map<string, string[]>();

  constructor(
    private readonly connections: ConnectionManager,
    private readonly clock: Clock,
    private readonly encryption: EncryptionPolicy,
    private readonly report: (status: NodeStatus) => void,
  ) {}

  /** Reports dials to `host:port` for the torrent `infoHash`. */
  watch(infoHash: string, host: string, port: number): void {
    const key = `${host}:${port}`;
    const w = this.watched.get(key) ?? { infoHashes: new Set<string>(), attempts: 0 };
    w.infoHashes.add(infoHash);
    this.watched.set(key, w);
  }

  /** Forgets a torrent's peers (it was removed). */
  unwatch(infoHash: string): void {
    for (const [key, w] of this.watched) {
      w.infoHashes.delete(infoHash);
      if (w.infoHashes.size === 0) this.watched.delete(key);
    }
  }

  /** A peer of `infoHash` completed its handshake at `address`. */
  connected(infoHash: string, address: string): void {
    const w = this.watched.get(address);
    if (!w?.infoHashes.has(infoHash) || w.attempts === 0) return;
    const attempts = w.attempts;
    w.attempts = 0;
    this.report({ kind: 'peer', infoHash, address, connected: true, attempts });
  }

  /**
   * A dialled peer of `infoHash` closed the connection before its BitTorrent handshake (the
   * dial itself succeeded, so the dialer heard nothing wrong): a client that requires
   * encryption does this to a plaintext handshake, one that does not know the torrent to any.
   */
  closedBeforeHandshake(infoHash: string, host: string, port: number, encrypted: boolean): void {
    const address = `${host}:${port}`;
    const w = this.watched.get(address);
    if (!w?.infoHashes.has(infoHash)) return;
    w.attempts++;
    const problem = encrypted
      ? 'it closed the encrypted connection before the BitTorrent handshake (does it have this torrent?)'
      : this.encryption === 'disable'
        ? 'it closed the connection at our plaintext handshake: it may require encryption, which --encryption disable turns off'
        : 'it closed the connection at our plaintext handshake (does it have this torrent? the next attempt offers encryption)';
    this.report({
      kind: 'peer',
      infoHash,
      address,
      connected: false,
      attempts: w.attempts,
      problem,
      retryInMs: Math.max(0, this.connections.retryAt(host, port, infoHash) - this.clock.now()),
    });
  }

  /** `transport`, with the reason of each failed dial to a watched address noted. */
  transport(transport: Transport): Transport {
    return {
      kind: transport.kind,
      dial: (host, port, options) =>
        transport.dial(host, port, options).catch((error: unknown) => {
          const key = `${host}:${port}`;
          if (this.watched.has(key)) {
            const list = this.reasons.get(key) ?? [];
            list.push(`${transport.kind === 'utp' ? 'uTP' : 'TCP'}: ${describeDialError(error)}`);
            this.reasons.set(key, list);
          }
          throw error;
        }),
    };
  }

  /** A dialer whose failed dials to watched addresses are reported. */
  dialer(deps: DialerDeps): Dialer {
    return new ReportingDialer(deps, (request, error) => this.failed(request, error));
  }

  private failed(request: DialRequest, error: unknown): void {
    const key = `${request.host}:${request.port}`;
    const w = this.watched.get(key);
    const transports = this.reasons.get(key) ?? [];
    this.reasons.delete(key);
    if (!w) return;
    // A node-wide limit or a back-off is no attempt; a ban or the blocklist is news.
    if (
      error instanceof ConnectionRefusedError &&
      error.reason !== 'banned' &&
      error.reason !== 'blocked'
    )
      return;
    w.attempts++;
    const reasons = transports.map((r) => r.replace(/^[^:]+: /, ''));
    const problem =
      transports.length === 0
        ? describeDialError(error)
        : new Set(reasons).size === 1
          ? reasons[0]!
          : transports.join(', ');
    const retryAt = this.connections.retryAt(
      request.host,
      request.port,
      request.infoHash?.toString('hex'),
    );
    for (const infoHash of w.infoHashes)
      this.report({
        kind: 'peer',
        infoHash,
        address: key,
        connected: false,
        attempts: w.attempts,
        problem,
        retryInMs: Math.max(0, retryAt - this.clock.now()),
      });
  }
}

/** The node's dialer, telling `failed` about every dial that fails. */
class ReportingDialer extends Dialer {
  constructor(
    deps: DialerDeps,
    private readonly failed: (request: DialRequest, error: unknown) => void,
  ) {
    super(deps);
  }

  override async dial(request: DialRequest) {
    try {
      return await super.dial(request);
    } catch (error) {
      this.failed(request, error);
      throw error;
    }
  }
}

/** A dial failure in a few words: connection refused, no answer, unreachable, … */
export function describeDialError(error: unknown): string {
  if (error instanceof ConnectionRefusedError)
    return error.reason === 'blocked' ? 'on the IP blocklist' : error.reason.replaceAll('-', ' ');
  if (hasCode(error, 'EGRESS_DENIED')) return 'refused by the egress policy (SHOAL_EGRESS)';
  if (hasCode(error, 'UTP_CONNECT_TIMEOUT')) return 'no answer';
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  switch (cause?.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'unreachable';
    case 'ETIMEDOUT':
      return 'no answer';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name not found';
  }
  const message = error instanceof Error ? error.message : String(error);
  return /timed out|did not accept/.test(message) ? 'no answer' : message;
}
