import { EventEmitter } from 'node:events';
import type { PeerEndpoint } from '../codec/compact.js';
import { type Identity, IdentityKey } from '../crypto/identity.js';
import type { ManagedStream } from '../net/connection.js';
import type { ConnectionManager } from '../net/connection-manager.js';
import type { Dialer } from '../net/dialer.js';
import type { InboundProtocol } from '../net/inbound-demux.js';
import type { Transport } from '../net/transport.js';
import type { Runtime } from '../runtime/runtime.js';
import { type ChannelRequest, Mux } from '../secure/mux.js';
import { answerPings } from '../secure/ping.js';
import { type SecureStream, secureAccept, secureConnect } from '../secure/secure-stream.js';
import type { AddressRecord, RendezvousPoint } from './address-record.js';
import type { KeyDirectory } from './directory.js';
import { plainHost } from './endpoint.js';
import { PeerConnectError } from './errors.js';
import { HeldConnections } from './held-connections.js';
import { HolePuncher } from './hole-punch.js';
import { relayedStream, secureRelayed, sniffSecureChannel } from './paths.js';
import { type ConnectionKind, PeerConnection } from './peer-connection.js';
import { PeerTable, type ProtocolHandler } from './peer-table.js';
import { portProbeInbound } from './port-probe.js';
import { Reachability } from './reachability.js';
import {
  DEFAULT_RELAY_LIMITS,
  RELAY_PROTOCOL,
  RELAYED_PROTOCOL,
  type RelayLimits,
  RelayServer,
} from './relay.js';
import { type RendezvousClient, RendezvousServer } from './rendezvous.js';
import { RendezvousClients } from './rendezvous-clients.js';
import { RENDEZVOUS_PROTOCOL, type RendezvousMessage } from './rendezvous-messages.js';

/** How long `connect` tries by default, everything included. */
export const CONNECT_TIMEOUT_MS = 30_000;
/** One direct dial (TCP connect and handshake) to one address. */
const DIRECT_DIAL_TIMEOUT_MS = 5_000;
/** How long a requester waits for a target to dial it back after an introduction. */
const REVERSAL_TIMEOUT_MS = 5_000;
/** Addresses of one key dialled directly, one after the other. */
const MAX_DIRECT_ADDRESSES = 4;

type Message<K extends RendezvousMessage['kind']> = Extract<RendezvousMessage, { kind: K }>;

/** How to reach a key. */
export interface ConnectOptions {
  /** Addresses to dial directly first (besides those of the DHT record). */
  readonly addresses?: readonly PeerEndpoint[];
  /** The key's record when the caller has it (no DHT lookup then). */
  readonly record?: AddressRecord;
  /** Look the key up in the DHT when no record is given (default true). */
  readonly lookup?: boolean;
  /** Try its rendezvous nodes (punch, then relay) when direct dials fail (default true). */
  readonly viaRendezvous?: boolean;
  /** Give up after this long (default {@link CONNECT_TIMEOUT_MS}). */
  readonly timeoutMs?: number;
}

/** What the secure peer layer needs from the node. */
export interface SecurePeersOptions {
  readonly runtime: Pick<Runtime, 'clock' | 'timers' | 'random'>;
  readonly identity: Identity;
  readonly connections: ConnectionManager;
  readonly dialer: Dialer;
  /** The transport hole punches dial with (TCP; it must honour `localPort`). */
  readonly punchTransport: Transport;
  /** The node's listening port. */
  readonly listenPort: () => number;
  /** The node's listen address when it is not "any". */
  readonly localAddress?: string;
  /** Relay for others within these limits; false relays nothing (default: on, defaults). */
  readonly relay?: Partial<RelayLimits> | false;
  /** Relayed connections to us at once (default 64). */
  readonly maxRelayedIn?: number;
}

/** Events of the secure peer layer. */
export interface SecurePeersEvents {
  /** A connection was kept in the table (new, or better than the one it replaced). */
  peer: [PeerConnection];
}

/**
 * shoal's peers by key: the node's authenticated, encrypted connections, at most one per key,
 * on the node's port beside BitTorrent. `connect(key)` reaches a key however it can — its
 * published addresses directly; through one of its rendezvous nodes, by a TCP hole punch (or
 * the target dialling back when we are reachable); failing that, relayed by that rendezvous
 * node, end-to-end encrypted — and resolves with the connection to open channels on. Every
 * node also answers pings, serves as a rendezvous, relays within limits, and takes relayed
 * connections. Reachability (are we behind a NAT, does it keep ports) is learned from what
 * peers report.
 */
export class SecurePeers extends EventEmitter<SecurePeersEvents> {
  readonly table = new PeerTable();
  readonly reachability = new Reachability();
  /** Recognises the secure channel on the listening port (register it with the demux). */
  readonly inbound: InboundProtocol;
  /** Answers port probes on the listening port (register it with the demux too). */
  readonly portProbe = portProbeInbound();
  readonly rendezvous: RendezvousServer;
  readonly relay: RelayServer;
  /** Connections made, by kind, and attempts that failed. */
  readonly counters = { direct: 0, punched: 0, relayed: 0, failed: 0, punchesTried: 0 };
  private directory: KeyDirectory | undefined;
  private readonly relayEnabled: boolean;
  /** Our rendezvous channels, one per rendezvous node we use. */
  private readonly clients: RendezvousClients;
  private readonly attempts = new Map<string, Promise<PeerConnection>>();
  /** Incoming connections waiting for our own dial to the same key. */
  private readonly held: HeldConnections;
  /** Keys we asked (through a rendezvous) to dial us back. */
  private readonly dialBacks = new Set<string>();
  private readonly puncher: HolePuncher;
  private relayedIn = 0;
  private stopped = false;

  constructor(private readonly options: SecurePeersOptions) {
    super();
    const { clock, timers } = options.runtime;
    this.relayEnabled = options.relay !== false;
    const limits = options.relay === false ? {} : (options.relay ?? {});
    this.relay = new RelayServer(this.table, clock, timers, { ...DEFAULT_RELAY_LIMITS, ...limits });
    this.rendezvous = new RendezvousServer(
      timers,
      () => this.relayEnabled && this.reachability.state === 'public',
    );
    this.held = new HeldConnections(timers, (peer) => this.admitNow(peer));
    this.clients = new RendezvousClients(timers, this.reachability, (message, client) =>
      this.introduced(message, client),
    );
    this.puncher = new HolePuncher({
      runtime: options.runtime,
      identity: options.identity,
      connections: options.connections,
      transport: options.punchTransport,
      reachability: this.reachability,
      ...(options.localAddress !== undefined && { localAddress: options.localAddress }),
    });
    this.inbound = {
      name: 'shoal',
      sniff: (first) => sniffSecureChannel(first),
      accept: (stream, first) => this.acceptInbound(stream, first),
    };
    this.table.onPeer((peer) => {
      answerPings(peer.mux);
      this.emit('peer', peer);
    });
    this.table.handle(RENDEZVOUS_PROTOCOL, (request, peer) =>
      this.rendezvous.handle(request, peer),
    );
    this.table.handle(RELAY_PROTOCOL, (request, peer) => {
      if (this.relayEnabled) this.relay.handle(request, peer);
      else request.reject('this node does not relay');
    });
    this.table.handle(RELAYED_PROTOCOL, (request, via) => this.acceptRelayed(request, via));
  }

  /** Our identity. */
  get key(): IdentityKey {
    return this.options.identity.publicKey;
  }

  /** Where keys are looked up (set once the DHT runs). */
  setDirectory(directory: KeyDirectory | undefined): void {
    this.directory = directory;
  }

  /** The address record `key` published in the DHT (undefined: none, or no DHT). */
  lookup(key: IdentityKey): Promise<AddressRecord | undefined> {
    return this.directory?.lookup(key) ?? Promise.resolve(undefined);
  }

  /** Installs `handler` for peers' channels of `protocol`, on every connection. */
  handle(protocol: string, handler: ProtocolHandler): void {
    this.table.handle(protocol, handler);
  }

  /**
   * A connection to `key` (an identity or its `shoal_…` text): the open one, or a new one made
   * by the first way that works. Rejects with `PEER_NOT_FOUND` when nothing says where the key
   * is, `PEER_UNREACHABLE` when every way failed (the message lists them).
   */
  connect(key: IdentityKey | string, options: ConnectOptions = {}): Promise<PeerConnection> {
    let target: IdentityKey;
    try {
      target = typeof key === 'string' ? IdentityKey.parse(key) : key;
    } catch (error) {
      return Promise.reject(error);
    }
    if (target.equals(this.key)) {
      return Promise.reject(
        new PeerConnectError('PEER_UNREACHABLE', `${target} is this node's own key`),
      );
    }
    const open = this.table.get(target);
    if (open !== undefined && !open.isClosed) return Promise.resolve(open);
    const id = target.toString();
    const running = this.attempts.get(id);
    if (running !== undefined) return running;
    const attempt = this.establish(target, options).finally(() => this.attempts.delete(id));
    this.attempts.set(id, attempt);
    attempt.catch(() => undefined);
    return attempt;
  }

  /**
   * A connection to whoever listens at `address` (XX handshake: any key is accepted and
   * learned), for finding rendezvous nodes by address.
   */
  async connectAddress(
    address: PeerEndpoint,
    timeoutMs = DIRECT_DIAL_TIMEOUT_MS,
  ): Promise<PeerConnection> {
    return this.dialDirect(undefined, [address], this.options.runtime.clock.now() + timeoutMs);
  }

  /** The rendezvous channel to `peer`, opened on first use; its welcome feeds reachability. */
  rendezvousClient(peer: PeerConnection): RendezvousClient {
    return this.clients.client(peer);
  }

  /** The connections to the rendezvous nodes we are registered with. */
  rendezvousConnections(): PeerConnection[] {
    return this.clients.connections();
  }

  /** The rendezvous nodes we are registered with now, nearest first (what our record names). */
  registeredRendezvous(): RendezvousPoint[] {
    return this.clients.registered();
  }

  /** Figures for status lines, the API and metrics. */
  stats() {
    return {
      identity: this.key.toString(),
      peers: this.table.size,
      connections: this.table.countByKind(),
      made: { ...this.counters },
      reachability: this.reachability.state,
      natKeepsPorts: this.reachability.portPreserving ?? null,
      registeredWith: this.registeredRendezvous().length,
      rendezvous: { registered: this.rendezvous.registeredCount, ...this.rendezvous.counters },
      relay: { open: this.relay.circuitCount, ...this.relay.counters },
      relayedToUs: this.relayedIn,
    };
  }

  /** Closes every secure connection; nothing new is accepted or dialled. */
  stop(): void {
    this.stopped = true;
    this.held.closeAll();
    this.table.closeAll();
  }

  // ---------------------------------------------------------------- connecting

  private async establish(key: IdentityKey, options: ConnectOptions): Promise<PeerConnection> {
    const deadline = this.options.runtime.clock.now() + (options.timeoutMs ?? CONNECT_TIMEOUT_MS);
    const arrival = this.table.waitFor(key);
    const state = { done: false };
    try {
      return await Promise.race([arrival.peer, this.tryEverything(key, options, deadline, state)]);
    } catch (error) {
      const held = this.held.take(key);
      const late = held !== undefined ? this.admitNow(held) : this.table.get(key);
      if (late !== undefined && !late.isClosed) return late;
      this.counters.failed++;
      throw error;
    } finally {
      state.done = true;
      arrival.cancel();
      const held = this.held.take(key);
      if (held !== undefined) this.admitNow(held);
    }
  }

  private async tryEverything(
    key: IdentityKey,
    options: ConnectOptions,
    deadline: number,
    state: { done: boolean },
  ): Promise<PeerConnection> {
    const failures: string[] = [];
    let record = options.record;
    if (record === undefined && options.lookup !== false && this.directory !== undefined) {
      record = await this.directory.lookup(key);
    }
    const addresses = [...(options.addresses ?? [])];
    for (const a of record?.addresses ?? []) {
      if (!addresses.some((b) => b.host === a.host && b.port === a.port)) addresses.push(a);
    }
    if (record === undefined && addresses.length === 0) {
      throw new PeerConnectError(
        'PEER_NOT_FOUND',
        `nothing says where ${key} is: the DHT has no record of it (is it running, on the same DHT?)`,
      );
    }
    if (addresses.length > 0) {
      try {
        return await this.dialDirect(key, addresses, deadline);
      } catch (error) {
        failures.push(`direct: ${(error as Error).message}`);
      }
    }
    if (options.viaRendezvous !== false) {
      for (const point of record?.rendezvous ?? []) {
        if (state.done || point.key.equals(this.key)) continue;
        try {
          return await this.viaRendezvous(key, point, deadline, state);
        } catch (error) {
          failures.push(`via ${point.key}: ${(error as Error).message}`);
        }
      }
    }
    throw new PeerConnectError(
      'PEER_UNREACHABLE',
      `cannot reach ${key}: ${failures.join('; ') || 'its record names no address and no rendezvous'}`,
    );
  }

  /** Dials `addresses` one after the other; IK to `key`, or XX when it is not known. */
  private async dialDirect(
    key: IdentityKey | undefined,
    addresses: readonly PeerEndpoint[],
    deadline: number,
  ): Promise<PeerConnection> {
    const { clock, random, timers } = this.options.runtime;
    let lastError: unknown;
    for (const address of addresses.slice(0, MAX_DIRECT_ADDRESSES)) {
      const left = Math.min(deadline - clock.now(), DIRECT_DIAL_TIMEOUT_MS);
      if (left <= 0 || this.stopped) break;
      const started = clock.now();
      try {
        const { stream, info } = await this.options.dialer.dial({
          host: address.host,
          port: address.port,
          timeoutMs: left,
        });
        const secure = await secureConnect(stream, {
          identity: this.options.identity,
          random,
          timers,
          timeoutMs: Math.max(1, left - (clock.now() - started)),
          ...(key !== undefined && { remote: key }),
        });
        info.encrypted = true;
        this.options.connections.dialSucceeded(address.host, address.port);
        return this.admit(secure, 'direct');
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError ?? new PeerConnectError('PEER_UNREACHABLE', 'no time left to dial');
  }

  /** Through one of the key's rendezvous nodes: a punch (or a dial back), else a relay. */
  private async viaRendezvous(
    key: IdentityKey,
    point: RendezvousPoint,
    deadline: number,
    state: { done: boolean },
  ): Promise<PeerConnection> {
    const { clock, random, timers } = this.options.runtime;
    const listenPort = this.reachability.state === 'public' ? this.options.listenPort() : undefined;
    // Our punch offer (a port prediction takes probes of the rendezvous) while we reach it.
    const offering =
      listenPort === undefined ? this.puncher.offer(point.address) : Promise.resolve(undefined);
    const rendezvous = await this.connect(point.key, {
      addresses: [point.address],
      lookup: false,
      viaRendezvous: false,
      timeoutMs: Math.max(1, Math.min(deadline - clock.now(), DIRECT_DIAL_TIMEOUT_MS)),
    });
    const client = this.rendezvousClient(rendezvous);
    await client.welcome;
    const offer = await offering;
    let punchError: unknown;
    if (listenPort !== undefined || offer !== undefined) {
      // A dial back may arrive before the rendezvous's answer: it must not be held.
      if (listenPort !== undefined) this.dialBacks.add(key.toString());
      try {
        const { candidate, ports } = await client.introduce({
          nonce: random.bytes(8),
          target: key.bytes,
          ...(offer !== undefined && { punchPort: offer.punchPort }),
          ...(offer !== undefined && offer.ports > 1 && { ports: offer.ports }),
          ...(listenPort !== undefined && { listenPort }),
        });
        const punching = offer && candidate && this.puncher.punch(key, offer, candidate, ports);
        if (punching !== undefined) {
          this.counters.punchesTried++;
          return this.admit(await punching, 'punched');
        }
        if (listenPort !== undefined) {
          // The target dials us back; `establish` sees it arrive.
          await new Promise<void>((resolve) => timers.setTimeout(resolve, REVERSAL_TIMEOUT_MS));
        }
      } catch (error) {
        punchError = error;
      } finally {
        this.dialBacks.delete(key.toString());
      }
    }
    if (state.done) throw new PeerConnectError('PEER_UNREACHABLE', 'connected another way');
    try {
      return await this.relayThrough(rendezvous, key, deadline);
    } catch (error) {
      const also = punchError ? ` (punch: ${(punchError as Error).message})` : '';
      throw new PeerConnectError('PEER_UNREACHABLE', `${(error as Error).message}${also}`, {
        cause: error,
      });
    }
  }

  /** A secure channel to `key` inside a `shoal/relay` channel through `relay`. */
  private async relayThrough(
    relay: PeerConnection,
    key: IdentityKey,
    deadline: number,
  ): Promise<PeerConnection> {
    const { clock, random, timers } = this.options.runtime;
    const secure = await secureRelayed(
      { identity: this.options.identity, random, timers },
      relay,
      key,
      Math.max(1, deadline - clock.now()),
    );
    return this.admit(secure, 'relayed', relay.key);
  }

  // ---------------------------------------------------------------- being reached

  private acceptInbound(stream: ManagedStream, first: Buffer): void {
    if (this.stopped) {
      stream.destroy();
      return;
    }
    const { random, timers } = this.options.runtime;
    secureAccept(stream, { identity: this.options.identity, random, timers, initialBytes: first })
      .then((secure) => {
        this.options.connections.established(stream);
        stream.info.encrypted = true;
        this.reachability.inbound(stream.localAddress);
        this.admit(secure, 'direct');
      })
      .catch(() => undefined);
  }

  /** A relay hands us a connection from the key in the channel id. */
  private acceptRelayed(request: ChannelRequest, via: PeerConnection): void {
    const maxIn = this.options.maxRelayedIn ?? 64;
    if (this.stopped || this.relayedIn >= maxIn) {
      request.reject('too many relayed connections');
      return;
    }
    let claimed: IdentityKey;
    try {
      claimed = IdentityKey.fromBytes(request.id);
    } catch {
      request.reject('the channel id is not a key');
      return;
    }
    const stream = relayedStream(request.accept(), via);
    this.relayedIn++;
    let counted = true;
    const release = () => {
      if (counted) this.relayedIn--;
      counted = false;
    };
    const { random, timers } = this.options.runtime;
    secureAccept(stream, { identity: this.options.identity, random, timers })
      .then((secure) => {
        // The relay's word is checked: the handshake proved who is at the other end.
        if (!secure.remoteIdentity.equals(claimed)) {
          secure.destroy();
          release();
        } else this.admit(secure, 'relayed', via.key, release);
      })
      .catch(release);
  }

  /** A rendezvous introduces a peer that wants us: punch, or dial it back. */
  private introduced(message: Message<'introduce'>, client: RendezvousClient): void {
    let from: IdentityKey;
    try {
      from = IdentityKey.fromBytes(message.from);
    } catch {
      return;
    }
    const deadline = this.options.runtime.clock.now() + DIRECT_DIAL_TIMEOUT_MS;
    if (message.direct !== undefined) {
      client.answer(message.nonce, undefined);
      this.dialDirect(from, [message.direct], deadline).catch(() => undefined);
      return;
    }
    // The rendezvous answers port probes at the address we dialled it at.
    const via = client.peer;
    const probeAt =
      via.initiator && via.kind === 'direct'
        ? { host: plainHost(via.remoteAddress), port: via.remotePort }
        : undefined;
    this.puncher
      .answerIntroduction(from, message.candidate, message.ports ?? 1, probeAt, (offer) =>
        client.answer(message.nonce, offer),
      )
      .then((secure) => {
        if (secure !== undefined) this.admit(secure, 'punched');
      })
      .catch(() => undefined);
  }

  // ---------------------------------------------------------------- the table

  /**
   * Makes a finished handshake a connection. An incoming one that would lose to our own dial
   * in flight to the same key waits (see {@link HeldConnections}) for that dial, so callers only
   * ever see the connection both ends keep.
   */
  private admit(
    secure: SecureStream,
    kind: ConnectionKind,
    via?: IdentityKey,
    onClosed?: () => void,
  ): PeerConnection {
    const { clock, timers } = this.options.runtime;
    const peer = new PeerConnection({
      stream: secure,
      mux: new Mux(secure),
      kind,
      localKey: this.key,
      ...(via !== undefined && { via }),
      clock,
      timers,
    });
    if (onClosed !== undefined) peer.onClose(onClosed);
    if (this.stopped) {
      peer.close();
      return peer;
    }
    this.counters[kind]++;
    const id = peer.key.toString();
    const ourDialWins =
      !peer.initiator &&
      this.attempts.has(id) &&
      !this.dialBacks.has(id) &&
      Buffer.compare(this.key.bytes, peer.key.bytes) < 0 &&
      kind !== 'relayed';
    if (ourDialWins) {
      this.held.hold(id, peer);
      return peer;
    }
    return this.admitNow(peer);
  }

  private admitNow(peer: PeerConnection): PeerConnection {
    if (peer.isClosed) return peer;
    return this.table.add(peer);
  }
}
