import type { PeerEndpoint } from '../codec/compact.js';
import type { PeerExtension } from '../wire/extended.js';
import { decodePex, encodePex, PexFlag, type PexPeer } from '../wire/ut-pex.js';
import type { PeerSession } from './peer-session.js';

interface PexState {
  told: Map<string, PeerEndpoint>;
  lastSentAt: number;
  /** When to look again whether this peer has news due (once told, or nothing to tell). */
  nextCheckAt: number;
  lastReceivedAt: number;
  /** {@link PeerExchange}'s `generation` when `told` last matched our peers exactly. */
  inSyncAt: number;
}

/** A peer with nothing new to hear is looked at again after this long, not every second. */
const RECHECK_MS = 10_000;

/**
 * Peer exchange (BEP 11 `ut_pex`) for one torrent: tells each supporting peer, at most once a
 * minute, which peers we connected to or lost since last time (≤ 50 each), and hands the peers
 * others tell us about to `addPeer`. Messages arriving faster than BEP 11 allows are ignored.
 */
export class PeerExchange implements PeerExtension<PeerSession> {
  readonly name = 'ut_pex';
  private readonly state = new WeakMap<PeerSession, PexState>();
  /** Our peers' addresses at the last tick, in order, and a number that changes with them. */
  private lastKeys: string[] = [];
  private generation = 0;

  constructor(
    private readonly addPeer: (host: string, port: number) => void,
    private readonly now: () => number,
    /** BEP 11: one message per peer per minute; senders much faster than that are ignored. */
    private readonly intervalMs = 60_000,
  ) {}

  /** Handles a `ut_pex` message from `session`. @throws {WireError} on a malformed one */
  onMessage(session: PeerSession, payload: Uint8Array): void {
    const s = this.stateOf(session);
    const now = this.now();
    const tooSoon = now - s.lastReceivedAt < this.intervalMs * 0.75;
    const message = decodePex(payload);
    if (tooSoon) return;
    s.lastReceivedAt = now;
    for (const p of message.added) if (p.port > 0) this.addPeer(p.host, p.port);
  }

  /** Sends due messages to every peer that speaks `ut_pex`. */
  onTick(sessions: Iterable<PeerSession>): void {
    this.tick(sessions, (s, payload) => {
      const id = s.extended?.m.get('ut_pex');
      if (id) s.wire.sendMessage({ type: 'extended', id, payload });
    });
  }

  private tick(
    sessions: Iterable<PeerSession>,
    send: (session: PeerSession, payload: Buffer) => void,
  ): void {
    const now = this.now();
    const list = [...sessions].filter((s) => !s.closed && s.handshake);
    // Each peer is due once a minute and this runs every second: most ticks have nobody to tell.
    const due = list.filter(
      (s) => now >= (this.state.get(s)?.nextCheckAt ?? -1) && s.extended?.m.get('ut_pex'),
    );
    if (due.length === 0) return;
    const keyed: PeerSession[] = [];
    const keys: string[] = [];
    for (const s of list) {
      const key = listenKey(s);
      if (key === undefined) continue;
      keyed.push(s);
      keys.push(key);
    }
    if (!sameKeys(keys, this.lastKeys)) this.generation++;
    this.lastKeys = keys;
    let current: Map<string, PexPeer> | undefined;
    for (const s of due) {
      const st = this.stateOf(s);
      if (st.inSyncAt === this.generation) {
        // Told exactly these peers already: nothing to add or drop (a hundred peers each due
        // every ten seconds would otherwise compare a hundred addresses each).
        st.nextCheckAt = now + RECHECK_MS;
        continue;
      }
      current ??= addresses(keyed, keys);
      const selfKey = listenKey(s);
      const added: string[] = [];
      for (const k of current.keys()) if (k !== selfKey && !st.told.has(k)) added.push(k);
      const dropped: string[] = [];
      for (const k of st.told.keys()) if (!current.has(k)) dropped.push(k);
      if (added.length === 0 && dropped.length === 0 && st.lastSentAt > Number.NEGATIVE_INFINITY) {
        st.inSyncAt = this.generation;
        st.nextCheckAt = now + RECHECK_MS;
        continue;
      }
      // Told peers are kept under `current`'s keys (each peer's cached address string): a new
      // string per entry, a hundred peers told of a hundred each, cost megabytes per node.
      const addedNow: PexPeer[] = [];
      for (const k of added.slice(0, 50)) {
        const p = current.get(k)!;
        st.told.set(k, p);
        addedNow.push(p);
      }
      const droppedNow: PeerEndpoint[] = [];
      for (const k of dropped.slice(0, 50)) {
        droppedNow.push(st.told.get(k)!);
        st.told.delete(k);
      }
      if (added.length <= 50 && dropped.length <= 50) st.inSyncAt = this.generation;
      st.lastSentAt = now;
      st.nextCheckAt = now + this.intervalMs;
      send(s, encodePex({ added: addedNow, dropped: droppedNow }));
    }
  }

  private stateOf(session: PeerSession): PexState {
    let s = this.state.get(session);
    if (!s) {
      s = {
        told: new Map(),
        lastSentAt: Number.NEGATIVE_INFINITY,
        nextCheckAt: Number.NEGATIVE_INFINITY,
        lastReceivedAt: Number.NEGATIVE_INFINITY,
        inSyncAt: -1,
      };
      this.state.set(session, s);
    }
    return s;
  }
}

/** Our peers as PEX names them, by key (`keyed[i]` listens at `keys[i]`). */
function addresses(keyed: readonly PeerSession[], keys: readonly string[]): Map<string, PexPeer> {
  const current = new Map<string, PexPeer>();
  keyed.forEach((s, i) => {
    const flags = (s.outgoing ? PexFlag.reachable : 0) | (s.bits?.complete ? PexFlag.seed : 0);
    current.set(keys[i]!, { ...listenAddress(s)!, flags });
  });
  return current;
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const listenKeys = new WeakMap<PeerSession, { port: number; key: string }>();

/**
 * {@link listenAddress} as `host:port`, the form candidates and PEX name peers by. Worked out
 * once per session and port (an incoming peer's port comes, or changes, with its extended
 * handshake): dialling rounds and the PEX tick ask for every session's, many times a second.
 */
export function listenKey(s: PeerSession): string | undefined {
  const port = s.outgoing ? s.stream.remotePort : s.extended?.p || undefined;
  if (port === undefined) return undefined;
  const known = listenKeys.get(s);
  if (known?.port === port) return known.key;
  const { host } = listenAddress(s)!;
  const key = `${host}:${port}`;
  listenKeys.set(s, { port, key });
  return key;
}

/** Where a peer accepts connections: the address we dialled, or its advertised port. */
export function listenAddress(s: PeerSession): PeerEndpoint | undefined {
  const host = s.host.startsWith('::ffff:') ? s.host.slice(7) : s.host;
  if (s.outgoing) return { host, port: s.stream.remotePort };
  const p = s.extended?.p;
  return p ? { host, port: p } : undefined;
}
