import { createHash } from 'node:crypto';
import {
  DEFAULT_SEARCH,
  SearchEngine,
  type SearchEngineOptions,
  type StrategyName,
} from '../apps/search/search-engine.js';
import type { SearchSession } from '../apps/search/search-session.js';
import { itemKey, type SharedItem } from '../apps/search/share-index.js';
import type { Identity, IdentityKey } from '../crypto/identity.js';
import type { PeerAddress } from '../metainfo/magnet.js';
import type { Metainfo } from '../metainfo/types.js';
import { ContactFlag, contactOf, type PeerContact } from '../overlay/contact.js';
import { MuxLinks, type MuxLinksOptions, type OverlayTransport } from '../overlay/mux-links.js';
import { Overlay, type OverlayOptions } from '../overlay/overlay.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Mux } from '../secure/mux.js';

/**
 * The info-hash under which shoal nodes announce themselves in the DHT (and over LSD), so a
 * node finds overlay peers the way BitTorrent finds a swarm: SHA-1 of "shoal overlay v1".
 */
export const OVERLAY_INFOHASH = createHash('sha1').update('shoal overlay v1').digest();

/** What the node gives its overlay. */
export interface OverlayServiceOptions {
  readonly identity: Identity;
  /**
   * Reaches peers by key (secure connection, hole punching, relays: the node's business), and
   * by address for contacts known only by address (DHT, LSD, `--overlay-peer`).
   */
  readonly transport: OverlayTransport & {
    connectAddress(address: PeerAddress): Promise<{ key: IdentityKey; mux: Mux }>;
  };
  /** Where this node accepts secure connections (advertised in overlay contacts). */
  advertise(): PeerAddress[];
  /** Where it takes BitTorrent connections (named in search answers). */
  bitTorrentAddresses(): PeerAddress[];
  /** Whether it could serve as an ultrapeer: reachable from outside, enough capacity. */
  capable(): boolean;
  readonly links?: Partial<MuxLinksOptions>;
  readonly overlay?: Partial<OverlayOptions>;
  readonly search?: Partial<SearchEngineOptions>;
}

/** What `shoal overlay` shows. */
export interface OverlayViews {
  readonly key: string;
  readonly role: 'leaf' | 'ultrapeer';
  readonly active: readonly PeerContact[];
  readonly passive: readonly PeerContact[];
  /** Leaf: our ultrapeers. Ultrapeer: our neighbours among ultrapeers. */
  readonly ultrapeers: readonly PeerContact[];
  /** Ultrapeer: our leaves. */
  readonly leaves: readonly PeerContact[];
  readonly shared: number;
}

/** A torrent as the search index sees it: name, size, file names. */
export function sharedItemOf(meta: Metainfo, seeders = 0): SharedItem {
  return {
    ...(meta.infoHashV1 !== undefined && { infoHashV1: meta.infoHashV1 }),
    ...(meta.infoHashV2 !== undefined && { infoHashV2: meta.infoHashV2 }),
    name: meta.name,
    size: meta.totalLength,
    files: meta.files.filter((f) => !f.padding).map((f) => f.path.join('/')),
    seeders,
  };
}

/**
 * The node's overlay, gossip and search, composed over its secure connections. The node
 * creates one when it has an identity and can make secure connections, hands it every secure
 * connection it accepts (`attach`), gives it contacts to join through (`joinAddresses`), tells
 * it what it shares (`shareTorrent` when a torrent is complete, `unshareTorrent` when it goes),
 * and stops it on the way out.
 */
export class OverlayService {
  readonly links: MuxLinks;
  readonly overlay: Overlay;
  readonly search: SearchEngine;

  constructor(
    runtime: Runtime,
    private readonly options: OverlayServiceOptions,
  ) {
    const env = {
      clock: runtime.clock,
      timers: runtime.timers,
      random: runtime.random,
      identity: options.identity,
    };
    const self = contactOf(options.identity.publicKey, options.advertise());
    this.links = new MuxLinks(options.transport, env, self, options.links);
    this.overlay = new Overlay(this.links, env, options.overlay);
    this.search = new SearchEngine(this.links, this.overlay, env, options.search, {
      capable: () => options.capable(),
      peers: () => options.bitTorrentAddresses(),
    });
  }

  /** A secure connection the node accepted (or made): the overlay's channels are served on it. */
  attach(remote: IdentityKey, mux: Mux): void {
    this.links.attach(remote, mux);
  }

  /** Joins through peers known by key. */
  join(contacts: readonly PeerContact[]): void {
    this.overlay.join(contacts);
  }

  /**
   * Joins through peers known only by address (the DHT's overlay key, LSD, configuration):
   * each is dialled, its key learnt from the handshake; unreachable ones are skipped. Resolves
   * with the contacts reached.
   */
  async joinAddresses(addresses: readonly PeerAddress[]): Promise<PeerContact[]> {
    const reached: PeerContact[] = [];
    await Promise.all(
      addresses.map(async (address) => {
        try {
          const { key, mux } = await this.options.transport.connectAddress(address);
          if (key.equals(this.options.identity.publicKey)) return;
          this.links.attach(key, mux);
          reached.push(contactOf(key, [address]));
        } catch {
          // Unreachable or not a shoal node: the others may do.
        }
      }),
    );
    if (reached.length > 0) this.overlay.join(reached);
    return reached;
  }

  /** Makes a complete torrent findable (never a private one: its swarm is its tracker's). */
  shareTorrent(meta: Metainfo, seeders = 0): void {
    if (meta.private) return;
    this.search.share(sharedItemOf(meta, seeders));
  }

  /** Stops answering for a torrent (info-hash hex, v1 or v2). */
  unshareTorrent(meta: Metainfo): void {
    this.search.unshare(itemKey(meta));
  }

  /** Searches the network; the session is an async iterator of results as they arrive. */
  find(text: string, options: { timeoutMs?: number; strategy?: StrategyName } = {}): SearchSession {
    return this.search.search(text, {
      timeoutMs: options.timeoutMs ?? DEFAULT_SEARCH.timeoutMs,
      ...(options.strategy !== undefined && { strategy: options.strategy }),
    });
  }

  /** The node's place in the overlay, for `shoal overlay`. */
  views(): OverlayViews {
    const role = this.search.role;
    return {
      key: this.links.self.id,
      role: role.role,
      active: this.overlay.active(),
      passive: this.overlay.passive(),
      ultrapeers: role.role === 'leaf' ? role.ultrapeers() : role.tierNeighbors(),
      leaves: role.leaves(),
      shared: this.search.index.size,
    };
  }

  /** Whether this node is an ultrapeer now. */
  get ultrapeer(): boolean {
    return (this.links.self.flags & ContactFlag.ULTRAPEER) !== 0;
  }

  /** Leaves the overlay and closes its connections. */
  stop(): void {
    this.search.stop();
    this.overlay.stop();
    this.links.close();
  }
}
