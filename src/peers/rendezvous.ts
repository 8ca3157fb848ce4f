import type { PeerEndpoint } from '../codec/compact.js';
import type { Timers } from '../runtime/runtime.js';
import type { Channel } from '../secure/channel.js';
import { INITIAL_WINDOW } from '../secure/channel.js';
import type { ChannelRequest } from '../secure/mux.js';
import { plainHost } from './endpoint.js';
import { PeerConnectError } from './errors.js';
import type { PeerConnection } from './peer-connection.js';
import {
  decodeRendezvous,
  encodeRendezvous,
  RENDEZVOUS_PROTOCOL,
  type RendezvousMessage,
} from './rendezvous-messages.js';

/** How long a rendezvous waits for a target's answer, and a client for the whole exchange. */
export const INTRODUCTION_TIMEOUT_MS = 10_000;

/** Limits of a rendezvous node, with defaults in {@link DEFAULT_RENDEZVOUS_LIMITS}. */
export interface RendezvousLimits {
  /** Peers that may register at once. */
  readonly maxRegistered: number;
  /** Introductions waiting for an answer, in all and per requester. */
  readonly maxPending: number;
  readonly maxPendingPerPeer: number;
}

/** Enough for a small community's NATed nodes; an introduction costs a few hundred bytes. */
export const DEFAULT_RENDEZVOUS_LIMITS: RendezvousLimits = {
  maxRegistered: 512,
  maxPending: 256,
  maxPendingPerPeer: 8,
};

type Message<K extends RendezvousMessage['kind']> = Extract<RendezvousMessage, { kind: K }>;

function send(channel: Channel, message: RendezvousMessage): void {
  if (channel.state === 'closed') return;
  const { type, payload } = encodeRendezvous(message);
  channel.send(type, payload);
}

/** The address a peer's connection comes from, unless it is relayed (then nobody knows). */
function observedHost(peer: PeerConnection): string | undefined {
  return peer.kind === 'relayed' ? undefined : plainHost(peer.remoteAddress);
}

interface Pending {
  readonly requester: Channel;
  readonly requesterKey: string;
  readonly target: string;
  readonly timer: { cancel(): void };
}

/**
 * The rendezvous side of `shoal/rendezvous` (every node runs it; whether it offers to serve
 * is its `serving()` answer): it tells each client the address it sees it at, keeps the
 * channels of registered peers, and passes introductions and their answers between a
 * requester and a registered target, with only the addresses it observed itself.
 */
export class RendezvousServer {
  private readonly registered = new Map<string, Channel>();
  private readonly pending = new Map<string, Pending>();
  /** Introductions passed on, and refused (not registered, busy). */
  readonly counters = { introduced: 0, refused: 0 };

  constructor(
    private readonly timers: Timers,
    private readonly serving: () => boolean,
    private readonly limits: RendezvousLimits = DEFAULT_RENDEZVOUS_LIMITS,
  ) {}

  /** Peers registered now. */
  get registeredCount(): number {
    return this.registered.size;
  }

  /** Answers a peer's `shoal/rendezvous` channel. */
  handle(request: ChannelRequest, peer: PeerConnection): void {
    const channel = request.accept({ window: INITIAL_WINDOW });
    const host = observedHost(peer);
    send(channel, {
      kind: 'welcome',
      ...(host !== undefined && { observed: { host, port: peer.remotePort } }),
      serving: this.serving() && host !== undefined,
    });
    const id = peer.key.bytes.toString('hex');
    channel.onMessage((type, payload) => {
      let message: RendezvousMessage;
      try {
        message = decodeRendezvous(type, payload);
      } catch {
        channel.close();
        return;
      }
      if (message.kind === 'register') this.register(id, channel);
      else if (message.kind === 'connect') this.introduce(channel, peer, message);
      else if (message.kind === 'answer') this.answer(id, peer, message);
      else channel.close();
    });
    channel.onClose(() => {
      if (this.registered.get(id) === channel) this.registered.delete(id);
    });
  }

  private register(id: string, channel: Channel): void {
    if (!this.serving()) return;
    if (!this.registered.has(id) && this.registered.size >= this.limits.maxRegistered) return;
    this.registered.set(id, channel);
  }

  private introduce(requester: Channel, peer: PeerConnection, message: Message<'connect'>): void {
    const requesterKey = peer.key.bytes.toString('hex');
    const target = message.target.toString('hex');
    const nonce = message.nonce.toString('hex');
    const targetChannel = this.registered.get(target);
    const problem =
      targetChannel === undefined
        ? 'that key is not registered here'
        : target === requesterKey
          ? 'that is your own key'
          : this.isBusy(nonce, requesterKey)
            ? 'busy'
            : undefined;
    if (problem !== undefined || targetChannel === undefined) {
      this.fail(requester, message.nonce, problem ?? 'not registered');
      return;
    }
    const host = observedHost(peer);
    const at = (port: number | undefined): PeerEndpoint | undefined =>
      host === undefined || port === undefined ? undefined : { host, port };
    const candidate = at(message.punchPort);
    const direct = at(message.listenPort);
    send(targetChannel, {
      kind: 'introduce',
      nonce: message.nonce,
      from: peer.key.bytes,
      ...(candidate !== undefined && { candidate }),
      ...(candidate !== undefined && message.ports !== undefined && { ports: message.ports }),
      ...(direct !== undefined && { direct }),
    });
    this.counters.introduced++;
    const timer = this.timers.setTimeout(() => {
      if (this.pending.get(nonce)?.requester !== requester) return;
      this.pending.delete(nonce);
      this.fail(requester, message.nonce, 'the target did not answer');
    }, INTRODUCTION_TIMEOUT_MS);
    this.pending.set(nonce, { requester, requesterKey, target, timer });
  }

  private isBusy(nonce: string, requesterKey: string): boolean {
    let mine = 0;
    for (const p of this.pending.values()) if (p.requesterKey === requesterKey) mine++;
    return (
      this.pending.has(nonce) ||
      this.pending.size >= this.limits.maxPending ||
      mine >= this.limits.maxPendingPerPeer
    );
  }

  private fail(requester: Channel, nonce: Buffer, reason: string): void {
    this.counters.refused++;
    send(requester, { kind: 'failed', nonce, reason });
  }

  private answer(id: string, peer: PeerConnection, message: Message<'answer'>): void {
    const nonce = message.nonce.toString('hex');
    const pending = this.pending.get(nonce);
    if (pending === undefined || pending.target !== id) return;
    this.pending.delete(nonce);
    pending.timer.cancel();
    const host = observedHost(peer);
    const port = message.punchPort;
    const offered = host !== undefined && port !== undefined;
    send(pending.requester, {
      kind: 'candidate',
      nonce: message.nonce,
      ...(offered && { candidate: { host, port } }),
      ...(offered && message.ports !== undefined && { ports: message.ports }),
    });
  }
}

/**
 * What a rendezvous said when asked for an introduction: where to punch to, if anywhere, and
 * how many consecutive ports from there (more than one: the target's NAT changes ports, these
 * are the ones it predicts).
 */
export interface Introduced {
  readonly candidate: PeerEndpoint | undefined;
  readonly ports: number;
}

interface Waiting {
  readonly resolve: (result: Introduced) => void;
  readonly reject: (error: Error) => void;
  readonly timer: { cancel(): void };
}

/**
 * Our side of a `shoal/rendezvous` channel to one peer: learns the address it sees us at,
 * registers us (introductions then arrive here), asks it for introductions and answers its
 * introductions.
 */
export class RendezvousClient {
  /** The peer's `welcome`; rejects if the channel closes first or it takes over 10 s. */
  readonly welcome: Promise<Message<'welcome'>>;
  private readonly channel: Channel;
  private readonly waiting = new Map<string, Waiting>();
  private registeredHere = false;
  /** The round-trip time measured when registering (orders a record's rendezvous). */
  rttMs = Number.POSITIVE_INFINITY;

  constructor(
    readonly peer: PeerConnection,
    private readonly timers: Timers,
    onIntroduce: (message: Message<'introduce'>, client: RendezvousClient) => void,
  ) {
    this.channel = peer.mux.open(RENDEZVOUS_PROTOCOL, { window: INITIAL_WINDOW });
    let welcomed: (message: Message<'welcome'>) => void = () => {};
    let refused: (error: Error) => void = () => {};
    this.welcome = new Promise((resolve, reject) => {
      welcomed = resolve;
      refused = reject;
    });
    this.welcome.catch(() => undefined);
    // A peer that never welcomes us is no rendezvous: give up on it (and its channel).
    const silent = timers.setTimeout(() => {
      refused(new PeerConnectError('PEER_UNREACHABLE', `${peer.key} sent no rendezvous welcome`));
      this.channel.close();
    }, INTRODUCTION_TIMEOUT_MS);
    this.channel.onMessage((type, payload) => {
      let message: RendezvousMessage;
      try {
        message = decodeRendezvous(type, payload);
      } catch {
        this.channel.close();
        return;
      }
      switch (message.kind) {
        case 'welcome':
          silent.cancel();
          welcomed(message);
          break;
        case 'introduce':
          if (this.registeredHere) onIntroduce(message, this);
          break;
        case 'candidate':
        case 'failed':
          this.settle(message);
          break;
        default:
          this.channel.close();
      }
    });
    this.channel.onClose((error) => {
      silent.cancel();
      const closed = new PeerConnectError(
        'PEER_UNREACHABLE',
        `the rendezvous channel to ${peer.key} closed${error ? `: ${error.message}` : ''}`,
      );
      refused(closed);
      for (const [nonce, w] of this.waiting) {
        this.waiting.delete(nonce);
        w.timer.cancel();
        w.reject(closed);
      }
    });
  }

  /** Whether the channel is still open. */
  get isOpen(): boolean {
    return this.channel.state !== 'closed';
  }

  /** Whether we registered with this rendezvous. */
  get registered(): boolean {
    return this.registeredHere && this.isOpen;
  }

  /** Asks the peer to keep us reachable through it; `rttMs` is how far it is. */
  register(rttMs = Number.POSITIVE_INFINITY): void {
    this.registeredHere = true;
    this.rttMs = rttMs;
    send(this.channel, { kind: 'register' });
  }

  /** Asks for an introduction to `target`; resolves with the target's punch candidate. */
  introduce(request: Omit<Message<'connect'>, 'kind'>): Promise<Introduced> {
    return new Promise((resolve, reject) => {
      const nonce = request.nonce.toString('hex');
      const timer = this.timers.setTimeout(() => {
        this.waiting.delete(nonce);
        reject(new PeerConnectError('PEER_UNREACHABLE', 'the rendezvous did not answer in time'));
      }, INTRODUCTION_TIMEOUT_MS);
      this.waiting.set(nonce, { resolve, reject, timer });
      send(this.channel, { kind: 'connect', ...request });
    });
  }

  /** Answers an introduction: our punch port (and the run of ports from it), or none. */
  answer(
    nonce: Buffer,
    offer: { readonly punchPort: number; readonly ports: number } | undefined,
  ): void {
    send(this.channel, {
      kind: 'answer',
      nonce,
      ...(offer !== undefined && { punchPort: offer.punchPort }),
      ...(offer !== undefined && offer.ports > 1 && { ports: offer.ports }),
    });
  }

  close(): void {
    this.channel.close();
  }

  private settle(message: Message<'candidate'> | Message<'failed'>): void {
    const nonce = message.nonce.toString('hex');
    const w = this.waiting.get(nonce);
    if (w === undefined) return;
    this.waiting.delete(nonce);
    w.timer.cancel();
    if (message.kind === 'candidate')
      w.resolve({ candidate: message.candidate, ports: message.ports ?? 1 });
    else
      w.reject(
        new PeerConnectError('PEER_UNREACHABLE', `the rendezvous refused: ${message.reason}`),
      );
  }
}
