import type { PeerEndpoint } from '../codec/compact.js';
import type { Clock, TimerHandle, Timers } from '../runtime/runtime.js';
import { type AddressRecord, encodeAddressRecord } from './address-record.js';
import type { KeyDirectory } from './directory.js';
import { endpointText } from './endpoint.js';
import type { RendezvousClient } from './rendezvous.js';
import type { SecurePeers } from './secure-peers.js';

/** How often presence is checked (registrations kept up, the record republished if changed). */
const MAINTAIN_MS = 30_000;
/** A record is republished at least this often (BEP 44 items expire after about two hours). */
const REPUBLISH_MS = 20 * 60_000;
/** A relay re-announces itself in the relay directory this often (peers expire after 30 min). */
const RELAY_ANNOUNCE_MS = 15 * 60_000;
/** Rendezvous nodes a node behind a NAT keeps registrations with. */
const WANTED_RENDEZVOUS = 2;
/** Candidates dialled per round when more rendezvous are wanted. */
const CANDIDATES_PER_ROUND = 4;
/** Candidates remembered as tried (then forgotten, to be tried again). */
const MAX_TRIED = 1024;
/** How long a candidate rendezvous has to answer a ping. */
const PING_TIMEOUT_MS = 5_000;
/** After a change (a registration, reachability), wait this long before publishing. */
const SETTLE_MS = 500;

/** What keeps a node findable. */
export interface PresenceOptions {
  readonly peers: SecurePeers;
  readonly clock: Clock;
  readonly timers: Timers;
  /** The DHT directory once the DHT has joined (undefined without a DHT). */
  readonly directory: () => KeyDirectory | undefined;
  /** Settles when the DHT's first bootstrap is over. */
  readonly dhtReady: Promise<unknown>;
  /** Addresses likely to be shoal nodes (DHT bootstrap nodes given as IP literals). */
  readonly hints: readonly PeerEndpoint[];
  readonly listenPort: () => number;
  /** The node's listen address when it is not "any". */
  readonly listenHost?: string;
  /** Publish our record and register with rendezvous nodes (false: a client that only dials). */
  readonly publish: boolean;
  /** Announce ourselves as a relay while we are reachable. */
  readonly relay: boolean;
  /** Told of each publication: what the record says and how many DHT nodes stored it. */
  readonly onPublished?: (published: Published) => void;
}

/** What one publication of our record did. */
export interface Published {
  readonly addresses: readonly string[];
  readonly rendezvous: readonly string[];
  /** DHT nodes that stored it. */
  readonly stored: number;
}

/**
 * Keeps the node findable by its key. It learns whether the node is reachable (by talking to
 * likely shoal nodes: DHT bootstrap nodes, then relays found in the DHT); behind a NAT it keeps
 * registrations with a couple of rendezvous nodes; it publishes the node's address record
 * (direct address when reachable, rendezvous nodes when not) in the DHT when it changes and
 * every 20 minutes; and while reachable it announces the node as a relay.
 */
export class Presence {
  private timer: TimerHandle | undefined;
  private soon: TimerHandle | undefined;
  private busy = false;
  private stopped = false;
  private published: { record: string; at: number } | undefined;
  private relayAnnouncedAt: number | undefined;
  private readonly tried = new Set<string>();
  /** What the last publication did, for status lines. */
  lastPublished: Published | undefined;

  constructor(private readonly options: PresenceOptions) {
    options.peers.reachability.onChange(() => this.schedule());
  }

  /** Starts once the DHT has bootstrapped (or at once without one). */
  start(): void {
    void this.options.dhtReady.then(() => {
      if (this.stopped) return;
      this.schedule();
      this.timer = this.options.timers.setInterval(() => void this.maintain(), MAINTAIN_MS);
    });
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.soon?.cancel();
  }

  /** Maintains presence soon (changes come in bursts: one pass for all). */
  private schedule(): void {
    if (this.stopped || this.soon !== undefined) return;
    this.soon = this.options.timers.setTimeout(() => {
      this.soon = undefined;
      void this.maintain();
    }, SETTLE_MS);
  }

  private async maintain(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      await this.keepRendezvous();
      await this.announceRelay();
      await this.publish();
    } catch {
      // Each step is retried on the next pass.
    } finally {
      this.busy = false;
    }
  }

  /** Behind a NAT (or not knowing yet), talks to likely rendezvous nodes and registers. */
  private async keepRendezvous(): Promise<void> {
    const { peers } = this.options;
    // A ping keeps each NAT's mapping alive and finds a rendezvous gone silent (closed, so
    // the registration is made again elsewhere).
    await Promise.all(
      peers
        .rendezvousConnections()
        .map((peer) => peer.ping(PING_TIMEOUT_MS).catch(() => peer.close())),
    );
    if (peers.reachability.state === 'public') return;
    if (peers.registeredRendezvous().length >= WANTED_RENDEZVOUS) return;
    const candidates = [...this.options.hints];
    const directory = this.options.directory();
    if (directory !== undefined && (candidates.length === 0 || this.tried.size > 0)) {
      candidates.push(...(await directory.findRelays().catch(() => [])));
    }
    // Talk to a few candidates, then register with the nearest that serve: introductions
    // and relayed bytes to us go through them, so every millisecond to them counts twice.
    const serving: { client: RendezvousClient; rtt: number }[] = [];
    let dialled = 0;
    for (const address of candidates) {
      if (dialled >= CANDIDATES_PER_ROUND || this.stopped) break;
      const id = `${address.host}:${address.port}`;
      if (this.tried.has(id) && this.options.hints.every((h) => `${h.host}:${h.port}` !== id))
        continue;
      if (this.tried.size >= MAX_TRIED) this.tried.clear();
      this.tried.add(id);
      dialled++;
      try {
        const peer = await peers.connectAddress(address);
        const client = peers.rendezvousClient(peer);
        if (client.registered) continue;
        const welcome = await client.welcome;
        if (welcome.serving) serving.push({ client, rtt: await peer.ping(PING_TIMEOUT_MS) });
      } catch {
        // Not a shoal node, or unreachable: the next candidate.
      }
    }
    if (peers.reachability.state !== 'nat' || !this.options.publish) return;
    serving.sort((a, b) => a.rtt - b.rtt);
    const wanted = WANTED_RENDEZVOUS - peers.registeredRendezvous().length;
    for (const { client, rtt } of serving.slice(0, Math.max(0, wanted))) client.register(rtt);
    if (wanted > 0 && serving.length > 0) this.schedule();
  }

  /** While reachable, tells the DHT we relay and introduce for others. */
  private async announceRelay(): Promise<void> {
    const directory = this.options.directory();
    const { peers, clock } = this.options;
    if (!this.options.relay || directory === undefined || peers.reachability.state !== 'public')
      return;
    const now = clock.now();
    if (this.relayAnnouncedAt !== undefined && now - this.relayAnnouncedAt < RELAY_ANNOUNCE_MS)
      return;
    this.relayAnnouncedAt = now;
    await directory.announceRelay(this.options.listenPort());
  }

  /** Publishes our record when it changed, or when the last publication grows old. */
  private async publish(): Promise<void> {
    const directory = this.options.directory();
    if (!this.options.publish || directory === undefined) return;
    const record = this.record();
    const text = encodeAddressRecord({ ...record, time: 0 }).toString('hex');
    const now = this.options.clock.now();
    if (this.published?.record === text && now - this.published.at < REPUBLISH_MS) return;
    if (record.addresses.length === 0 && record.rendezvous.length === 0) return;
    const stored = await directory.publish(record);
    this.published = { record: text, at: now };
    this.lastPublished = {
      addresses: record.addresses.map(endpointText),
      rendezvous: record.rendezvous.map((r) => r.key.toString()),
      stored,
    };
    this.options.onPublished?.(this.lastPublished);
  }

  /** Our record now: a direct address when reachable (or maybe), rendezvous nodes when not. */
  record(): AddressRecord {
    const { peers, clock } = this.options;
    const reach = peers.reachability;
    const port = this.options.listenPort();
    const host =
      reach.state === 'public'
        ? reach.publicHost
        : reach.state === 'unknown'
          ? this.options.listenHost
          : undefined;
    return {
      addresses: host !== undefined && port > 0 ? [{ host, port }] : [],
      rendezvous: reach.state === 'public' ? [] : peers.registeredRendezvous(),
      time: Math.floor(clock.wallTime() / 1000),
    };
  }
}
