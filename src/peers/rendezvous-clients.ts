import type { Timers } from '../runtime/runtime.js';
import type { RendezvousPoint } from './address-record.js';
import { plainHost } from './endpoint.js';
import type { PeerConnection } from './peer-connection.js';
import type { Reachability } from './reachability.js';
import { RendezvousClient } from './rendezvous.js';
import type { RendezvousMessage } from './rendezvous-messages.js';

type Message<K extends RendezvousMessage['kind']> = Extract<RendezvousMessage, { kind: K }>;

/**
 * Our side of rendezvous: one `shoal/rendezvous` channel per peer we use as a rendezvous node,
 * opened on first use and forgotten when the connection closes. Each welcome tells us the
 * address the rendezvous sees us at, which feeds reachability; the nodes we are registered
 * with are what our address record names.
 */
export class RendezvousClients {
  private readonly clients = new Map<PeerConnection, RendezvousClient>();

  constructor(
    private readonly timers: Timers,
    private readonly reachability: Reachability,
    /** A rendezvous introduces a peer that wants us. */
    private readonly introduced: (message: Message<'introduce'>, client: RendezvousClient) => void,
  ) {}

  /** The rendezvous channel to `peer`, opened on first use; its welcome feeds reachability. */
  client(peer: PeerConnection): RendezvousClient {
    const open = this.clients.get(peer);
    if (open?.isOpen) return open;
    const client = new RendezvousClient(peer, this.timers, (message, c) =>
      this.introduced(message, c),
    );
    this.clients.set(peer, client);
    peer.onClose(() => this.clients.delete(peer));
    client.welcome
      .then((welcome) => {
        if (welcome.observed === undefined || peer.kind === 'relayed') return;
        const local = { host: peer.stream.localAddress, port: peer.stream.localPort };
        this.reachability.observe(
          welcome.observed,
          local,
          peer.initiator && peer.kind === 'direct',
        );
      })
      .catch(() => undefined);
    return client;
  }

  /** The connections to the rendezvous nodes we are registered with. */
  connections(): PeerConnection[] {
    return [...this.clients].filter(([p, c]) => c.registered && !p.isClosed).map(([p]) => p);
  }

  /** The rendezvous nodes we are registered with now, nearest first (what our record names). */
  registered(): RendezvousPoint[] {
    const out: (RendezvousPoint & { rtt: number })[] = [];
    for (const [peer, client] of this.clients) {
      if (client.registered && !peer.isClosed && peer.kind !== 'relayed') {
        out.push({
          key: peer.key,
          address: { host: plainHost(peer.remoteAddress), port: peer.remotePort },
          rtt: client.rttMs,
        });
      }
    }
    // Nearest first: a requester tries them in this order.
    return out.sort((a, b) => a.rtt - b.rtt).map(({ key, address }) => ({ key, address }));
  }
}
