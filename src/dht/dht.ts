import { EventEmitter } from 'node:events';
import { type BDict, decode, type Encodable, encode } from '../codec/bencode.js';
import {
  decodeCompactNodes,
  decodeCompactPeers,
  encodeCompactAddress,
  encodeCompactNodes,
  encodeCompactPeers,
  ipFamily,
  type NodeContact,
  type PeerEndpoint,
} from '../codec/compact.js';
import { ShoalError } from '../errors.js';
import type { Runtime, TimerHandle, UdpRemote, UdpSocket } from '../runtime/runtime.js';
import { IpRateLimiter } from '../shared/ip-rate-limiter.js';
import {
  type DhtItem,
  type Ed25519Keys,
  ItemStore,
  immutableTarget,
  MAX_SALT_BYTES,
  MAX_VALUE_BYTES,
  mutableTarget,
  signMutable,
  verifyMutable,
} from './bep44.js';
import {
  bytesField,
  decodeKrpc,
  encodeError,
  encodeQuery,
  encodeResponse,
  idField,
  intField,
  KrpcError,
  KrpcErrorCode,
  type KrpcMessage,
  MAX_KRPC_BYTES,
} from './krpc.js';
import { iterativeLookup, type LookupReply } from './lookup.js';
import { ID_BYTES, idMatchesIp, isExemptAddress, nodeIdForIp } from './node-id.js';
import { PeerStore } from './peer-store.js';
import { K, RoutingTable } from './routing-table.js';
import { TokenIssuer } from './tokens.js';

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
  /** Queries per second accepted from one address, and the burst allowed. */
  readonly ratePerSecond: number;
  readonly rateBurst: number;
  readonly maxInfoHashes: number;
  readonly maxPeersPerInfoHash: number;
  readonly maxItems: number;
  /** BEP 42: refuse to store announces from nodes whose id does not match their address. */
  readonly enforceNodeId: boolean;
  /** Where to keep the node id and routing table between runs. */
  readonly statePath?: string;
  /** A fixed node id (otherwise loaded from state, or random). */
  readonly id?: Buffer;
}

/** Defaults in line with mainline clients. */
export const DEFAULT_DHT_OPTIONS: DhtOptions = {
  port: 6881,
  host: '0.0.0.0',
  bootstrap: [],
  readOnly: false,
  queryTimeoutMs: 2000,
  alpha: 5,
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

/** A DHT operation could not complete. */
export class DhtError extends ShoalError {
  constructor(message: string) {
    super('DHT', message);
  }
}

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

interface Pending {
  resolve: (r: BDict) => void;
  reject: (e: Error) => void;
  timer: TimerHandle;
  host: string;
  port: number;
  id?: Buffer;
}

const CLIENT_VERSION = Buffer.from([0x53, 0x48, 0x00, 0x01]); // "SH" 0.1
const PEER_TTL_MS = 30 * 60_000;
const ITEM_TTL_MS = 2 * 60 * 60_000;
const MAINTENANCE_MS = 60_000;
const REFRESH_AFTER_MS = 15 * 60_000;
const SAMPLE_INTERVAL_S = 300;
const MAX_VALUES_PER_REPLY = 50;

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
  private readonly pending = new Map<string, Pending>();
  private readonly tokens: TokenIssuer;
  private readonly peers: PeerStore;
  private readonly items: ItemStore;
  private readonly limiter: IpRateLimiter;
  private readonly votes = new Map<string, number>();
  private timers: TimerHandle[] = [];
  private family: 4 | 6 = 4;
  externalIp: string | undefined;
  readonly counters = {
    queriesIn: 0,
    queriesOut: 0,
    responsesIn: 0,
    errorsIn: 0,
    timeouts: 0,
    rateLimited: 0,
    dropped: 0,
  };
  readonly queriesByType = new Map<string, number>();

  private constructor(
    private readonly runtime: Runtime,
    options: Partial<DhtOptions>,
    id: Buffer,
  ) {
    super();
    this.options = { ...DEFAULT_DHT_OPTIONS, ...options };
    const now = () => runtime.clock.now();
    this.table = new RoutingTable(id, now);
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
    this.limiter = new IpRateLimiter(
      runtime.clock,
      this.options.ratePerSecond,
      this.options.rateBurst,
    );
  }

  /** Binds the UDP socket, restores saved state, and bootstraps in the background. */
  static async start(runtime: Runtime, options: Partial<DhtOptions> = {}): Promise<Dht> {
    const saved = options.statePath ? await loadState(runtime, options.statePath) : undefined;
    const id = options.id ?? saved?.id ?? runtime.random.bytes(ID_BYTES);
    const dht = new Dht(runtime, options, id);
    const host = dht.options.host;
    dht.family = host.includes(':') ? 6 : 4;
    dht.socket = await runtime.udp.bind({
      port: dht.options.port,
      host,
      family: dht.family === 6 ? 'IPv6' : 'IPv4',
    });
    dht.socket.onMessage((data, from) => dht.onPacket(data, from));
    dht.socket.onError((e) => dht.emit('warning', `DHT socket: ${e.message}`));
    for (const n of saved?.nodes ?? []) dht.table.insert(n, false);
    dht.timers.push(runtime.timers.setInterval(() => void dht.maintain(), MAINTENANCE_MS));
    return dht;
  }

  /** Our node id. */
  get id(): Buffer {
    return this.table.id;
  }

  /** The UDP port we answer on. */
  get port(): number {
    return this.socket?.address().port ?? 0;
  }

  /** Joins the network: a lookup of our own id through the bootstrap nodes and saved contacts. */
  async bootstrap(): Promise<number> {
    const seeds: NodeContact[] = [...this.table.closest(this.id, K)];
    const pings = this.options.bootstrap.map((b) =>
      this.query({ host: b.host, port: b.port }, 'find_node', { target: this.id })
        .then((r) => {
          const id = r.get('id');
          if (id instanceof Uint8Array && id.length === ID_BYTES)
            seeds.push({ id: Buffer.from(id), host: b.host, port: b.port });
        })
        .catch((e: Error) => {
          if (e instanceof ShoalError && e.code === 'EGRESS_DENIED')
            this.emit('warning', e.message);
        }),
    );
    await Promise.all(pings);
    if (seeds.length === 0) return 0;
    await this.lookup(this.id, 'find_node', () => ({ target: this.id }), seeds);
    // Kademlia's join: also look up an id in every bucket, so the far buckets fill now
    // rather than at their first refresh a quarter of an hour later.
    const targets = this.table.staleBucketTargets(0, (n) => this.runtime.random.bytes(n));
    for (let i = 0; i < targets.length; i += this.options.alpha) {
      const batch = targets.slice(i, i + this.options.alpha);
      await Promise.all(
        batch.map((target) =>
          this.lookup(target, 'find_node', () => ({ target })).catch(() => undefined),
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
  async getPeers(infoHash: Buffer, onPeers?: (peers: PeerEndpoint[]) => void): Promise<PeerLookup> {
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
   * announce_peer with each node's token); also returns the peers found on the way.
   */
  async announce(
    infoHash: Buffer,
    port: number,
    options: { impliedPort?: boolean; seed?: boolean; onPeers?: (p: PeerEndpoint[]) => void } = {},
  ): Promise<PeerLookup> {
    const lookup = await this.getPeers(infoHash, options.onPeers);
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
  async putImmutable(value: Encodable): Promise<{ target: Buffer; stored: number }> {
    const v = encode(value);
    if (v.length > MAX_VALUE_BYTES)
      throw new DhtError(`value is ${v.length} bytes; BEP 44 allows ${MAX_VALUE_BYTES}`);
    const target = immutableTarget(v);
    const stored = await this.put(target, { v }, () => ({ v: decode(v) as Encodable }));
    return { target, stored };
  }

  /** Stores a mutable value signed with `keys` (BEP 44); seq defaults to one above what is found. */
  async putMutable(
    keys: Ed25519Keys,
    value: Encodable,
    options: { seq?: number; salt?: Buffer } = {},
  ): Promise<{ target: Buffer; seq: number; stored: number }> {
    const salt = options.salt;
    if (salt && salt.length > MAX_SALT_BYTES) throw new DhtError('salt longer than 64 bytes');
    const target = mutableTarget(keys.publicKey, salt);
    let seq = options.seq;
    if (seq === undefined) {
      const current = await this.getItem(target, salt);
      seq = (current?.seq ?? -1) + 1;
    }
    const item = signMutable(keys, value, seq, salt);
    if (item.v.length > MAX_VALUE_BYTES)
      throw new DhtError(`value is ${item.v.length} bytes; BEP 44 allows ${MAX_VALUE_BYTES}`);
    const stored = await this.put(target, item, () => ({
      v: decode(item.v) as Encodable,
      k: item.k,
      sig: item.sig,
      seq: item.seq,
      ...(salt && salt.length > 0 && { salt }),
    }));
    return { target, seq, stored };
  }

  /** Fetches an item by target: immutable (verified by hash) or mutable (signature, highest seq). */
  async getItem(target: Buffer, salt?: Buffer): Promise<DhtItem | undefined> {
    const local = this.items.get(target, this.runtime.clock.now());
    let best: DhtItem | undefined = local;
    await this.lookup(
      target,
      'get',
      () => ({ target }),
      undefined,
      (reply) => {
        const item = itemFromReply(reply.r, salt);
        if (!item || !validItem(target, item)) return;
        if (!best || (item.seq !== undefined && (best.seq ?? -1) < item.seq)) best = item;
      },
    );
    return best;
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

  /** Saves state and closes the socket. */
  async stop(): Promise<void> {
    for (const t of this.timers) t.cancel();
    this.timers = [];
    for (const p of this.pending.values()) {
      p.timer.cancel();
      p.reject(new DhtError('DHT stopped'));
    }
    this.pending.clear();
    await this.saveState();
    await this.socket?.close();
    this.socket = undefined;
  }

  // ----------------------------------------------------------------- lookups

  private lookup(
    target: Buffer,
    method: string,
    args: () => Record<string, Encodable | undefined>,
    seeds?: NodeContact[],
    onReply?: (reply: LookupReply) => void,
  ) {
    return iterativeLookup({
      target,
      seeds: seeds ?? this.table.closest(target, K * 2),
      k: K,
      alpha: this.options.alpha,
      maxQueries: 256,
      family: this.family,
      ask: (contact) => this.query(contact, method, args()),
      onNodes: (nodes) => this.learnNodes(nodes),
      ...(onReply && { onReply }),
    });
  }

  /** Offers the nodes a reply names to the routing table (see {@link RoutingTable.heardAbout}). */
  private learnNodes(nodes: readonly NodeContact[]): void {
    for (const n of nodes.slice(0, K)) {
      if (!isExemptAddress(n.host) && !idMatchesIp(n.id, n.host)) continue;
      this.table.heardAbout(n);
    }
  }

  private async put(
    target: Buffer,
    item: DhtItem,
    args: () => Record<string, Encodable | undefined>,
  ): Promise<number> {
    this.items.set(target, item, this.runtime.clock.now());
    const r = await this.lookup(target, 'get', () => ({ target }));
    const results = await Promise.all(
      r.closest.map(({ contact, r: reply }) => {
        const token = reply.get('token');
        if (!(token instanceof Uint8Array)) return Promise.resolve(false);
        return this.query(contact, 'put', { ...args(), token }).then(
          () => true,
          () => false,
        );
      }),
    );
    return results.filter(Boolean).length;
  }

  // ----------------------------------------------------------------- outgoing queries

  /** Sends one query and resolves with the response body. */
  query(
    to: { host: string; port: number; id?: Buffer },
    q: string,
    a: Record<string, Encodable | undefined>,
  ): Promise<BDict> {
    return new Promise((resolve, reject) => {
      if (!this.socket) {
        reject(new DhtError('DHT is not running'));
        return;
      }
      let t: Buffer;
      do t = this.runtime.random.bytes(2);
      while (this.pending.has(t.toString('hex')));
      const key = t.toString('hex');
      const packet = encodeQuery(
        t,
        q,
        { ...a, id: this.id },
        this.options.readOnly,
        CLIENT_VERSION,
      );
      try {
        this.socket.send(packet, to.port, to.host);
      } catch (error) {
        reject(error as Error);
        return;
      }
      this.counters.queriesOut++;
      const timer = this.runtime.timers.setTimeout(() => {
        this.pending.delete(key);
        this.counters.timeouts++;
        if (to.id) this.table.failed(to.id);
        reject(new DhtError(`${to.host}:${to.port} did not answer ${q}`));
      }, this.options.queryTimeoutMs);
      this.pending.set(key, {
        resolve,
        reject,
        timer,
        host: to.host,
        port: to.port,
        ...(to.id && { id: to.id }),
      });
    });
  }

  // ----------------------------------------------------------------- incoming

  private onPacket(data: Buffer, from: UdpRemote): void {
    const host = from.address.startsWith('::ffff:') ? from.address.slice(7) : from.address;
    let msg: KrpcMessage;
    try {
      msg = decodeKrpc(data);
    } catch {
      this.counters.dropped++;
      return;
    }
    if (msg.y === 'q') {
      this.onQuery(msg, data.length, host, from.port);
      return;
    }
    const key = Buffer.from(msg.t).toString('hex');
    const p = this.pending.get(key);
    // A reply must come from the address we asked, or it is ignored (spoofing, stray packets).
    const asked = p?.host === 'localhost' ? '127.0.0.1' : p?.host;
    if (!p || asked !== host || p.port !== from.port) {
      this.counters.dropped++;
      return;
    }
    this.pending.delete(key);
    p.timer.cancel();
    if (msg.ip) this.voteExternalIp(msg.ip);
    if (msg.y === 'e') {
      this.counters.errorsIn++;
      p.reject(new DhtError(`${host}:${from.port} answered error ${msg.code}: ${msg.message}`));
      return;
    }
    this.counters.responsesIn++;
    const id = msg.r.get('id');
    if (id instanceof Uint8Array && id.length === ID_BYTES) {
      const outcome = this.table.insert({ id: Buffer.from(id), host, port: from.port }, true);
      if (outcome.kind === 'full') void this.pingQuestionable(outcome.ping);
    }
    p.resolve(msg.r);
  }

  private onQuery(
    msg: Extract<KrpcMessage, { y: 'q' }>,
    requestBytes: number,
    host: string,
    port: number,
  ): void {
    this.counters.queriesIn++;
    this.queriesByType.set(msg.q, (this.queriesByType.get(msg.q) ?? 0) + 1);
    if (this.options.readOnly) return; // BEP 43: read-only nodes answer nothing
    if (!this.limiter.allow(host)) {
      this.counters.rateLimited++;
      return;
    }
    const ip = encodeCompactAddress(host, port);
    const reply = (body: Record<string, Encodable | undefined>) => {
      let r = body;
      let packet = encodeResponse(msg.t, { ...r, id: this.id }, ip, CLIENT_VERSION);
      // Never answer an address we have not verified with much more than it sent us.
      const verified = this.isVerified(msg.a.get('id'), host, port);
      const cap = verified ? MAX_KRPC_BYTES : Math.max(4 * requestBytes, 128);
      if (packet.length > cap && Array.isArray(r.values)) {
        let values = r.values as Encodable[];
        while (packet.length > cap && values.length > 0) {
          values = values.slice(0, Math.floor(values.length / 2));
          packet = encodeResponse(
            msg.t,
            { ...r, values: values.length > 0 ? values : undefined, id: this.id },
            ip,
            CLIENT_VERSION,
          );
        }
      }
      // Then give up the node lists, IPv6 first: the asker can learn those elsewhere.
      for (const drop of ['nodes6', 'nodes'] as const) {
        if (packet.length <= cap || r[drop] === undefined) continue;
        r = { ...r, [drop]: undefined };
        packet = encodeResponse(msg.t, { ...r, id: this.id }, ip, CLIENT_VERSION);
      }
      // A BEP 44 value (up to 1000 bytes) cannot be cut down and is what the asker came for:
      // it goes out without node lists even to an unverified address, or a fresh node (every
      // `shoal dht get`, any other client) could never fetch an item of more than ~250 bytes.
      if (packet.length > cap && r.v === undefined) return;
      this.send(packet, host, port);
    };
    const fail = (code: number, message: string) =>
      this.send(encodeError(msg.t, code, message, ip), host, port);
    try {
      const senderId = idField(msg.a, 'id');
      if (!msg.readOnly) {
        const outcome = this.table.insert({ id: senderId, host, port }, false);
        if (outcome.kind === 'full') void this.pingQuestionable(outcome.ping);
      }
      this.handleQuery(msg, senderId, host, port, reply, fail);
    } catch (error) {
      if (error instanceof KrpcError) fail(KrpcErrorCode.protocol, error.message);
      else fail(KrpcErrorCode.server, 'server error');
    }
  }

  private handleQuery(
    msg: Extract<KrpcMessage, { y: 'q' }>,
    senderId: Buffer,
    host: string,
    port: number,
    reply: (r: Record<string, Encodable | undefined>) => void,
    fail: (code: number, message: string) => void,
  ): void {
    const a = msg.a;
    const now = this.runtime.clock.now();
    const nodesFor = (target: Uint8Array, want?: BDict) => {
      const closest = this.table.closest(target, K);
      const wantList = want?.get('want');
      const wants = Array.isArray(wantList)
        ? wantList.map((w) => (w instanceof Uint8Array ? Buffer.from(w).toString() : ''))
        : [];
      const v4 = wants.length === 0 ? this.family === 4 : wants.includes('n4');
      const v6 = wants.length === 0 ? this.family === 6 : wants.includes('n6');
      return {
        ...(v4 && { nodes: encodeCompactNodes(closest, 4) }),
        ...(v6 && { nodes6: encodeCompactNodes(closest, 6) }),
      };
    };
    switch (msg.q) {
      case 'ping':
        reply({});
        return;
      case 'find_node':
        reply(nodesFor(idField(a, 'target'), a));
        return;
      case 'get_peers': {
        const infoHash = idField(a, 'info_hash');
        const found = this.peers.get(infoHash, MAX_VALUES_PER_REPLY, now);
        const family = ipFamily(host) === 6 ? 6 : 4;
        const values = found
          .filter((p) => ipFamily(p.host) === family)
          .map((p) => encodeCompactPeers([p], family));
        reply({
          token: this.tokens.issue(host),
          ...(values.length > 0 && { values }),
          ...nodesFor(infoHash, a),
        });
        return;
      }
      case 'announce_peer': {
        const infoHash = idField(a, 'info_hash');
        const token = bytesField(a, 'token');
        if (!token || !this.tokens.valid(token, host)) {
          fail(KrpcErrorCode.protocol, 'bad token');
          return;
        }
        if (this.options.enforceNodeId && !idMatchesIp(senderId, host)) {
          fail(KrpcErrorCode.protocol, 'node id does not match your address (BEP 42)');
          return;
        }
        const implied = intField(a, 'implied_port') === 1;
        const peerPort = implied ? port : intField(a, 'port');
        if (peerPort === undefined || peerPort <= 0 || peerPort > 65535) {
          fail(KrpcErrorCode.protocol, 'bad port');
          return;
        }
        const peer = { host, port: peerPort };
        this.peers.add(infoHash, peer, intField(a, 'seed') === 1, now);
        this.emit('announce', infoHash, peer);
        reply({});
        return;
      }
      case 'get': {
        const target = idField(a, 'target');
        const item = this.items.get(target, now);
        const seq = intField(a, 'seq');
        const r: Record<string, Encodable | undefined> = {
          token: this.tokens.issue(host),
          ...nodesFor(target, a),
        };
        if (item && !(seq !== undefined && item.seq !== undefined && item.seq <= seq)) {
          r.v = decode(item.v) as Encodable;
          if (item.k) {
            r.k = item.k;
            r.sig = item.sig;
            r.seq = item.seq;
          }
        } else if (item?.seq !== undefined) {
          r.seq = item.seq;
        }
        reply(r);
        return;
      }
      case 'put': {
        this.handlePut(a, host, now, reply, fail);
        return;
      }
      case 'sample_infohashes': {
        const target = idField(a, 'target');
        const { samples, total } = this.peers.sample(20);
        reply({
          interval: SAMPLE_INTERVAL_S,
          num: total,
          samples: Buffer.concat(samples),
          ...nodesFor(target, a),
        });
        return;
      }
      default:
        fail(KrpcErrorCode.methodUnknown, `method ${msg.q.slice(0, 32)} unknown`);
    }
  }

  private handlePut(
    a: BDict,
    host: string,
    now: number,
    reply: (r: Record<string, Encodable | undefined>) => void,
    fail: (code: number, message: string) => void,
  ): void {
    const token = bytesField(a, 'token');
    if (!token || !this.tokens.valid(token, host)) {
      fail(KrpcErrorCode.protocol, 'bad token');
      return;
    }
    const rawV = a.get('v');
    if (rawV === undefined) {
      fail(KrpcErrorCode.protocol, 'put without v');
      return;
    }
    const v = encode(rawV as Encodable);
    if (v.length > MAX_VALUE_BYTES) {
      fail(KrpcErrorCode.messageTooBig, 'message (v field) too big');
      return;
    }
    const k = bytesField(a, 'k');
    if (!k) {
      this.items.set(immutableTarget(v), { v }, now);
      reply({});
      return;
    }
    const salt = bytesField(a, 'salt');
    if (salt && salt.length > MAX_SALT_BYTES) {
      fail(KrpcErrorCode.saltTooBig, 'salt (salt field) too big');
      return;
    }
    const seq = intField(a, 'seq');
    const sig = bytesField(a, 'sig');
    const item: DhtItem = {
      v,
      k,
      ...(sig && { sig }),
      ...(seq !== undefined && { seq }),
      ...(salt && salt.length > 0 && { salt }),
    };
    if (!verifyMutable(item)) {
      fail(KrpcErrorCode.invalidSignature, 'invalid signature');
      return;
    }
    const target = mutableTarget(k, salt);
    const existing = this.items.get(target, now);
    const cas = intField(a, 'cas');
    if (existing?.seq !== undefined && cas !== undefined && cas !== existing.seq) {
      fail(KrpcErrorCode.casMismatch, 'the CAS hash mismatched, re-read value and try again');
      return;
    }
    if (existing?.seq !== undefined && seq! < existing.seq) {
      fail(KrpcErrorCode.seqTooLow, 'sequence number less than current');
      return;
    }
    this.items.set(target, item, now);
    reply({});
  }

  /** True when the sender is in our table at this very address and has answered us before. */
  private isVerified(id: unknown, host: string, port: number): boolean {
    if (!(id instanceof Uint8Array) || id.length !== ID_BYTES) return false;
    const n = this.table.get(id);
    return n?.responded === true && n.host === host && n.port === port;
  }

  private send(packet: Buffer, host: string, port: number): void {
    try {
      this.socket?.send(packet, port, host);
    } catch (error) {
      this.emit('warning', (error as Error).message);
    }
  }

  private async pingQuestionable(node: NodeContact): Promise<void> {
    await this.query(node, 'ping', {}).catch(() => undefined); // a failure marks it, and may replace it
  }

  /** BEP 42: learn our external address from what others see; adopt a matching id when sure. */
  private voteExternalIp(compact: Uint8Array): void {
    const host = compact.length === 6 ? Array.from(compact.subarray(0, 4)).join('.') : undefined;
    if (!host) return;
    const n = (this.votes.get(host) ?? 0) + 1;
    this.votes.set(host, n);
    if (this.votes.size > 64) this.votes.clear();
    if (n < 5 || this.externalIp === host) return;
    this.externalIp = host;
    if (!isExemptAddress(host) && !idMatchesIp(this.id, host) && this.options.id === undefined) {
      const nodes = this.table.all();
      this.table.id = nodeIdForIp(host, this.runtime.random);
      for (const node of nodes) this.table.remove(node.id);
      for (const node of nodes) this.table.insert(node, node.responded);
    }
  }

  private async maintain(): Promise<void> {
    const now = this.runtime.clock.now();
    this.peers.expire(now);
    const targets = this.table.staleBucketTargets(REFRESH_AFTER_MS, (n) =>
      this.runtime.random.bytes(n),
    );
    // Every stale bucket was marked refreshed, so every one is looked up (a few at a time).
    for (let i = 0; i < targets.length; i += this.options.alpha) {
      const batch = targets.slice(i, i + this.options.alpha);
      await Promise.all(
        batch.map((target) =>
          this.lookup(target, 'find_node', () => ({ target })).catch(() => undefined),
        ),
      );
    }
    if (this.table.size === 0 && this.options.bootstrap.length > 0)
      await this.bootstrap().catch(() => 0);
    await this.saveState();
  }

  private async saveState(): Promise<void> {
    if (!this.options.statePath) return;
    const nodes = this.table.all();
    const state = encode({
      id: this.id,
      nodes: encodeCompactNodes(nodes, 4),
      nodes6: encodeCompactNodes(nodes, 6),
    });
    await this.runtime.fs
      .writeFileAtomic(this.options.statePath, state)
      .catch((e: Error) => this.emit('warning', `cannot save DHT state: ${e.message}`));
  }
}

function itemFromReply(r: BDict, salt?: Buffer): DhtItem | undefined {
  const v = r.get('v');
  if (v === undefined) return undefined;
  const k = r.get('k');
  const sig = r.get('sig');
  const seq = r.get('seq');
  return {
    v: encode(v as Encodable),
    ...(k instanceof Uint8Array && { k: Buffer.from(k) }),
    ...(sig instanceof Uint8Array && { sig: Buffer.from(sig) }),
    ...(typeof seq === 'number' && { seq }),
    ...(salt && salt.length > 0 && { salt }),
  };
}

function validItem(target: Buffer, item: DhtItem): boolean {
  if (!item.k) return immutableTarget(item.v).equals(target);
  return mutableTarget(item.k, item.salt).equals(target) && verifyMutable(item);
}

async function loadState(
  runtime: Runtime,
  path: string,
): Promise<{ id: Buffer; nodes: NodeContact[] } | undefined> {
  try {
    const root = decode(await runtime.fs.readFile(path));
    if (!(root instanceof Map)) return undefined;
    const id = root.get('id');
    const nodes = root.get('nodes');
    if (!(id instanceof Uint8Array) || id.length !== ID_BYTES) return undefined;
    return {
      id: Buffer.from(id),
      nodes: nodes instanceof Uint8Array ? decodeCompactNodes(nodes, 4) : [],
    };
  } catch {
    return undefined;
  }
}
