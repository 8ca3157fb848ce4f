import type { Node } from '../node/node.js';
import type { NodeStatus } from '../node/peer-watch.js';
import type { Clock } from '../runtime/runtime.js';
import type { Torrent, TorrentStats } from '../swarm/torrent.js';
import type { EventPrinter } from './port-mapping.js';
import { formatDuration } from './smoothed-rate.js';

/** Says something about `key` once per change (see `ProgressReporter.note`). */
export type NotePrinter = (key: string, text: string, fields: Record<string, unknown>) => void;

/** A {@link NotePrinter} over a plain event printer: each key's text once per change. */
export function notesOnce(print: EventPrinter): NotePrinter {
  const said = new Map<string, string>();
  return (key, text, fields) => {
    if ((said.get(key) ?? '') === text) return;
    said.set(key, text);
    if (text !== '') print('status', { ...fields, message: text }, text);
  };
}

/** Says what the node loaded at start that changes whom it talks to (the IP blocklist). */
export function reportNodeSetup(node: Node, print: EventPrinter): void {
  const b = node.blocklist;
  if (!b) return;
  const skipped = b.skipped > 0 ? ` (${b.skipped} lines were not ranges and were skipped)` : '';
  print(
    'blocklist',
    { source: b.source, ranges: b.list.size, skipped: b.skipped, stale: b.staleBecause ?? null },
    b.staleBecause
      ? `blocklist: ${b.source} unreachable (${b.staleBecause}); using its copy from the last fetch, ${b.list.size} ranges${skipped}`
      : `blocklist: ${b.list.size} address ranges from ${b.source}${skipped}`,
  );
}

/** One line for people about a {@link NodeStatus}; empty when there is nothing to say. */
export function describeStatus(s: NodeStatus, troubleBefore: boolean): string {
  if (s.kind === 'dht') {
    if (s.problem) return `DHT: ${s.problem}; trying again later`;
    return troubleBefore ? `DHT: joined (${s.nodes} nodes)` : '';
  }
  if (s.connected) return `peer ${s.address}: connected (after ${s.attempts} failed attempts)`;
  const again =
    s.retryInMs === undefined ? '' : `; trying again in ${formatDuration(s.retryInMs / 1000)}`;
  return `peer ${s.address}: ${s.problem ?? 'failed'}${again} (attempt ${s.attempts})`;
}

/**
 * Tells people what the node tries and how it goes: a DHT router refused or silent, a named
 * peer refused or not answering (each attempt, with when the next one is), and the recovery.
 * Everything goes through `note`, so a status repeated every second is printed once.
 */
export function reportNodeStatus(node: Node, note: NotePrinter): void {
  const trouble = new Set<string>();
  const show = (s: NodeStatus) => {
    const key = s.kind === 'dht' ? 'dht' : `peer ${s.address}`;
    const text = describeStatus(s, trouble.has(key));
    if (s.kind === 'dht' ? s.problem !== undefined : !s.connected) trouble.add(key);
    else trouble.delete(key);
    note(key, text, { ...s });
  };
  node.on('status', show);
  // The DHT may have finished its first join before anyone listened.
  if (node.dhtStatus) show(node.dhtStatus);
}

/** A torrent downloading with no peer for this long is said to have none, with what is tried. */
const NO_PEERS_AFTER_MS = 5000;

/**
 * Says when a download has no peer at all, and what is being tried to find one (trackers, the
 * DHT, named peers, local discovery), again whenever that changes; quiet once a peer comes.
 */
export class NoPeersNotice {
  private readonly since = new Map<string, number>();

  constructor(
    private readonly node: Node,
    private readonly clock: Clock,
    private readonly namedPeers: number,
    private readonly note: NotePrinter,
  ) {}

  /** Looks at one progress tick of `torrent`. */
  check(torrent: Torrent, s: TorrentStats): void {
    const key = `no peers ${s.infoHash}`;
    const now = this.clock.now();
    if (s.state !== 'downloading' || s.peers > 0 || s.downloadRate >= 1) {
      this.since.delete(key);
      this.note(key, '', {});
      return;
    }
    const since = this.since.get(key) ?? now;
    this.since.set(key, since);
    if (now - since < NO_PEERS_AFTER_MS) return;
    const tried = this.sources(torrent);
    this.note(
      key,
      `${s.name}: no peers yet; looking through ${tried.length > 0 ? tried.join(', ') : 'nothing (no tracker, no DHT, no --peer)'}`,
      { infoHash: s.infoHash, noPeers: true, sources: tried },
    );
  }

  private sources(torrent: Torrent): string[] {
    const out: string[] = [];
    const trackers = this.node.trackerStatus(torrent.infoHashHex);
    if (trackers.length > 0) {
      const failing = trackers.filter((t) => t.error !== undefined).length;
      out.push(
        `${trackers.length} tracker${trackers.length === 1 ? '' : 's'}${failing === trackers.length ? ' (failing)' : ''}`,
      );
    }
    const dht = this.node.dhtNode;
    if (dht && !torrent.meta.private)
      out.push(dht.nodeCount > 0 ? 'the DHT' : 'the DHT (not joined yet)');
    if (this.namedPeers > 0)
      out.push(`${this.namedPeers} named peer${this.namedPeers === 1 ? '' : 's'}`);
    if (this.node.config.lsd && !torrent.meta.private) out.push('local discovery');
    if (torrent.meta.webSeeds.length > 0) out.push('web seeds');
    return out;
  }
}
