import { IdentityKey } from '../crypto/identity.js';
import type { Clock, Timers } from '../runtime/runtime.js';
import type { Channel } from '../secure/channel.js';
import { STREAM_DATA } from '../secure/channel-stream.js';
import type { ChannelRequest } from '../secure/mux.js';
import { TokenBucket } from '../shared/rate.js';
import type { PeerConnection } from './peer-connection.js';
import type { PeerTable } from './peer-table.js';

/** Client → relay: "carry a connection to the key in this channel's id". */
export const RELAY_PROTOCOL = 'shoal/relay';

/** Relay → target: "here is a connection from the key in this channel's id". */
export const RELAYED_PROTOCOL = 'shoal/relayed';

/** What a node relays for others, with defaults in {@link DEFAULT_RELAY_LIMITS}. */
export interface RelayLimits {
  /** Circuits carried at once; 0 relays nothing. */
  readonly maxCircuits: number;
  /** Circuits one peer may have through us at once (as either end). */
  readonly maxCircuitsPerPeer: number;
  /** Bytes per second each circuit may carry, each way. */
  readonly circuitBytesPerSecond: number;
  /** Bytes per second all circuits together may carry. */
  readonly totalBytesPerSecond: number;
}

/**
 * A relay is a fallback for the few pairs no punch connects, meant for control traffic more
 * than bulk: 64 circuits (16 per peer) of up to 256 KiB/s each, 2 MiB/s in all.
 */
export const DEFAULT_RELAY_LIMITS: RelayLimits = {
  maxCircuits: 64,
  maxCircuitsPerPeer: 16,
  circuitBytesPerSecond: 256 * 1024,
  totalBytesPerSecond: 2 * 1024 * 1024,
};

/**
 * The relay's side of a relayed connection: a client opens `shoal/relay` naming the target's
 * key, and if the target is connected to us (and the limits allow) we open `shoal/relayed` to
 * it naming the client, and copy messages between the two channels as they come — the bytes
 * of a secure channel the two ends run between themselves, which we cannot read or alter
 * without breaking it. Flow control is end to end: a channel whose other side is out of credit
 * is paused, and so is one whose circuit or the relay as a whole is over its byte rate.
 */
export class RelayServer {
  private readonly total: TokenBucket;
  private readonly perPeer = new Map<string, number>();
  private circuits = 0;
  /** Circuits made and refused, bytes carried (both ways). */
  readonly counters = { circuits: 0, refused: 0, bytes: 0 };

  constructor(
    private readonly table: PeerTable,
    private readonly clock: Clock,
    private readonly timers: Timers,
    private readonly limits: RelayLimits = DEFAULT_RELAY_LIMITS,
  ) {
    this.total = new TokenBucket(clock, limits.totalBytesPerSecond);
  }

  /** Circuits open now. */
  get circuitCount(): number {
    return this.circuits;
  }

  /** Answers a peer's `shoal/relay` channel. */
  handle(request: ChannelRequest, client: PeerConnection): void {
    const route = this.route(request, client);
    if (typeof route === 'string') {
      this.counters.refused++;
      request.reject(route);
      return;
    }
    const { target, outbound } = route;
    const a = client.key.toString();
    const b = target.key.toString();
    const inbound = request.accept();
    this.open(a, b);
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      this.close(a, b);
      inbound.close();
      outbound.close();
    };
    inbound.onClose(close);
    outbound.onClose(close);
    this.pipe(inbound, outbound, close);
    this.pipe(outbound, inbound, close);
  }

  /** The target and the channel opened to it, or why the circuit is refused. */
  private route(
    request: ChannelRequest,
    client: PeerConnection,
  ): { target: PeerConnection; outbound: Channel } | string {
    let targetKey: IdentityKey;
    try {
      targetKey = IdentityKey.fromBytes(request.id);
    } catch {
      return 'the channel id is not a key';
    }
    const target = this.table.get(targetKey);
    if (target === undefined || target.isClosed) return 'not connected to that key';
    if (target === client) return 'that is your own key';
    if (client.kind === 'relayed' || target.kind === 'relayed')
      return 'no relaying over a relayed connection';
    if (this.circuits >= this.limits.maxCircuits) return 'relay full';
    const busy = (key: IdentityKey) =>
      (this.perPeer.get(key.toString()) ?? 0) >= this.limits.maxCircuitsPerPeer;
    if (busy(client.key) || busy(target.key)) return 'too many circuits for that peer';
    try {
      return { target, outbound: target.mux.open(RELAYED_PROTOCOL, { id: client.key.bytes }) };
    } catch {
      return 'the target connection is closing';
    }
  }

  /** Copies `from`'s messages to `to`, pausing `from` for credit and for the byte rates. */
  private pipe(from: Channel, to: Channel, close: () => void): void {
    const circuit = new TokenBucket(this.clock, this.limits.circuitBytesPerSecond);
    let waitingForCredit = false;
    let waitingForRate = false;
    const update = () => {
      if (waitingForCredit || waitingForRate) from.pause();
      else from.resume();
    };
    to.onDrain(() => {
      waitingForCredit = false;
      update();
    });
    from.onMessage((type, payload) => {
      if (type !== STREAM_DATA || to.state === 'closed') return close();
      this.counters.bytes += payload.length;
      if (!to.send(type, payload)) waitingForCredit = true;
      const delay = Math.max(charge(circuit, payload.length), charge(this.total, payload.length));
      if (delay > 0 && !waitingForRate) {
        waitingForRate = true;
        this.timers.setTimeout(() => {
          waitingForRate = false;
          update();
        }, delay);
      }
      update();
    });
  }

  private open(a: string, b: string): void {
    this.circuits++;
    this.counters.circuits++;
    for (const k of [a, b]) this.perPeer.set(k, (this.perPeer.get(k) ?? 0) + 1);
  }

  private close(a: string, b: string): void {
    this.circuits--;
    for (const k of [a, b]) {
      const n = (this.perPeer.get(k) ?? 1) - 1;
      if (n > 0) this.perPeer.set(k, n);
      else this.perPeer.delete(k);
    }
  }
}

/**
 * Takes `bytes` from `bucket`, or says how many milliseconds to pause until it holds them (the
 * message has gone already; the pause is its cost, so the rate holds within a message's worth).
 */
function charge(bucket: TokenBucket, bytes: number): number {
  return bucket.tryTake(bytes) ? 0 : bucket.delayFor(bytes);
}
