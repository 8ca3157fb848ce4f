import type { PeerEndpoint } from '../codec/compact.js';
import type { Identity, IdentityKey } from '../crypto/identity.js';
import type { SniffVerdict } from '../net/inbound-demux.js';
import type { RandomSource, Timers } from '../runtime/runtime.js';
import type { Channel } from '../secure/channel.js';
import { ChannelStream } from '../secure/channel-stream.js';
import { MuxError } from '../secure/mux-errors.js';
import { SECURE_CHANNEL_MAGIC } from '../secure/secure-handshake.js';
import { type SecureStream, secureAccept, secureConnect } from '../secure/secure-stream.js';
import { PeerConnectError } from './errors.js';
import type { PeerConnection } from './peer-connection.js';
import { RELAY_PROTOCOL } from './relay.js';
import { type PunchDeps, punchTcp } from './tcp-punch.js';

/** What a handshake needs: our identity, randomness for ephemeral keys, timers for deadlines. */
export interface HandshakeDeps {
  readonly identity: Identity;
  readonly random: RandomSource;
  readonly timers: Timers;
}

/**
 * A secure channel to `key` over a TCP hole punch to one of `candidates` from `localPort`.
 * Both ends dialled, so roles come from the keys: the lower one runs the handshake as
 * initiator (IK), the other answers; a punch that reaches another key is dropped.
 */
export async function securePunched(
  deps: HandshakeDeps & PunchDeps,
  key: IdentityKey,
  candidates: readonly PeerEndpoint[],
  localPort: number,
  timeoutMs: number,
): Promise<SecureStream> {
  const started = deps.clock.now();
  const stream = await punchTcp(deps, candidates, localPort, timeoutMs);
  const common = {
    identity: deps.identity,
    random: deps.random,
    timers: deps.timers,
    timeoutMs: Math.max(1, timeoutMs - (deps.clock.now() - started)),
  };
  const secure =
    Buffer.compare(deps.identity.publicKey.bytes, key.bytes) < 0
      ? await secureConnect(stream, { ...common, remote: key })
      : await secureAccept(stream, common);
  if (!secure.remoteIdentity.equals(key)) {
    secure.destroy();
    throw new PeerConnectError('PEER_UNREACHABLE', `the punch reached ${secure.remoteIdentity}`);
  }
  stream.info.encrypted = true;
  return secure;
}

/**
 * A secure channel to `key` inside a `shoal/relay` channel through `relay` (IK: its first
 * message travels with the channel's open). A relay's refusal is `RELAY_REFUSED`.
 */
export async function secureRelayed(
  deps: HandshakeDeps,
  relay: PeerConnection,
  key: IdentityKey,
  timeoutMs: number,
): Promise<SecureStream> {
  const stream = relayedStream(relay.mux.open(RELAY_PROTOCOL, { id: key.bytes }), relay);
  try {
    return await secureConnect(stream, { ...deps, remote: key, timeoutMs });
  } catch (error) {
    const cause = (error as Error).cause;
    if (cause instanceof MuxError && cause.code === 'MUX_REJECTED') {
      throw new PeerConnectError('RELAY_REFUSED', cause.message);
    }
    throw error;
  }
}

/** A relay channel as a byte stream; its ends are the relay's (nothing closer is known). */
export function relayedStream(channel: Channel, relay: PeerConnection): ChannelStream {
  const s = relay.stream;
  return new ChannelStream(channel, {
    remoteAddress: s.remoteAddress,
    remotePort: s.remotePort,
    localAddress: s.localAddress,
    localPort: s.localPort,
  });
}

/** The secure channel's magic, or the start of it (`more`), or not (`no`). */
export function sniffSecureChannel(first: Buffer): SniffVerdict {
  const n = Math.min(first.length, SECURE_CHANNEL_MAGIC.length);
  if (!SECURE_CHANNEL_MAGIC.subarray(0, n).equals(first.subarray(0, n))) return 'no';
  return first.length >= SECURE_CHANNEL_MAGIC.length ? 'yes' : 'more';
}
