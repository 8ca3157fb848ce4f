import type { Timers, UdpFactory, UdpRemote, UdpSocket } from '../../runtime/runtime.js';
import { NatReplyError, PortMappingError } from './errors.js';
import {
  decodeNatPmpReply,
  NAT_PMP_PORT,
  type NatPmpProtocol,
  type NatPmpReply,
  natPmpAddressRequest,
  natPmpMapRequest,
  natPmpResultText,
} from './natpmp.js';

/** What a {@link NatPmpClient} needs. */
export interface NatPmpClientDeps {
  readonly udp: UdpFactory;
  readonly timers: Timers;
  /** The default gateway, which NAT-PMP talks to. */
  readonly gateway: string;
  /** Address to send from (the node's listen address), when not any. */
  readonly bindHost?: string;
  /** Requests sent before giving up: the first waits 250 ms, each next one twice as long. */
  readonly tries?: number;
}

/** A mapping the gateway granted. */
export interface NatPmpMapping {
  readonly externalPort: number;
  readonly lifetimeSeconds: number;
}

interface Pending {
  readonly op: NatPmpReply['op'];
  readonly internalPort: number;
  readonly resolve: (reply: NatPmpReply) => void;
}

/**
 * A NAT-PMP client (RFC 6886) on a UDP socket of its own: one request at a time, resent after
 * 250 ms, 500 ms, … (RFC 6886 §3.1, fewer tries than its nine: a gateway that has not
 * answered in a few seconds does not speak NAT-PMP), answers accepted only from the gateway's
 * port 5351 and only for the request outstanding.
 */
export class NatPmpClient {
  private pending: Pending | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly socket: UdpSocket,
    private readonly deps: NatPmpClientDeps,
  ) {
    socket.onMessage((data, from) => this.receive(data, from));
    socket.onError(() => {});
  }

  /** Binds the client's socket. */
  static async open(deps: NatPmpClientDeps): Promise<NatPmpClient> {
    const socket = await deps.udp.bind({ port: 0, host: deps.bindHost ?? '0.0.0.0' });
    return new NatPmpClient(socket, deps);
  }

  get gateway(): string {
    return this.deps.gateway;
  }

  /** The gateway's external IPv4 address. @throws {PortMappingError} */
  async externalAddress(): Promise<string> {
    const reply = await this.request(natPmpAddressRequest(), 'address', 0);
    if (reply.op !== 'address') throw new PortMappingError('NAT-PMP: unexpected reply');
    return reply.externalAddress;
  }

  /**
   * Maps `internalPort` for `lifetimeSeconds`, asking for `externalPort`; the gateway may grant
   * another port and a shorter lifetime. @throws {PortMappingError}
   */
  async map(
    protocol: NatPmpProtocol,
    internalPort: number,
    externalPort: number,
    lifetimeSeconds: number,
  ): Promise<NatPmpMapping> {
    const request = natPmpMapRequest(protocol, internalPort, externalPort, lifetimeSeconds);
    const reply = await this.request(request, protocol, internalPort);
    if (reply.op === 'address') throw new PortMappingError('NAT-PMP: unexpected reply');
    return { externalPort: reply.externalPort, lifetimeSeconds: reply.lifetimeSeconds };
  }

  /** Deletes the mapping of `internalPort` (lifetime 0, external port 0: RFC 6886 §3.4). */
  async unmap(protocol: NatPmpProtocol, internalPort: number): Promise<void> {
    await this.request(natPmpMapRequest(protocol, internalPort, 0, 0), protocol, internalPort);
  }

  close(): Promise<void> {
    return this.socket.close();
  }

  private request(data: Buffer, op: NatPmpReply['op'], internalPort: number): Promise<NatPmpReply> {
    const run = () => this.exchange(data, op, internalPort);
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private exchange(
    data: Buffer,
    op: NatPmpReply['op'],
    internalPort: number,
  ): Promise<NatPmpReply> {
    const gateway = this.deps.gateway;
    const tries = this.deps.tries ?? 4;
    return new Promise<NatPmpReply>((resolve, reject) => {
      let attempt = 0;
      let timer = { cancel: () => {} };
      const settle = (error: Error | undefined, reply?: NatPmpReply) => {
        timer.cancel();
        this.pending = undefined;
        if (error) reject(error);
        else resolve(reply!);
      };
      const send = () => {
        if (attempt === tries) {
          settle(new PortMappingError(`NAT-PMP: no answer from ${gateway}:${NAT_PMP_PORT}`));
          return;
        }
        try {
          this.socket.send(data, NAT_PMP_PORT, gateway);
        } catch (error) {
          settle(error as Error);
          return;
        }
        timer = this.deps.timers.setTimeout(send, 250 * 2 ** attempt++);
      };
      this.pending = {
        op,
        internalPort,
        resolve: (reply) => {
          if (reply.result === 0) settle(undefined, reply);
          else
            settle(
              new PortMappingError(
                `NAT-PMP gateway ${gateway} refused: ${natPmpResultText(reply.result)}`,
                reply.result,
              ),
            );
        },
      };
      send();
    });
  }

  private receive(data: Buffer, from: UdpRemote): void {
    const pending = this.pending;
    if (!pending || from.port !== NAT_PMP_PORT || from.address !== this.deps.gateway) return;
    let reply: NatPmpReply;
    try {
      reply = decodeNatPmpReply(data);
    } catch (error) {
      if (error instanceof NatReplyError) return; // noise: keep waiting for a real answer
      throw error;
    }
    if (reply.op !== pending.op) return;
    if (reply.op !== 'address' && reply.result === 0 && reply.internalPort !== pending.internalPort)
      return;
    pending.resolve(reply);
  }
}
