import type { ByteStream, RandomSource, Timers } from '../../runtime/runtime.js';
import { MseHandshakeError } from './errors.js';
import { MseInitiator } from './initiator.js';
import { MseStream } from './mse-stream.js';
import type { MseAllow, MseCipher, MseStep } from './protocol.js';
import { MseResponder } from './responder.js';

/** How long a handshake may take unless the owner says otherwise. */
export const MSE_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Options of {@link mseConnect}. */
export interface MseConnectOptions {
  /** The torrent we dial for (SKEY), 20 bytes: a v1 info-hash or a truncated v2 one. */
  readonly infoHash: Uint8Array;
  /**
   * What we offer in crypto_provide. The responder picks one; an initiator cannot state a
   * preference within MSE, so `both` leaves the choice to the peer (libtorrent, for one, picks
   * plaintext then unless its `prefer_rc4` is set).
   */
  readonly allow: MseAllow;
  readonly random: RandomSource;
  readonly timers: Timers;
  /**
   * Sent RC4-encrypted with the third handshake message (IA, at most 65535 bytes): typically
   * our BitTorrent handshake, which saves a round trip. Must not depend on the cipher chosen.
   */
  readonly initialPayload?: Uint8Array;
  /** Deadline for the whole handshake (default {@link MSE_HANDSHAKE_TIMEOUT_MS}). */
  readonly timeoutMs?: number;
}

/** A stream whose MSE handshake is done. */
export interface MseConnection {
  /**
   * The payload stream: transparently RC4-encrypted, or the plain connection. The bytes that
   * followed the handshake are its first delivery.
   */
  readonly stream: ByteStream;
  /** True when RC4 was selected. */
  readonly encrypted: boolean;
}

/**
 * Runs the initiator's side of an MSE handshake on a freshly connected stream and resolves
 * with the payload stream. Rejects with {@link MseHandshakeError} (the stream destroyed) when
 * the peer sends garbage, refuses, closes (`reason: 'closed'`, often a plaintext-only peer) or
 * the deadline passes.
 */
export function mseConnect(stream: ByteStream, options: MseConnectOptions): Promise<MseConnection> {
  const initiator = new MseInitiator({
    infoHash: options.infoHash,
    allow: options.allow,
    random: options.random,
    ...(options.initialPayload !== undefined && { initialPayload: options.initialPayload }),
  });
  return drive(
    stream,
    options,
    (chunk) => initiator.receive(chunk),
    [initiator.start()],
    undefined,
    (detail) => initiator.closedReason(detail),
    (o) => {
      const payload = new MseStream(stream, o.ciphers, o.leftover);
      return { stream: payload, encrypted: payload.encrypted };
    },
  );
}

/** Options of {@link mseAccept}. */
export interface MseAcceptOptions {
  /**
   * The info-hash whose HASH('req2', info-hash) is `skeyHash`, among every torrent served;
   * `SkeyTable.lookup` is one.
   */
  readonly lookupSkey: (skeyHash: Uint8Array) => Uint8Array | undefined;
  /** The ciphers we accept. */
  readonly allow: MseAllow;
  /** Which to select when the peer offers both and both are allowed (default rc4). */
  readonly prefer?: MseCipher;
  readonly random: RandomSource;
  readonly timers: Timers;
  /** Deadline for the whole handshake (default {@link MSE_HANDSHAKE_TIMEOUT_MS}). */
  readonly timeoutMs?: number;
}

/** An accepted stream whose MSE handshake is done. */
export interface MseAccepted extends MseConnection {
  /** The torrent the peer asked for (its SKEY). */
  readonly infoHash: Buffer;
  /**
   * The peer's initial payload (IA), decrypted: typically its BitTorrent handshake. The
   * stream delivers these same bytes first, followed by whatever came after them, so the
   * stream reads exactly like a plaintext connection from its first byte.
   */
  readonly initialPayload: Buffer;
}

/**
 * Runs the responder's side of an MSE handshake on an accepted stream whose first bytes
 * (`firstChunk`, any length, possibly empty) an inbound demultiplexer has already read, and
 * resolves with the payload stream. Rejects with {@link MseHandshakeError} (the stream
 * destroyed) on garbage, an unknown torrent, no common cipher, a close or the deadline.
 */
export function mseAccept(
  stream: ByteStream,
  firstChunk: Uint8Array,
  options: MseAcceptOptions,
): Promise<MseAccepted> {
  const responder = new MseResponder({
    lookupSkey: options.lookupSkey,
    allow: options.allow,
    random: options.random,
    ...(options.prefer !== undefined && { prefer: options.prefer }),
  });
  return drive(
    stream,
    options,
    (chunk) => responder.receive(chunk),
    [],
    firstChunk,
    (detail) => new MseHandshakeError('closed', `the peer closed the connection${detail}`),
    (o) => {
      const leftover =
        o.initialPayload.length === 0 ? o.leftover : Buffer.concat([o.initialPayload, o.leftover]);
      const payload = new MseStream(stream, o.ciphers, leftover);
      return {
        stream: payload,
        encrypted: payload.encrypted,
        infoHash: o.infoHash,
        initialPayload: o.initialPayload,
      };
    },
  );
}

/**
 * Feeds `stream`'s bytes to a handshake machine until it completes, sending what it says to;
 * `closed` names the failure when the peer closes first (`detail` says how), `finish` wraps the outcome before
 * any later byte can arrive. One deadline covers it all.
 */
function drive<Outcome, Result>(
  stream: ByteStream,
  options: { readonly timers: Timers; readonly timeoutMs?: number },
  receive: (chunk: Uint8Array) => MseStep<Outcome>,
  opening: readonly Buffer[],
  firstChunk: Uint8Array | undefined,
  closed: (detail: string) => MseHandshakeError,
  finish: (outcome: Outcome) => Result,
): Promise<Result> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const timeoutMs = options.timeoutMs ?? MSE_HANDSHAKE_TIMEOUT_MS;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      timer.cancel();
      stream.destroy();
      reject(error);
    };
    const timer = options.timers.setTimeout(
      () => fail(new MseHandshakeError('timeout', `not complete within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const feed = (chunk: Uint8Array): void => {
      if (settled) return;
      let step: MseStep<Outcome>;
      try {
        step = receive(chunk);
      } catch (error) {
        fail(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      if (step.send.length > 0) stream.writev(step.send);
      if (step.outcome === undefined) return;
      settled = true;
      timer.cancel();
      resolve(finish(step.outcome));
    };
    stream.onClose((error) => fail(closed(error ? ` (${error.message})` : '')));
    stream.onData(feed);
    if (opening.length > 0) stream.writev(opening);
    if (firstChunk !== undefined) feed(firstChunk);
  });
}
