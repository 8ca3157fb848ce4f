import type { EventEmitter } from 'node:events';
import type { Dht } from '../dht/dht.js';
import { LocalDiscovery } from '../discovery/lsd.js';
import type { MetricsRegistry } from '../metrics/registry.js';
import type { ConnectionManager } from '../net/connection-manager.js';
import { type DatagramMux, isKrpcDatagram, isUdpTrackerReply } from '../net/datagram-mux.js';
import type { InboundDemux } from '../net/inbound-demux.js';
import type { PortMapper } from '../net/nat/port-mapper.js';
import type { Presence } from '../peers/presence.js';
import type { SecurePeers } from '../peers/secure-peers.js';
import type { Runtime, TcpServer } from '../runtime/runtime.js';
import type { Torrent } from '../swarm/torrent.js';
import { UdpTrackerClient } from '../tracker/udp-client.js';
import { isUtpPacket } from '../transport/utp/packet.js';
import type { UtpSocket } from '../transport/utp/socket.js';
import type { NodeConfig } from './config.js';
import { NodeDht } from './node-dht.js';
import type { OverlayService } from './overlay-service.js';
import { type NodeOverlay, OVERLAY_INFOHASH_HEX, startOverlay } from './overlay-wiring.js';
import { PeerFinding } from './peer-finding.js';
import { startPortMapper } from './port-mapping.js';
import { type SecurePeerParts, startPresence } from './secure-peers.js';
import { bindNodeUdp, startUtp } from './transports.js';
import type { NodeEvents } from './types.js';

/**
 * The node's sockets and the engines that run on them, each absent until started (or while
 * turned off): the TCP listener, the one UDP socket with uTP on it, UDP trackers, peer finding,
 * the DHT, presence, port mapping, the overlay and local discovery. One record, filled in order
 * as they start, so a start that fails half-way leaves what it opened there to close.
 */
export interface NodeServices {
  server?: TcpServer;
  datagrams?: DatagramMux;
  utp?: UtpSocket;
  udpTrackers?: UdpTrackerClient;
  finding?: PeerFinding;
  nodeDht?: NodeDht;
  presence?: Presence;
  portMapper?: PortMapper;
  nodeOverlay?: NodeOverlay | undefined;
  lsd?: LocalDiscovery;
}

/**
 * The node as its services see it: where it tells events, and its ports and addresses as they
 * stand when asked (they change as services start). `Node` is one.
 */
export interface ServiceNode extends EventEmitter<NodeEvents> {
  readonly port: number;
  readonly announcedPort: number;
  readonly externalAddress: string | undefined;
  readonly dhtNode: Dht | undefined;
  useOverlay(service: OverlayService): void;
}

/** What starting the node's services takes: the parts made with the node, and the node. */
export interface ServiceContext {
  readonly runtime: Runtime;
  readonly config: NodeConfig;
  readonly metrics: MetricsRegistry;
  readonly peerId: Buffer;
  /** A fixed DHT node id (tests and the simulator), else the saved or a random one. */
  readonly dhtId: Buffer | undefined;
  readonly connections: ConnectionManager;
  readonly inbound: InboundDemux;
  readonly peers: SecurePeers;
  readonly peerParts: SecurePeerParts;
  readonly node: ServiceNode;
  /** The torrent a handshake hash (hex) names: local discovery's peers go to it. */
  torrentFor(handshakeHashHex: string): Torrent | undefined;
}

/**
 * Starts the node's services in order into `s`: listen on TCP, bind the one UDP socket on the
 * same port number (uTP, the DHT and UDP trackers share it), then peer finding, the DHT,
 * presence, port mapping, the overlay and local discovery, each as the configuration asks.
 * Rejects with the first failure, leaving what started in `s`.
 */
export async function startServices(s: NodeServices, c: ServiceContext): Promise<void> {
  const { runtime, config, node } = c;
  s.server = await runtime.tcp.listen({ port: config.port, host: config.host }, (socket) => {
    const stream = c.connections.accept(socket, 'tcp');
    if (stream) c.inbound.handle(stream);
  });
  // One UDP socket on the same port number, shared by uTP, the DHT and UDP trackers.
  s.datagrams = await bindNodeUdp(runtime, config.host, node.port);
  if (config.utp)
    s.utp = startUtp(runtime, s.datagrams.channel('utp', isUtpPacket), (socket) => {
      const stream = c.connections.accept(socket, 'utp');
      if (stream) c.inbound.handle(stream);
    });
  const dhtChannel = s.datagrams.channel('dht', isKrpcDatagram);
  s.udpTrackers = UdpTrackerClient.over(
    runtime,
    s.datagrams.channel('udp-tracker', isUdpTrackerReply),
    { firstTimeoutMs: config.udpTrackerTimeoutMs },
  );
  const anyHost = config.host === '0.0.0.0' || config.host === '::';
  const dhtReady = () => s.nodeDht?.ready ?? Promise.resolve(0);
  s.finding = new PeerFinding({
    runtime,
    udpTrackers: s.udpTrackers,
    peerId: c.peerId,
    ...(!anyHost && { localAddress: config.host }),
    port: () => node.announcedPort,
    externalAddress: () => node.externalAddress,
    dht: () => node.dhtNode,
    dhtReady,
    rejoinDht: () => s.nodeDht?.join() ?? Promise.resolve(0),
  });
  if (config.dht)
    s.nodeDht = await NodeDht.start(
      {
        runtime,
        config,
        metrics: c.metrics,
        ...(c.dhtId && { id: c.dhtId }),
        warning: (w) => node.emit('warning', w, undefined),
        status: (status) => node.emit('status', status),
      },
      dhtChannel,
    );
  s.presence = startPresence(c.peers, c.peerParts, node.dhtNode, dhtReady(), (p) =>
    node.emit('published', p),
  );
  if (config.upnp || config.natPmp) s.portMapper = startPortMapping(c, s.datagrams.port);
  if (config.overlay) {
    s.nodeOverlay = startOverlay({
      runtime,
      config,
      identity: c.peerParts.identity,
      peers: c.peers,
      port: () => node.port,
      dht: () => node.dhtNode,
      dhtReady: dhtReady(),
    });
    node.useOverlay(s.nodeOverlay.service);
  }
  if (config.lsd) {
    s.lsd = await LocalDiscovery.start(runtime, {
      listenPort: () => node.port,
      ...(config.host !== '0.0.0.0' && config.host !== '::' && { interfaceAddress: config.host }),
      onPeer: (infoHash, host, port) => {
        if (infoHash === OVERLAY_INFOHASH_HEX) s.nodeOverlay?.lsdPeer(host, port);
        else c.torrentFor(infoHash)?.addPeer(host, port);
      },
    });
    if (s.nodeOverlay !== undefined) s.lsd.add(OVERLAY_INFOHASH_HEX);
  }
}

/**
 * Asks the router to forward the TCP port and the UDP socket's port (UPnP and/or NAT-PMP).
 * The external address it reports, when public, becomes the DHT's (a BEP 42 id to match)
 * and is announced to trackers; the external port is the one announced.
 */
function startPortMapping(c: ServiceContext, udpPort: number): PortMapper {
  const { node } = c;
  return startPortMapper(c.runtime, c.config, { tcp: node.port, udp: udpPort }, (status) => {
    const external = node.externalAddress;
    if (external) node.dhtNode?.useExternalIp(external);
    node.emit('portMapping', status);
  });
}
