import { EventEmitter } from 'node:events';
import type { BDict, Encodable } from '../codec/bencode.js';
import { decodeCompactPeers, type NodeContact, type PeerEndpoint } from '../codec/compact.js';
import { hasCode } from '../errors.js';
import { logger } from '../metrics/log.js';
import { createMetricsRegistry, type MetricsRegistry } from '../metrics/registry.js';
import type { DatagramChannel } from '../net/datagram-mux.js';
import type { Runtime, TimerHandle, UdpSocket } from '../runtime/runtime.js';
import { IpRateLimiter } from '../shared/ip-rate-limiter.js';
import { keepBytes } from '../shared/kept-bytes.js';
import { type DhtItem, type Ed25519Keys, ItemStore } from './bep44.js';
import { ItemLookups } from './item-lookups.js';
import { iterativeLookup, type LookupReply } from './lookup.js';
import { DhtMetrics, type LookupKind } from './metrics.js';
import { ID_BYTES, idMatchesIp, isExemptAddress, nodeIdForIp } from './node-id.js';
import { PeerStore } from './peer-store.js';
import { loadDhtState, saveDhtState } from './persistence.js';
import { QueryServer } from './query-server.js';
import { K, RoutingTable } from './routing-table.js';
import { KrpcTransactions, type QueryTarget, type RpcCounters } from './rpc.js';
import { TokenIssuer } from './tokens.js';

const log = logger('dht');

/** Settings of a DHT node, with defaults in {@link DEFAULT_DHT_OPTIONS}. */
export interface DhtOptions {
  readonly port: number;
  readonly host: string;
  /** Nodes to bootstrap from (host names allowed; the egress policy applies). */
  readonly bootstrap: readonly { host: string; port: number }[];
  /** BEP 43: ask others not to add us, and answer no queries. */
  readonly readOnly: boolean;
  readonly queryTimeoutMs: number;
  /** Lookup parallelism: 5, as libtorrent's `search_branching` (Kademlia's 3 costs an RTT). */
  readonly alpha: number;
  /**
   * How many of the closest nodes that answered an announce's lookup store the peer: BEP 5's 8,
   * then the next closest the lookup already met (no extra lookup queries). A finder's lookup
   * passes one of them a step earlier: at 10,000 simulated nodes the median time to find a peer
   * falls from 2.08 to 1.59 RTTs with 16, for 8 more announce_peer queries per announce.
   */
  readonly announceWidth: number;
  /** Queries per second accepted from one address, and the burst allowed. */
  readonly ratePerSecond: number;
  readonly rateBurst: number;
  readonly maxInfoHashes: number;
  readonly maxPeersPerInfoHash: number;
  readonly maxItems: number;
  /**
   * BEP 42: refuse announces from, and routing-table places to, nodes at public addresses whose
   * id does not match the address (loopback and private ranges are exempt).
   */
  readonly enforceNodeId: boolean;
  /** Where to keep the node id and routing table between runs. */
  readonly statePath?: string;
  /** A fixed node id (otherwise loaded from state, or random). */
  readonly id?: Buffer;
  /** The registry to count into (the node's; the simulator shares one); a new one otherwise. */
  readonly metrics?: MetricsRegistry;
}

/** Defaults in line with mainline clients. */
export const DEFAULT_DHT_OPTIONS: DhtOptions = {
  port: 6881,
  host: '0.0.0.0',
  bootstrap: [],
  readOnly: false,
  queryTimeoutMs: 2000,
  alpha: 5,
  announceWidth: 16,
  ratePerSecond: 50,
  rateBurst: 100,
  maxInfoHashes: 10_000,
  maxPeersPerInfoHash: 200,
  maxItems: 10_000,
  enforceNodeId: true,
};

/** The well-known public bootstrap routers; used only when the user's configuration names them. */
export const PUBLIC_BOOTSTRAP = [
  { host: 'router.bittorrent.com', port: 6881 },
  { host: 'dht.transmissionbt.com', port: 6881 },
  { host: 'router.utorrent.com', port: 6881 },
];

export { DhtError } from './errors.js';

/** Events of a DHT node. */
export interface DhtEvents {
  /** Someone announced a peer for an info-hash to us. */
  announce: [infoHash: Buffer, peer: PeerEndpoint];
  warning: [string];
}

/** What a get_peers lookup found. */
export interface PeerLookup {
  readonly peers: PeerEndpoint[];
  readonly hops: number;
  readonly queried: number;
  readonly ms: number;
  /** The closest nodes and the tokens they gave (for announcing). */
  readonly closest: readonly LookupReply[];
}

const CLIENT_VERSION = Buffer.from([0x53, 0x48, 0x00, 0x01]); // "SH" 0.1
const PEER_TTL_MS = 30 * 60_000;
const ITEM_TTL_MS = 2 * 60 * 60_000;
const MAINTENANCE_MS = 60_000;
const REFRESH_AFTER_MS = 15 * 60_000;

/**
 * A mainline DHT node (BEP 5) with BEP 42 node-id security, BEP 43 read-only mode, BEP 44
 * storage, BEP 51 infohash sampling and BEP 32 node lists for IPv6. It answers queries
 * (rate-limited per address, never replying to an unverified address with much more than it
 * sent), keeps a Kademlia routing table that is saved between runs, and runs iterative lookups.
 */
export class Dht extends EventEmitter<DhtEvents> {
  readonly options: DhtOptions;
  readonly table: RoutingTable;
  private socket: UdpSocket | undefined;
  private rpc!: KrpcTransactions;
  private server!: QueryServer;
  private channel!: DatagramChannel;
  private readonly metrics: DhtMetrics;
  private readonly tokens: TokenIssuer;
  private readonly peers: PeerStore;
  private readonly items: ItemStore;
  private readonly itemLookups: ItemLookups;
  private readonly votes = new Map<string, number>();
  private timers: TimerHandle[] = [];
  private family: 4 | 6 = 4;
  externalIp: string | undefined;

  private constructor(
    private readonly runtime: Runtime,
    options: Partial<DhtOptions>,
    id: Buffer,
  ) {
    super();
    const keptId = keepBytes(id);
    this.options = {
      ...DEFAULT_DHT_OPTIONS,
      ...options,
      ...(options.id !== undefined && { id: keptId }),
    };
    this.family = this.options.host.includes(':') ? 6 : 4;
    const now = () => runtime.clock.now();
    this.table = new RoutingTable(keptId, now, {
      enforceNodeId: this.options.enforceNodeId,
    });
    this.tokens = new TokenIssuer(runtime.random, now);
    this.peers = new PeerStore(
      {
        maxInfoHashes: this.options.maxInfoHashes,
        maxPeersPerInfoHash: this.options.maxPeersPerInfoHash,
        ttlMs: PEER_TTL_MS,
      },
      runtime.random,
    );
    this.items = new ItemStore(this.options.maxItems, ITEM_TTL_MS);
    this.itemLookups = new ItemLookups({
      items: this.items,
      now,
      lookupGet: (target, args, onReply) => this.lookup(target, 'get', args, undefined, onReply),
      query: (to, q, a) => this.query(to, q, a),
    });
    this.metrics = new DhtMetrics(this.options.metrics ?? createMetricsRegistry(), {
      nodes: () => this.table.size,
      storedInfoHashes: () => this.peers.size,
      storedItems: () => this.items.size,
    });
  }

  /** Puts the node on the network: queries and replies go through `channel`. */
  private attach(channel: DatagramChannel): void {
    const runtime = this.runtime;
    this.channel = channel;
    this.rpc = new KrpcTransactions({
      channel,
      random: runtime.random,
      timers: runtime.timers,
      queryTimeoutMs: this.options.queryTimeoutMs,
      readOnly: this.options.readOnly,
      clientVersion: CLIENT_VERSION,
      id: () => this.id,
      metrics: this.metrics,
      events: {
        query: (q) => this.server.handle(q),
        responded: (nodeId, host, port) => {
          const outcome = this.table.insert({ id: nodeId, host, port }, true);
          if (outcome.kind === 'full') void this.pingQuestionable(outcome.ping);
        },
        timedOut: (nodeId) => this.table.failed(nodeId),
        sawExternalIp: (compact) => this.voteExternalIp(compact),
      },
    });
    this.server = new QueryServer({
      table: this.table,
      limiter: new IpRateLimiter(runtime.clock, this.options.ratePerSecond, this.options.rateBurst),
      metrics: this.metrics,
      readOnly: this.options.readOnly,
      clientVersion: CLIENT_VERSION,
      context: () => ({
        table: this.table,
        tokens: this.tokens,
        peers: this.peers,
        items: this.items,
        family: this.family,
        enforceNodeId: this.options.enforceNodeId,
        now: runtime.clock.now(),
        announced: (infoHash, peer) => this.emit('announce', infoHash, peer),
      }),
      send: (packet, host, port) => this.send(packet, host, port),
      pingQuestionable: (node) => void this.pingQuestionable(node),
    });
  }

  /**
   * Starts a node: restores saved state and starts maintenance. It uses `channel` (a channel of
   * the node's shared UDP socket) when given, else binds a socket of its own.
   */
  static async start(
    runtime: Runtime,
    options: Partial<DhtOptions> = {},
    channel?: DatagramChannel,
  ): Promise<Dht> {
    const saved = options.statePath ? await loadDhtState(runtime.fs, options.statePath) : undefined;
    const id = options.id ?? saved?.id ?? runtime.random.bytes(ID_BYTES);
    const dht = new Dht(runtime, options, id);
    if (channel) dht.attach(channel);
    else {
      const socket = await runtime.udp.bind({
        port: dht.options.port,
        host: dht.options.host,
        family: dht.family === 6 ? 'IPv6' : 'IPv4',
      });
      socket.onError((e) => dht.emit('warning', `DHT socket: ${e.message}`));
      dht.socket = socket;
      dht.attach(socket);
    }
    for (const n of saved?.nodes ?? []) dht.table.insert(n, false);
    dht.timers.push(runtime.timers.setInterval(() => dht.maintain(), MAINTENANCE_MS));
    return dht;
  }

  /** Counts of the KRPC traffic. */
  get counters(): RpcCounters {
    return this.metrics.counters();
  }

  /** Our node id. */
  get id(): Buffer {
    return this.table.id;
  }

  /** The UDP port we answer on. */
  get port(): number {
    return this.channel.address().port;
  }

  /** Joins the network: a lookup of our own id through the bootstrap nodes and saved contacts. */
  async bootstrap(): Promise<number> {
    const seeds: NodeContact[] = this.table.closestContacts(this.id, K);
    const pings = this.options.bootstrap.map((b) =>
      this.query({ host: b.host, port: b.port }, 'find_node', { target: this.id })
        .then((r) => {
          const id = r.get('id');
          if (id instanceof Uint8Array && id.length === ID_BYTES)
            seeds.push({ id: Buffer.from(id), host: b.host, port: b.port });
        })
        .catch((e: Error) => {
          if (hasCode(e, 'EGRESS_DENIED')) this.emit('warning', e.message);
        }),
    );
    await Promise.all(pings);
    if (seeds.length === 0) {
      log.info('bootstrap found nobody', { routers: this.options.bootstrap.length });
      return 0;
    }
    await this.lookup(
      this.id,
      'find_node',
      () => ({ target: this.id }),
      seeds,
      undefined,
      'bootstrap',
    );
    // Kademlia's join: also look up an id in every bucket, so the far buckets fill now
    // rather than at their first refresh a quarter of an hour later.
    const targets = this.table.staleBucketTargets(0, (n) => this.runtime.random.bytes(n));
    for (let i = 0; i < targets.length; i += this.options.alpha) {
      const batch = targets.slice(i, i + this.options.alpha);
      await Promise.all(
        batch.map((target) =>
          this.lookup(
            target,
            'find_node',
            () => ({ target }),
            undefined,
            undefined,
            'bootstrap',
          ).catch(() => undefined),
        ),
      );
    }
    return this.table.size;
  }

  /** Finds the nodes closest to `target`. */
  async findNode(target: Buffer): Promise<NodeContact[]> {
    const r = await this.lookup(target, 'find_node', () => ({ target }));
    return r.closest.map((c) => c.contact);
  }

  /** Looks up peers for `infoHash`; `onPeers` sees them as they arrive. */
  getPeers(infoHash: Buffer, onPeers?: (peers: PeerEndpoint[]) => void): Promise<PeerLookup> {
    return this.peerLookup(infoHash, K, onPeers);
  }

  /** A get_peers lookup that returns the `keep` closest answering nodes. */
  private async peerLookup(
    infoHash: Buffer,
    keep: number,
    onPeers?: (peers: PeerEndpoint[]) => void,
  ): Promise<PeerLookup> {
    const start = this.runtime.clock.now();
    const seen = new Set<string>();
    const found: PeerEndpoint[] = [];
    const r = await this.lookup(
      infoHash,
      'get_peers',
      () => ({ info_hash: infoHash }),
      undefined,
      (reply) => {
        const values = reply.r.get('values');
        if (!Array.isArray(values)) return;
        const fresh: PeerEndpoint[] = [];
        for (const v of values.slice(0, 200)) {
          if (!(v instanceof Uint8Array)) continue;
          for (const p of decodeCompactPeers(v, v.length === 18 ? 6 : 4)) {
            const key = `${p.host}:${p.port}`;
            if (!seen.has(key)) {
              seen.add(key);
              fresh.push(p);
            }
          }
        }
        if (fresh.length > 0) {
          found.push(...fresh);
          onPeers?.(fresh);
        }
      },
      undefined,
      keep,
    );
    return {
      peers: found,
      hops: r.hops,
      queried: r.queried,
      ms: this.runtime.clock.now() - start,
      closest: r.closest,
    };
  }

  /**
   * Announces that we have `infoHash` on `port` to the closest nodes (get_peers, then
   * announce_peer with each node's token, to {@link DhtOptions.announceWidth} nodes); also returns
   * the peers found on the way.
   */
  async announce(
    infoHash: Buffer,
    port: number,
    options: { impliedPort?: boolean; seed?: boolean; onPeers?: (p: PeerEndpoint[]) => void } = {},
  ): Promise<PeerLookup> {
    const width = Math.max(K, this.options.announceWidth);
    const lookup = await this.peerLookup(infoHash, width, options.onPeers);
    if (!this.options.readOnly) {
      await Promise.all(
        lookup.closest.map(({ contact, r }) => {
          const token = r.get('token');
          if (!(token instanceof Uint8Array)) return Promise.resolve();
          return this.query(contact, 'announce_peer', {
            info_hash: infoHash,
            port,
            token,
            ...(options.impliedPort && { implied_port: 1 }),
            ...(options.seed && { seed: 1 }),
          }).catch(() => undefined);
        }),
      );
    }
    return lookup;
  }

  /** Stores an immutable value (BEP 44); resolves with its target and how many nodes took it. */
  putImmutable(value: Encodable): Promise<{ target: Buffer; stored: number }> {
    return this.itemLookups.putImmutable(value);
  }

  /** Stores a mutable value signed with `keys` (BEP 44); seq defaults to one above what is found. */
  putMutable(
    keys: Ed25519Keys,
    value: Encodable,
    options: { seq?: number; salt?: Buffer } = {},
  ): Promise<{ target: Buffer; seq: number; stored: number }> {
    return this.itemLookups.putMutable(keys, value, options);
  }

  /** Fetches an item by target: immutable (verified by hash) or mutable (signature, highest seq). */
  getItem(target: Buffer, salt?: Buffer): Promise<DhtItem | undefined> {
    return this.itemLookups.getItem(target, salt);
  }

  /** Nodes in the routing table (0 until a bootstrap or a contact succeeds). */
  get nodeCount(): number {
    return this.table.size;
  }

  /** Snapshot for status lines, the CLI and metrics. */
  stats() {
    return {
      id: this.id.toString('hex'),
      port: this.port,
      nodes: this.table.size,
      buckets: this.table.depth,
      ...this.table.health(),
      storedInfoHashes: this.peers.size,
      storedItems: this.items.size,
      externalIp: this.externalIp ?? null,
      ...this.counters,
    };
  }

  /** Saves state and closes the socket (if the DHT has its own). */
  async stop(): Promise<void> {
    for (const t of this.timers) t.cancel();
    this.timers = [];
    this.rpc.close();
    this.metrics.close();
    await this.saveState();
    await this.socket?.close();
    this.socket = undefined;
  }

  // ----------------------------------------------------------------- lookups

  private async lookup(
    target: Buffer,
    method: 'find_node' | 'get_peers' | 'get',
    args: () => Record<string, Encodable | undefined>,
    seeds?: NodeContact[],
    onReply?: (reply: LookupReply) => void,
    kind: LookupKind = method,
    keep = K,
  ) {
    const started = this.runtime.clock.now();
    const r = await iterativeLookup({
      target,
      seeds: seeds ?? this.table.closestContacts(target, K * 2),
      k: K,
      keep,
      alpha: this.options.alpha,
      maxQueries: 256,
      family: this.family,
      ask: (contact) => this.query(contact, method, args()),
      onNodes: (nodes) => this.learnNodes(nodes),
      ...(onReply && { onReply }),
    });
    const ms = this.runtime.clock.now() - started;
    this.metrics.lookup(kind, r.hops, r.queried, ms);
    log.debug('lookup done', { kind, hops: r.hops, queried: r.queried, ms });
    return r;
  }

  /**
   * Offers the nodes a reply names to the routing table (see {@link RoutingTable.heardAbout};
   * it checks BEP 42 ids and the address limits).
   */
  private learnNodes(nodes: readonly NodeContact[]): void {
    for (const n of nodes.slice(0, K)) this.table.heardAbout(n);
  }

  /** Sends one query and resolves with the response body. */
  query(to: QueryTarget, q: string, a: Record<string, Encodable | undefined>): Promise<BDict> {
    return this.rpc.query(to, q, a);
  }

  private send(packet: Buffer, host: string, port: number): void {
    try {
      this.rpc.send(packet, host, port);
    } catch (error) {
      this.emit('warning', (error as Error).message);
    }
  }

  private async pingQuestionable(node: NodeContact): Promise<void> {
    await this.query(node, 'ping', {}).catch(() => undefined); // a failure marks it, and may replace it
  }

  /** BEP 42: learn our external address from what others see; adopt a matching id when sure. */
  private voteExternalIp(compact: Uint8Array): void {
    if (compact.length !== 6) return;
    const host = `${compact[0]}.${compact[1]}.${compact[2]}.${compact[3]}`;
    const n = (this.votes.get(host) ?? 0) + 1;
    this.votes.set(host, n);
    if (this.votes.size > 64) this.votes.clear();
    if (n < 5 || this.externalIp === host) return;
    this.adoptExternalIp(host);
  }

  /**
   * Takes `host` as our external address at once, as when the router told us (UPnP or
   * NAT-PMP): a stronger word than votes, so a matching BEP 42 id is adopted now. Later votes
   * may still move it (a router behind another NAT reports an address nobody sees).
   */
  useExternalIp(host: string): void {
    if (this.externalIp !== host) this.adoptExternalIp(host);
  }

  private adoptExternalIp(host: string): void {
    this.externalIp = host;
    if (!isExemptAddress(host) && !idMatchesIp(this.id, host) && this.options.id === undefined) {
      const nodes = this.table.all();
      this.table.id = keepBytes(nodeIdForIp(host, this.runtime.random));
      for (const node of nodes) this.table.remove(node.id);
      for (const node of nodes) this.table.insert(node, node.responded);
    }
  }

  /**
   * Once a minute: expires stored peers, refreshes stale buckets, bootstraps an empty table
   * and saves the state. Most minutes there is nothing to look up, and then no promise is
   * made: a 100,000-node simulation runs this 1,700 times a virtual second.
   */
  private maintain(): void {
    const now = this.runtime.clock.now();
    this.peers.expire(now);
    const targets = this.table.staleBucketTargets(REFRESH_AFTER_MS, (n) =>
      this.runtime.random.bytes(n),
    );
    const bootstrap = this.table.size === 0 && this.options.bootstrap.length > 0;
    if (targets.length > 0 || bootstrap) void this.refresh(targets);
    else if (this.options.statePath) void this.saveState();
  }

  /** Looks up `targets` (stale buckets), bootstraps an empty table, then saves the state. */
  private async refresh(targets: readonly Buffer[]): Promise<void> {
    // Every stale bucket was marked refreshed, so every one is looked up (a few at a time).
    for (let i = 0; i < targets.length; i += this.options.alpha) {
      const batch = targets.slice(i, i + this.options.alpha);
      await Promise.all(
        batch.map((target) =>
          this.lookup(
            target,
            'find_node',
            () => ({ target }),
            undefined,
            undefined,
            'refresh',
          ).catch(() => undefined),
        ),
      );
    }
    if (this.table.size === 0 && this.options.bootstrap.length > 0)
      await this.bootstrap().catch(() => 0);
    await this.saveState();
  }

  private async saveState(): Promise<void> {
    if (!this.options.statePath) return;
    await saveDhtState(this.runtime.fs, this.options.statePath, {
      id: this.id,
      nodes: this.table.all(),
    }).catch((e: Error) => this.emit('warning', `cannot save DHT state: ${e.message}`));
  }
}
