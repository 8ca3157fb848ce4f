import type { PeerEndpoint } from '../codec/compact.js';
import { ipFamily } from '../codec/compact.js';
import type { Identity } from '../crypto/identity.js';
import type { Dht } from '../dht/dht.js';
import { parsePeer } from '../metainfo/magnet.js';
import type { ConnectionManager } from '../net/connection-manager.js';
import type { Dialer } from '../net/dialer.js';
import { TcpTransport } from '../net/transport.js';
import { KeyDirectory } from '../peers/directory.js';
import { Presence, type Published } from '../peers/presence.js';
import { SecurePeers } from '../peers/secure-peers.js';
import type { Runtime } from '../runtime/runtime.js';
import type { NodeConfig } from './config.js';

/** What the node hands its secure peer layer. */
export interface SecurePeerParts {
  readonly runtime: Runtime;
  readonly config: NodeConfig;
  readonly identity: Identity;
  readonly connections: ConnectionManager;
  readonly dialer: Dialer;
  readonly listenPort: () => number;
}

/** The listen address when it names one interface (not 0.0.0.0 or ::). */
export function specificHost(host: string): string | undefined {
  return host === '0.0.0.0' || host === '::' || host === '' ? undefined : host;
}

/**
 * The node's secure peers (shoal's connections by key) with its settings: relaying as
 * configured, hole punches over TCP from the listen address. The caller registers
 * `inbound` with the node's demultiplexer.
 */
export function createSecurePeers(parts: SecurePeerParts): SecurePeers {
  const localAddress = specificHost(parts.config.host);
  return new SecurePeers({
    runtime: parts.runtime,
    identity: parts.identity,
    connections: parts.connections,
    dialer: parts.dialer,
    punchTransport: new TcpTransport(parts.runtime),
    listenPort: parts.listenPort,
    ...(localAddress !== undefined && { localAddress }),
    relay: parts.config.relay ? {} : false,
  });
}

/**
 * Starts keeping the node findable by key once its DHT runs: the directory in the DHT, and
 * presence (reachability, rendezvous registrations, the published record). DHT bootstrap
 * nodes given as IP literals are tried as rendezvous nodes first (a private network's
 * bootstrap node is usually a shoal node; the public routers, named by host name, are not).
 */
export function startPresence(
  peers: SecurePeers,
  parts: SecurePeerParts,
  dht: Dht | undefined,
  dhtReady: Promise<unknown>,
  onPublished: (published: Published) => void,
): Presence {
  const directory = dht === undefined ? undefined : new KeyDirectory(dht, parts.identity);
  peers.setDirectory(directory);
  const hints: PeerEndpoint[] = [];
  for (const text of parts.config.dhtBootstrap) {
    try {
      const endpoint = parsePeer(text);
      if (ipFamily(endpoint.host) !== 0) hints.push(endpoint);
    } catch {
      // The DHT reports bad bootstrap entries itself.
    }
  }
  const listenHost = specificHost(parts.config.host);
  const presence = new Presence({
    peers,
    clock: parts.runtime.clock,
    timers: parts.runtime.timers,
    directory: () => directory,
    dhtReady,
    hints,
    listenPort: parts.listenPort,
    ...(listenHost !== undefined && { listenHost }),
    publish: parts.config.publishAddress,
    relay: parts.config.relay,
    onPublished,
  });
  presence.start();
  return presence;
}
