import type { Identity } from '../crypto/identity.js';
import type { Dht } from '../dht/dht.js';
import { type PeerAddress, parsePeer } from '../metainfo/magnet.js';
import type { SecurePeers } from '../peers/secure-peers.js';
import type { Runtime, TimerHandle } from '../runtime/runtime.js';
import type { NodeConfig } from './config.js';
import { OVERLAY_INFOHASH, OverlayService } from './overlay-service.js';
import { specificHost } from './secure-peers.js';

/** How often a node with no overlay neighbour looks for contacts again, and re-announces. */
const REJOIN_MS = 30_000;
const ANNOUNCE_MS = 15 * 60_000;

/** What the node lends its overlay. */
export interface OverlayParts {
  readonly runtime: Runtime;
  readonly config: NodeConfig;
  readonly identity: Identity;
  readonly peers: SecurePeers;
  readonly port: () => number;
  readonly dht: () => Dht | undefined;
  readonly dhtReady: Promise<unknown>;
}

/** The node's overlay and the timer that keeps it joined. */
export interface NodeOverlay {
  readonly service: OverlayService;
  /** Contacts found by local discovery for the overlay's key. */
  lsdPeer(host: string, port: number): void;
  stop(): void;
}

/** The overlay's key as LSD and the DHT announce it (hex). */
export const OVERLAY_INFOHASH_HEX = OVERLAY_INFOHASH.toString('hex');

/**
 * Starts the node's overlay over its secure connections: the overlay's channel protocols are
 * served on every connection (`peers.handle`), peers are reached by key (`peers.connect`, which
 * dials, looks up, punches or relays) or by address (`peers.connectAddress`), and the node joins
 * through `overlayPeers`, then through the DHT (shoal nodes announce themselves under
 * {@link OVERLAY_INFOHASH}) and LSD, looking again every 30 s while it has no neighbour. It may
 * become an ultrapeer when `ultrapeer` is on and peers reach it from outside.
 */
export function startOverlay(parts: OverlayParts): NodeOverlay {
  const { runtime, config, peers } = parts;
  const addresses = (): PeerAddress[] => {
    const host = peers.reachability.publicHost ?? specificHost(config.host);
    return host === undefined ? [] : [{ host, port: parts.port() }];
  };
  const service = new OverlayService(runtime, {
    identity: parts.identity,
    transport: {
      connect: async (contact) =>
        (await peers.connect(contact.key, { addresses: contact.addresses })).mux,
      serve: (protocol, accept) =>
        peers.handle(protocol, (request, peer) => accept(request, peer.key, peer.mux)),
      connectAddress: async (address) => {
        const peer = await peers.connectAddress(address);
        return { key: peer.key, mux: peer.mux };
      },
    },
    advertise: addresses,
    bitTorrentAddresses: addresses,
    capable: () => config.ultrapeer && peers.reachability.state === 'public',
  });
  const configured = config.overlayPeers.flatMap((text) => {
    try {
      return [parsePeer(text)];
    } catch {
      return [];
    }
  });
  let stopped = false;
  let timer: TimerHandle | undefined;
  let announcedAt = Number.NEGATIVE_INFINITY;
  const alone = () => service.overlay.active().length === 0;
  /** Announces us under the overlay key when due; looks it up while alone; returns who it found. */
  const fromDht = async (): Promise<PeerAddress[]> => {
    const dht = parts.dht();
    const due = runtime.clock.now() - announcedAt >= ANNOUNCE_MS;
    if (dht === undefined || (!due && !alone())) return [];
    await parts.dhtReady;
    const found: PeerAddress[] = [];
    if (due) announcedAt = runtime.clock.now();
    const lookup = due
      ? dht.announce(OVERLAY_INFOHASH, parts.port(), { onPeers: (p) => found.push(...p) })
      : dht.getPeers(OVERLAY_INFOHASH, (p) => found.push(...p));
    await lookup.catch(() => undefined);
    return found;
  };
  /** Addresses other than our own listening one (the DHT and LSD return us too). */
  const others = (list: readonly PeerAddress[]) => {
    const mine = new Set(addresses().map((a) => `${a.host}:${a.port}`));
    const port = parts.port();
    return list.filter(
      (a) => !mine.has(`${a.host}:${a.port}`) && !(a.port === port && isLoopback(a.host)),
    );
  };
  const round = async () => {
    if (stopped) return;
    if (alone()) await service.joinAddresses(others(configured)).catch(() => []);
    const found = others(await fromDht());
    if (!stopped && alone() && found.length > 0)
      await service.joinAddresses(found.slice(0, 8)).catch(() => []);
    if (!stopped) timer = runtime.timers.setTimeout(() => void round(), REJOIN_MS);
  };
  void round();
  return {
    service,
    lsdPeer: (host, port) => {
      const found = others([{ host, port }]);
      if (!stopped && alone() && found.length > 0)
        void service.joinAddresses(found).catch(() => []);
    },
    stop: () => {
      stopped = true;
      timer?.cancel();
      service.stop();
    },
  };
}

function isLoopback(host: string): boolean {
  return host === '::1' || host.startsWith('127.') || host === 'localhost';
}
