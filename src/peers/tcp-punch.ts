import type { PeerEndpoint } from '../codec/compact.js';
import type { ManagedStream } from '../net/connection.js';
import type { ConnectionManager } from '../net/connection-manager.js';
import type { Transport } from '../net/transport.js';
import type { Clock, RandomSource, Timers } from '../runtime/runtime.js';

/** Ports a punch dials from: above the registered range, below most kernels' ephemeral one. */
const PUNCH_PORT_MIN = 20_000;
const PUNCH_PORT_SPAN = 12_000;

/** Pause before dialling again after a fast failure (a NAT that answers with a reset). */
const RETRY_MS = 200;

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
 * TCP simultaneous open: both peers dial each other at about the same time, each from the
 * source port it told the other (through a rendezvous node). Each outgoing SYN opens its own
 * NAT for the other's, so whichever SYN arrives second passes, and both connects complete as
 * one connection (RFC 793's simultaneous open). It works through NATs that keep a connection's
 * source port (endpoint-independent mapping with port preservation, as Linux's MASQUERADE and
 * most home routers do) and drop unsolicited SYNs; a NAT that answers them with a reset makes
 * the dial fail fast, so it is retried until `timeoutMs`. The connection manager's limits
 * apply: one dial permit covers every try.
 */
export async function punchTcp(
  deps: PunchDeps,
  remote: PeerEndpoint,
  localPort: number,
  timeoutMs: number,
): Promise<ManagedStream> {
  const permit = deps.connections.beginDial(remote.host, remote.port);
  const deadline = deps.clock.now() + timeoutMs;
  for (;;) {
    const left = deadline - deps.clock.now();
    try {
      const stream = await deps.transport.dial(remote.host, remote.port, {
        timeoutMs: left,
        localPort,
        ...(deps.localAddress !== undefined && { localAddress: deps.localAddress }),
      });
      return permit.connected(stream, deps.transport.kind);
    } catch (error) {
      if (deadline - deps.clock.now() <= RETRY_MS) {
        permit.failed();
        throw error;
      }
      await new Promise<void>((resolve) => deps.timers.setTimeout(resolve, RETRY_MS));
    }
  }
}
