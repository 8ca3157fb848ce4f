import type { PeerEndpoint } from '../codec/compact.js';
import type { Identity, IdentityKey } from '../crypto/identity.js';
import type { ConnectionManager } from '../net/connection-manager.js';
import type { Transport } from '../net/transport.js';
import type { Runtime } from '../runtime/runtime.js';
import type { SecureStream } from '../secure/secure-stream.js';
import { securePunched } from './paths.js';
import { predictPorts, probeExternalEndpoint } from './port-probe.js';
import type { Reachability } from './reachability.js';
import { MAX_PUNCH_PORTS } from './rendezvous-messages.js';
import { choosePunchPort, type PunchDeps } from './tcp-punch.js';

/** One hole punch, from both dials to the end of the handshake. */
const PUNCH_TIMEOUT_MS = 5_000;
/** One port probe (a connection to a rendezvous and its one-line answer). */
const PROBE_TIMEOUT_MS = 2_000;
/** After probes showed ports that cannot be predicted, no probing for this long. */
const UNPREDICTABLE_MS = 10 * 60_000;
/** Punches answered for introductions at once: a rendezvous cannot make us dial without end. */
const MAX_ANSWERED_PUNCHES = 16;

/**
 * Our side of a punch: the port we dial from, and where the peer is told to punch to — our
 * own port when our NAT keeps it, else the run of external ports we predict it will map us to.
 */
export interface PunchOffer {
  readonly localPort: number;
  readonly punchPort: number;
  /** Consecutive ports from `punchPort` (more than one: a prediction). */
  readonly ports: number;
}

/** What punching needs from the node. */
export interface HolePunchDeps {
  readonly runtime: Pick<Runtime, 'clock' | 'timers' | 'random'>;
  readonly identity: Identity;
  readonly connections: ConnectionManager;
  /** The transport punches and probes dial with (TCP; it must honour `localPort`). */
  readonly transport: Transport;
  /** The node's listen address when it is not "any". */
  readonly localAddress?: string;
  readonly reachability: Reachability;
}

/**
 * TCP hole punching between two nodes a rendezvous introduced, whatever their NATs do with
 * ports. A NAT that keeps a connection's source port (a cone, in the classic terms) lets its
 * node offer that port; the two then dial each other at once (a simultaneous open). A NAT that
 * gives every destination a new port (symmetric) cannot be offered a port it has not mapped
 * yet, but one that maps in sequence can be predicted: its node makes two probe connections to
 * the rendezvous, learns the ports they were mapped to, and offers the next few; the peer (a
 * cone: its port is known) sends a SYN to each of them, and the node dials the peer's port,
 * which its NAT maps to one of them — the one-sided punch. Two symmetric NATs, or one that
 * maps at random, leave nothing to aim at: such pairs are relayed.
 *
 * Bounds: the peer's address is always the one the rendezvous observed (no third party can be
 * aimed at), an offer names at most {@link MAX_PUNCH_PORTS} ports, a punch sends at most
 * `MAX_PUNCH_SYNS` SYNs, and at most {@link MAX_ANSWERED_PUNCHES} answered punches run at once.
 */
export class HolePuncher {
  private answering = 0;
  /** Until when our NAT's ports are taken as unpredictable (random): relay without probing. */
  private unpredictableUntil = Number.NEGATIVE_INFINITY;

  constructor(private readonly deps: HolePunchDeps) {}

  /**
   * What we offer when asking for an introduction (undefined: we cannot punch). `probeAt` is
   * the rendezvous's address, asked for our ports when our NAT changes them.
   */
  async offer(probeAt: PeerEndpoint | undefined): Promise<PunchOffer | undefined> {
    const localPort = choosePunchPort(this.deps.runtime.random);
    const reach = this.deps.reachability;
    if (reach.canPunch) return { localPort, punchPort: localPort, ports: 1 };
    if (!this.mayPredict || probeAt === undefined) return undefined;
    const predicted = await this.predict(probeAt);
    return predicted && { localPort, punchPort: predicted.first, ports: predicted.count };
  }

  /**
   * Punches to `key` at `ports` consecutive ports from `candidate`, from our offer's port,
   * then runs the handshake. Undefined when the two offers cannot meet: both are predictions
   * (each side's SYNs to several ports would take several new ports of its own NAT).
   */
  punch(
    key: IdentityKey,
    offer: PunchOffer,
    candidate: PeerEndpoint,
    ports: number,
  ): Promise<SecureStream> | undefined {
    if (offer.ports > 1 && ports > 1) return undefined;
    const count = Math.max(1, Math.min(ports, MAX_PUNCH_PORTS, 65_536 - candidate.port));
    const candidates = Array.from({ length: count }, (_, i) => ({
      host: candidate.host,
      port: candidate.port + i,
    }));
    return securePunched(
      { identity: this.deps.identity, random: this.deps.runtime.random, ...this.punchDeps() },
      key,
      candidates,
      offer.localPort,
      PUNCH_TIMEOUT_MS,
    );
  }

  /**
   * Answers an introduction from `from`, whose punch candidate (if any) is `ports` ports from
   * `candidate`: `answer` is called with our offer (undefined: we will not punch), and the
   * punch runs. A prediction is made first when our NAT changes ports (probing `probeAt`),
   * and our dial goes out before the answer so that it takes the first predicted port.
   * Resolves with the punched stream, or undefined when there was none.
   */
  async answerIntroduction(
    from: IdentityKey,
    candidate: PeerEndpoint | undefined,
    ports: number,
    probeAt: PeerEndpoint | undefined,
    answer: (offer: PunchOffer | undefined) => void,
  ): Promise<SecureStream | undefined> {
    const reach = this.deps.reachability;
    const mayPunch =
      candidate !== undefined &&
      this.answering < MAX_ANSWERED_PUNCHES &&
      (reach.canPunch || (this.mayPredict && ports === 1 && probeAt !== undefined));
    if (!mayPunch || candidate === undefined) {
      answer(undefined);
      return undefined;
    }
    this.answering++;
    try {
      const localPort = choosePunchPort(this.deps.runtime.random);
      let offer: PunchOffer | undefined = { localPort, punchPort: localPort, ports: 1 };
      if (!reach.canPunch) {
        const predicted = probeAt === undefined ? undefined : await this.predict(probeAt);
        offer = predicted && { localPort, punchPort: predicted.first, ports: predicted.count };
      }
      const punching = offer && this.punch(from, offer, candidate, ports);
      answer(punching === undefined ? undefined : offer);
      return await punching;
    } finally {
      this.answering--;
    }
  }

  /** Whether our NAT changes ports and has not yet shown them to be unpredictable. */
  private get mayPredict(): boolean {
    return (
      this.deps.reachability.changesPorts &&
      this.deps.runtime.clock.now() >= this.unpredictableUntil
    );
  }

  /**
   * The ports our NAT will likely map our next connection to, from two probes at once. Ports
   * that show no sequence make us stop probing for a while (the NAT picks them at random).
   */
  private async predict(at: PeerEndpoint) {
    const probe = () => probeExternalEndpoint(this.punchDeps(), at, PROBE_TIMEOUT_MS);
    let observed: PeerEndpoint[];
    try {
      observed = await Promise.all([probe(), probe()]);
    } catch {
      return undefined;
    }
    const [a, b] = observed as [PeerEndpoint, PeerEndpoint];
    const predicted =
      a.host === b.host ? predictPorts([a.port, b.port], MAX_PUNCH_PORTS) : undefined;
    if (predicted === undefined)
      this.unpredictableUntil = this.deps.runtime.clock.now() + UNPREDICTABLE_MS;
    return predicted;
  }

  private punchDeps(): PunchDeps {
    const { clock, timers } = this.deps.runtime;
    return {
      connections: this.deps.connections,
      transport: this.deps.transport,
      clock,
      timers,
      ...(this.deps.localAddress !== undefined && { localAddress: this.deps.localAddress }),
    };
  }
}
