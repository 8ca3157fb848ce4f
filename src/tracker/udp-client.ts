import { ipFamily, ipv4Number } from '../codec/compact.js';
import { ShoalError } from '../errors.js';
import type { DatagramChannel } from '../net/datagram-mux.js';
import type { Runtime, UdpSocket } from '../runtime/runtime.js';
import type { AnnounceRequest, AnnounceResponse, ScrapeCounts } from './http-messages.js';
import { TrackerFailure } from './http-messages.js';
import {
  decodeUdpResponse,
  encodeUdpRequest,
  type UdpRequest,
  type UdpResponse,
} from './udp-messages.js';

/** A UDP tracker did not answer in time. */
export class TrackerTimeoutError extends ShoalError {
  constructor(target: string) {
    super('TRACKER_TIMEOUT', `UDP tracker ${target} did not answer`);
  }
}

/** Timing of UDP tracker requests (BEP 15 says 15 s, doubling). */
export interface UdpClientOptions {
  readonly firstTimeoutMs: number;
  /** Retransmissions before giving up (BEP 15 allows up to 8). */
  readonly retries: number;
}

interface Pending {
  resolve: (r: UdpResponse) => void;
  reject: (e: Error) => void;
}

const CONNECTION_ID_TTL_MS = 60_000;

/**
 * A BEP 15 client on one UDP socket shared by every torrent: transaction ids route replies,
 * connection ids are cached per tracker for a minute, and requests are retransmitted after
 * 15 · 2ⁿ seconds (configurable) before the tracker is given up on.
 */
export class UdpTrackerClient {
  private readonly pending = new Map<number, Pending>();
  private readonly connections = new Map<string, { id: bigint; expiresAt: number }>();

  private constructor(
    private readonly runtime: Runtime,
    private readonly channel: DatagramChannel,
    private readonly options: UdpClientOptions,
    /** The socket the client bound itself (closed with it); none on a shared socket. */
    private readonly ownSocket?: UdpSocket,
  ) {
    channel.onMessage((data) => {
      if (data.length < 8) return;
      const p = this.pending.get(data.readUInt32BE(4));
      if (!p) return;
      try {
        p.resolve(decodeUdpResponse(data));
      } catch (error) {
        p.reject(error as Error);
      }
    });
  }

  /** A client on a channel of the node's shared UDP socket. */
  static over(
    runtime: Runtime,
    channel: DatagramChannel,
    options: Partial<UdpClientOptions> = {},
  ): UdpTrackerClient {
    return new UdpTrackerClient(runtime, channel, timing(options));
  }

  /** A client on a socket of its own. */
  static async open(
    runtime: Runtime,
    options: Partial<UdpClientOptions> & { host?: string } = {},
  ): Promise<UdpTrackerClient> {
    // Announce from the listen address, so the tracker records the address peers can reach.
    const host = options.host === '0.0.0.0' || options.host === '::' ? undefined : options.host;
    const socket = await runtime.udp.bind({ port: 0, ...(host !== undefined && { host }) });
    socket.onError(() => {});
    return new UdpTrackerClient(runtime, socket, timing(options), socket);
  }

  async close(): Promise<void> {
    for (const p of this.pending.values()) p.reject(new TrackerTimeoutError('(client closed)'));
    this.pending.clear();
    await this.ownSocket?.close();
  }

  /** Announces to `udp://host:port`. */
  async announce(
    host: string,
    port: number,
    r: AnnounceRequest,
    key: number,
  ): Promise<AnnounceResponse> {
    const reply = await this.withConnection(host, port, (connectionId, transactionId) => ({
      action: 'announce',
      connectionId,
      transactionId,
      infoHash: r.infoHash,
      peerId: r.peerId,
      downloaded: r.downloaded,
      left: r.left,
      uploaded: r.uploaded,
      event: r.event,
      ip: r.ip !== undefined && ipFamily(r.ip) === 4 ? ipv4Number(r.ip) : 0,
      key,
      numWant: r.numWant,
      port: r.port,
    }));
    if (reply.action !== 'announce') throw new TrackerFailure(`unexpected ${reply.action} reply`);
    return {
      interval: Math.max(1, reply.interval),
      complete: reply.seeders,
      incomplete: reply.leechers,
      peers: reply.peers,
    };
  }

  /** Scrapes `infoHashes` from `udp://host:port`. */
  async scrape(
    host: string,
    port: number,
    infoHashes: readonly Uint8Array[],
  ): Promise<ScrapeCounts[]> {
    const reply = await this.withConnection(host, port, (connectionId, transactionId) => ({
      action: 'scrape',
      connectionId,
      transactionId,
      infoHashes,
    }));
    if (reply.action !== 'scrape') throw new TrackerFailure(`unexpected ${reply.action} reply`);
    return reply.files.map((f) => ({
      complete: f.seeders,
      downloaded: f.completed,
      incomplete: f.leechers,
    }));
  }

  private async withConnection(
    host: string,
    port: number,
    build: (connectionId: bigint, transactionId: number) => UdpRequest,
  ): Promise<UdpResponse> {
    const key = `${host}:${port}`;
    for (let attempt = 0; attempt < 2; attempt++) {
      const id = await this.connectionId(host, port);
      const reply = await this.exchange(host, port, (tid) => build(id, tid));
      if (reply.action === 'error') {
        // An expired id is the usual cause: reconnect once, then report the tracker's words.
        this.connections.delete(key);
        if (attempt === 0 && /connection/i.test(reply.message)) continue;
        throw new TrackerFailure(reply.message);
      }
      return reply;
    }
    throw new TrackerFailure('connection id refused twice');
  }

  private async connectionId(host: string, port: number): Promise<bigint> {
    const key = `${host}:${port}`;
    const cached = this.connections.get(key);
    if (cached && cached.expiresAt > this.runtime.clock.now()) return cached.id;
    const reply = await this.exchange(host, port, (transactionId) => ({
      action: 'connect',
      transactionId,
    }));
    if (reply.action === 'error') throw new TrackerFailure(reply.message);
    if (reply.action !== 'connect')
      throw new TrackerFailure(`unexpected ${reply.action} reply to connect`);
    this.connections.set(key, {
      id: reply.connectionId,
      expiresAt: this.runtime.clock.now() + CONNECTION_ID_TTL_MS,
    });
    return reply.connectionId;
  }

  /** Sends a request and waits for the reply with the same transaction id, retransmitting. */
  private exchange(
    host: string,
    port: number,
    build: (transactionId: number) => UdpRequest,
  ): Promise<UdpResponse> {
    const transactionId = this.runtime.random.bytes(4).readUInt32BE(0);
    const packet = encodeUdpRequest(build(transactionId));
    return new Promise((resolve, reject) => {
      let attempt = 0;
      let timer = { cancel: () => {} };
      const done = () => {
        timer.cancel();
        this.pending.delete(transactionId);
      };
      const sendOnce = () => {
        try {
          this.channel.send(packet, port, host);
        } catch (error) {
          done();
          reject(error as Error);
          return;
        }
        timer = this.runtime.timers.setTimeout(
          () => {
            if (attempt++ >= this.options.retries) {
              done();
              reject(new TrackerTimeoutError(`${host}:${port}`));
            } else sendOnce();
          },
          this.options.firstTimeoutMs * 2 ** attempt,
        );
      };
      this.pending.set(transactionId, {
        resolve: (r) => {
          done();
          resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      sendOnce();
    });
  }
}

function timing(options: Partial<UdpClientOptions>): UdpClientOptions {
  return { firstTimeoutMs: options.firstTimeoutMs ?? 15_000, retries: options.retries ?? 2 };
}
