import type { PeerEndpoint } from '../codec/compact.js';
import type { InboundProtocol, SniffVerdict } from '../net/inbound-demux.js';
import type { ByteStream } from '../runtime/runtime.js';
import { decodeEndpoint, encodeEndpoint, plainHost } from './endpoint.js';
import { PeerConnectError } from './errors.js';
import type { PunchDeps } from './tcp-punch.js';

/**
 * First bytes of a port probe on a node's listening port. It shares the secure channel's
 * prefix (`\0shoal/`) but not its last byte, so the two sniffers never both say yes.
 */
export const PORT_PROBE_MAGIC = Buffer.from('\0shoal/p', 'latin1');

/** Longest reply: a length byte and a compact IPv6 endpoint. */
const MAX_REPLY_BYTES = 19;

/** Largest gap between the ports of two probes made together still read as a sequence. */
const PREDICTION_SLACK = 2;

/**
 * The listening side of a port probe: whoever connects and sends {@link PORT_PROBE_MAGIC} is
 * told the address and port its connection came from (a length byte, then the compact
 * endpoint), and the connection is closed. It is TCP's "what is my address" (STUN's binding
 * request): a node behind a NAT that changes ports learns which port its NAT mapped last. The
 * reply goes only to the connection's own source, is smaller than the request's handshake, and
 * costs nothing to keep.
 */
export function portProbeInbound(): InboundProtocol {
  return {
    name: 'shoal-probe',
    sniff: (first) => sniffPortProbe(first),
    accept: (stream) => {
      const observed = encodeEndpoint({
        host: plainHost(stream.remoteAddress),
        port: stream.remotePort,
      });
      if (observed !== undefined)
        stream.write(Buffer.concat([Buffer.of(observed.length), observed]));
      stream.onData(() => {});
      stream.end();
    },
  };
}

function sniffPortProbe(first: Buffer): SniffVerdict {
  const n = Math.min(first.length, PORT_PROBE_MAGIC.length);
  if (!PORT_PROBE_MAGIC.subarray(0, n).equals(first.subarray(0, n))) return 'no';
  return first.length >= PORT_PROBE_MAGIC.length ? 'yes' : 'more';
}

/**
 * Connects to the node at `address` (a fresh connection, so a fresh NAT mapping) and asks
 * which endpoint it sees the connection come from. Rejects with `PEER_UNREACHABLE` when the
 * node does not answer in `timeoutMs` or answers nonsense.
 */
export async function probeExternalEndpoint(
  deps: PunchDeps,
  address: PeerEndpoint,
  timeoutMs: number,
): Promise<PeerEndpoint> {
  // Its own back-off scope: a probe neither waits for nor delays dials of the node for more.
  const permit = deps.connections.beginDial(address.host, address.port, {
    retry: true,
    scope: 'port-probe',
  });
  let stream: ByteStream;
  try {
    stream = await deps.transport.dial(address.host, address.port, {
      timeoutMs,
      ...(deps.localAddress !== undefined && { localAddress: deps.localAddress }),
    });
  } catch (error) {
    permit.failed();
    throw error;
  }
  const managed = permit.connected(stream, deps.transport.kind);
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const timer = deps.timers.setTimeout(
      () => done(new PeerConnectError('PEER_UNREACHABLE', 'the port probe got no answer')),
      timeoutMs,
    );
    const done = (result: PeerEndpoint | Error) => {
      timer.cancel();
      managed.onData(() => {});
      managed.onClose(() => {});
      managed.destroy();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    managed.onData((chunk) => {
      received = Buffer.concat([received, chunk]);
      const length = received[0];
      if (length === undefined || received.length < 1 + length) {
        if (received.length >= MAX_REPLY_BYTES) done(badReply());
        return;
      }
      const endpoint = decodeEndpoint(received.subarray(1, 1 + length));
      done(endpoint ?? badReply());
    });
    managed.onClose(() => done(badReply()));
    managed.write(PORT_PROBE_MAGIC);
  });
}

function badReply(): PeerConnectError {
  return new PeerConnectError('PEER_UNREACHABLE', 'the port probe got no usable answer');
}

/**
 * The external ports a NAT is likely to map our next connection to, from the ports it mapped
 * the last two (made one right after the other): a NAT that allocates ports in sequence (as
 * many symmetric NATs do) gave them a step apart, so the next comes a step after the later one;
 * `count` ports from there leave room for a connection or two of someone else behind the same
 * NAT. Undefined when the two are not close (random ports: nothing to predict) or the run
 * would leave the port range.
 */
export function predictPorts(
  observed: readonly [number, number],
  count: number,
): { readonly first: number; readonly count: number } | undefined {
  const [a, b] = observed;
  const step = Math.abs(b - a);
  if (step < 1 || step > PREDICTION_SLACK) return undefined;
  const first = Math.max(a, b) + 1;
  if (first + count - 1 > 65_535) return undefined;
  return { first, count };
}
