import type { PeerEndpoint } from '../codec/compact.js';
import type { ManagedStream } from '../net/connection.js';
import type { ConnectionManager } from '../net/connection-manager.js';
import type { Transport } from '../net/transport.js';
import type { Clock, RandomSource, Timers } from '../runtime/runtime.js';
import { PeerConnectError } from './errors.js';

/** Ports a punch dials from: above the registered range, below most kernels' ephemeral one. */
const PUNCH_PORT_MIN = 20_000;
const PUNCH_PORT_SPAN = 12_000;

/** Pause before dialling again after a fast failure (a NAT that answers with a reset). */
const RETRY_MS = 200;

function punchFailed(message: string): PeerConnectError {
  return new PeerConnectError('PEER_UNREACHABLE', `punch: ${message}`);
}

/** A fresh source port for one punch. */
export function choosePunchPort(random: RandomSource): number {
  return PUNCH_PORT_MIN + random.int(PUNCH_PORT_SPAN);
}

/** What a punch needs. */
export interface PunchDeps {
  readonly connections: ConnectionManager;
  /** A transport that can dial from a given source port (TCP). */
  readonly transport: Transport;
  readonly clock: Clock;
  readonly timers: Timers;
  /** The node's listen address, when it is not "any". */
  readonly localAddress?: string;
}

/**
 * SYNs one punch may send in all, retries included: a punch toward a predicted run of ports
 * sends one to each and retries a few, and no introduction can make it more.
 */
export const MAX_PUNCH_SYNS = 16;

/**
 * TCP simultaneous open: both peers dial each other at about the same time, each from the
 * source port it told the other (through a rendezvous node). Each outgoing SYN opens its own
 * NAT for the other's, so whichever SYN arrives second passes, and both connects complete as
 * one connection (RFC 793's simultaneous open). It works through NATs that keep a connection's
 * source port (endpoint-independent mapping with port preservation, as Linux's MASQUERADE and
 * most home routers do) and drop unsolicited SYNs; a NAT that answers them with a reset makes
 * the dial fail fast, so it is retried until `timeoutMs`.
 *
 * `remotes` are the peer's candidates: one endpoint, or (when its NAT changes ports) the few
 * ports it predicts it will be mapped to, all dialled at once from the same `localPort`; the
 * first to connect wins and the others are dropped. The connection manager's limits apply (a
 * dial permit per candidate), and all the tries together send at most {@link MAX_PUNCH_SYNS}.
 */
export function punchTcp(
  deps: PunchDeps,
  remotes: readonly PeerEndpoint[],
  localPort: number,
  timeoutMs: number,
): Promise<ManagedStream> {
  const shared: Shared = {
    deadline: deps.clock.now() + timeoutMs,
    synsLeft: MAX_PUNCH_SYNS,
    won: false,
  };
  return new Promise((resolve, reject) => {
    let running = remotes.length;
    if (running === 0) reject(punchFailed('no candidate to punch to'));
    for (const remote of remotes) {
      punchOne(deps, remote, localPort, shared).then(
        (stream) => {
          if (shared.won) {
            stream.destroy();
            return;
          }
          shared.won = true;
          resolve(stream);
        },
        (error: unknown) => {
          if (--running === 0 && !shared.won) reject(error);
        },
      );
    }
  });
}

/** What the dials of one punch share. */
interface Shared {
  readonly deadline: number;
  synsLeft: number;
  /** One dial connected: the others stop. */
  won: boolean;
}

/** Dials `remote` from `localPort` until it connects, another candidate wins, or time is up. */
async function punchOne(
  deps: PunchDeps,
  remote: PeerEndpoint,
  localPort: number,
  shared: Shared,
): Promise<ManagedStream> {
  const permit = deps.connections.beginDial(remote.host, remote.port);
  for (;;) {
    const left = shared.deadline - deps.clock.now();
    if (shared.won || shared.synsLeft <= 0 || left <= 0) {
      permit.failed();
      throw punchFailed(shared.won ? 'another candidate connected' : 'no tries left');
    }
    shared.synsLeft--;
    try {
      const stream = await deps.transport.dial(remote.host, remote.port, {
        timeoutMs: left,
        localPort,
        ...(deps.localAddress !== undefined && { localAddress: deps.localAddress }),
      });
      return permit.connected(stream, deps.transport.kind);
    } catch (error) {
      if (shared.deadline - deps.clock.now() <= RETRY_MS || shared.won) {
        permit.failed();
        throw error;
      }
      await new Promise<void>((resolve) => deps.timers.setTimeout(resolve, RETRY_MS));
    }
  }
}
