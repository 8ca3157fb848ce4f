import type { PeerEndpoint } from '../codec/compact.js';
import type { Dht } from '../dht/dht.js';
import type { Runtime, TimerHandle } from '../runtime/runtime.js';
import type { Torrent } from '../swarm/torrent.js';
import { Announcer, type TrackerStatus } from '../tracker/announcer.js';
import type { UdpTrackerClient } from '../tracker/udp-client.js';
import { DhtAnnounceSchedule } from './dht-announces.js';

/** How often a public torrent is announced to the DHT. */
const DHT_ANNOUNCE_MS = 15 * 60_000;
/** The least time between two DHT announces starting (20 a second at most). */
const DHT_ANNOUNCE_MIN_GAP_MS = 50;
/** DHT announces (each a lookup) under way at once, at most. */
const DHT_ANNOUNCES_AT_ONCE = 16;
/** How often a magnet's metadata search asks the DHT again. */
const METADATA_SEARCH_MS = 3000;

/** What peer finding needs from its node. */
export interface PeerFindingDeps {
  readonly runtime: Runtime;
  readonly udpTrackers: UdpTrackerClient;
  readonly peerId: Buffer;
  /** The node's listen address when it is not "any" (announces leave from it). */
  readonly localAddress?: string;
  /** The port peers should dial (a mapped one behind a NAT). */
  readonly port: () => number;
  readonly externalAddress: () => string | undefined;
  readonly dht: () => Dht | undefined;
  /** Settles when the DHT's first bootstrap is over. */
  readonly dhtReady: () => Promise<unknown>;
  /** Bootstraps the DHT again (and says how it went). */
  readonly rejoinDht: () => Promise<unknown>;
}

/**
 * Finds peers for a node's torrents: each torrent's trackers (BEP 12 tiers, plus extra URLs)
 * and, for public torrents, DHT announces every 15 minutes; and, for a magnet link still
 * without its metadata, a search of the link's trackers and the DHT that runs until stopped.
 * Peers found go to the torrent (or the search's callback).
 */
export class PeerFinding {
  private readonly announcers = new Map<string, Announcer>();
  /** Every public torrent's DHT announces, spread out over the interval. */
  private readonly dhtAnnounces: DhtAnnounceSchedule;

  constructor(private readonly deps: PeerFindingDeps) {
    this.dhtAnnounces = new DhtAnnounceSchedule(deps.runtime.clock, deps.runtime.timers, {
      intervalMs: DHT_ANNOUNCE_MS,
      minGapMs: DHT_ANNOUNCE_MIN_GAP_MS,
      maxRunning: DHT_ANNOUNCES_AT_ONCE,
    });
  }

  /** Starts announcing torrent `id` to its trackers (and `extra` ones) and the DHT. */
  track(id: string, torrent: Torrent, extra: readonly string[]): void {
    this.startAnnouncer(id, torrent, extra);
    this.startDhtAnnounces(id, torrent);
  }

  /** Stops announcing torrent `id` (a `stopped` announce to its trackers). */
  async untrack(id: string): Promise<void> {
    this.dhtAnnounces.remove(id);
    const announcer = this.announcers.get(id);
    this.announcers.delete(id);
    await announcer?.stop();
  }

  /** What each of a torrent's trackers last said. */
  trackerStatus(id: string): TrackerStatus[] {
    return this.announcers.get(id)?.status() ?? [];
  }

  /**
   * Looks for peers of a magnet link's torrent (its trackers, then the DHT every few seconds)
   * until the returned function stops it; each peer found goes to `found`.
   */
  searchMetadata(
    infoHash: Buffer,
    trackers: readonly string[],
    found: (peers: readonly PeerEndpoint[]) => void,
  ): { readonly dynamic: boolean; stop(): Promise<void> } {
    const finder =
      trackers.length > 0
        ? new Announcer(
            trackers.map((t) => [t]),
            {
              ...this.announcerDeps(infoHash),
              state: () => ({ uploaded: 0, downloaded: 0, left: 1 }),
              onPeers: found,
            },
          )
        : undefined;
    finder?.start();
    const dht = this.deps.dht();
    let searching = dht !== undefined;
    let next: TimerHandle | undefined;
    let wake = () => {};
    if (dht) {
      // A first lookup on a young routing table may miss: ask again until stopped.
      void (async () => {
        await this.deps.dhtReady();
        while (searching) {
          await this.rejoinIfAlone(dht);
          await dht.getPeers(infoHash, found).catch(() => undefined);
          if (!searching) break;
          await new Promise<void>((resolve) => {
            wake = resolve;
            next = this.deps.runtime.timers.setTimeout(resolve, METADATA_SEARCH_MS);
          });
        }
      })();
    }
    return {
      dynamic: finder !== undefined || dht !== undefined,
      stop: async () => {
        searching = false;
        next?.cancel();
        wake();
        await finder?.stop();
      },
    };
  }

  /** Stops every announcer and DHT announce timer. */
  async stop(): Promise<void> {
    this.dhtAnnounces.stop();
    await Promise.all([...this.announcers.values()].map((a) => a.stop()));
    this.announcers.clear();
  }

  private announcerDeps(infoHash: Buffer) {
    return {
      runtime: this.deps.runtime,
      udp: this.deps.udpTrackers,
      ...(this.deps.localAddress !== undefined && { localAddress: this.deps.localAddress }),
      infoHash,
      peerId: this.deps.peerId,
      port: this.deps.port,
      externalAddress: this.deps.externalAddress,
    };
  }

  private startAnnouncer(id: string, torrent: Torrent, extra: readonly string[]): void {
    const known = new Set(torrent.meta.announce.flat());
    const tiers = [...torrent.meta.announce, ...extra.filter((u) => !known.has(u)).map((u) => [u])];
    const announcer = new Announcer(tiers, {
      ...this.announcerDeps(torrent.handshakeHashes[0]!),
      state: () => {
        const s = torrent.stats();
        return {
          uploaded: s.uploaded,
          downloaded: s.downloaded,
          left: s.totalLength - s.bytesHave,
        };
      },
      onPeers: (peers) => {
        for (const p of peers) torrent.addPeer(p.host, p.port);
      },
    });
    if (!announcer.hasTrackers) return;
    this.announcers.set(id, announcer);
    if (torrent.stats().state === 'downloading') torrent.once('done', () => announcer.completed());
    announcer.start();
  }

  /** Announces a public torrent to the DHT soon and every 15 minutes; peers found join it. */
  private startDhtAnnounces(id: string, torrent: Torrent): void {
    const dht = this.deps.dht();
    if (!dht || torrent.meta.private) return;
    const hash = torrent.handshakeHashes[0]!;
    const announce = () =>
      this.deps
        .dhtReady()
        .then(() => this.rejoinIfAlone(dht))
        .then(() =>
          dht.announce(hash, this.deps.port(), {
            seed: torrent.stats().state === 'seeding',
            onPeers: (peers) => {
              for (const p of peers) torrent.addPeer(p.host, p.port);
            },
          }),
        )
        .then(
          () => undefined,
          () => undefined,
        );
    this.dhtAnnounces.add(id, announce);
  }

  /**
   * Bootstraps again when the routing table is empty: the first bootstrap asks each router
   * once, and a lost reply would otherwise leave lookups and announces with nobody to ask until
   * the DHT's next maintenance a minute later.
   */
  private async rejoinIfAlone(dht: Dht): Promise<void> {
    if (dht.nodeCount === 0) await this.deps.rejoinDht();
  }
}
