import { sha1, sha256 } from '../crypto/hash.js';
import type { PeerAddress } from '../metainfo/magnet.js';
import type { PeerConnection } from '../net/connection.js';
import type { DialRequest } from '../net/dialer.js';
import { ConnectionRefusedError } from '../net/errors.js';
import type { ByteStream, Clock, TimerHandle, Timers } from '../runtime/runtime.js';
import { decodeExtendedHandshake, encodeExtendedHandshake } from '../wire/extended.js';
import { hasCapability, reservedBytes } from '../wire/handshake.js';
import type { Message } from '../wire/messages.js';
import { PeerWire } from '../wire/peer-wire.js';
import {
  decodeMetadataMessage,
  encodeMetadataMessage,
  MAX_METADATA_BYTES,
  METADATA_PIECE_BYTES,
} from '../wire/ut-metadata.js';

/** Opens a connection to a peer: the node's dialer (limits, bans, back-off, encryption). */
export type DialPeer = (request: DialRequest) => Promise<PeerConnection>;

/** The torrent whose info dictionary is wanted, and who we are. */
export interface MetadataTarget {
  /** The info-hash said in the handshake (v1, or v2 truncated to 20 bytes). */
  readonly handshakeHash: Buffer;
  readonly infoHashV1?: Buffer;
  readonly infoHashV2?: Buffer;
  readonly peerId: Buffer;
}

/** Deadlines of one peer's exchange. */
export interface ExchangeDeadlines {
  /** For the connection to open (encryption negotiated included). */
  readonly connectTimeoutMs: number;
  /** From the connection to the peer's extended handshake. */
  readonly handshakeTimeoutMs: number;
  /** For each metadata piece after the previous one. */
  readonly pieceTimeoutMs: number;
}

/**
 * What to do with a peer whose exchange failed: `drop` it for good (it lied, misbehaved or
 * is banned), `retry` it later (it timed out, closed, had no metadata yet), or ask it `later`
 * without counting an attempt (our own connection limits refused the dial).
 */
export type PeerVerdict = 'drop' | 'retry' | 'later';

/** How one peer's exchange ended. */
export type ExchangeOutcome =
  | { readonly kind: 'done'; readonly info: Buffer }
  | { readonly kind: 'failed'; readonly reason: string; readonly verdict: PeerVerdict };

const OUR_UT_METADATA_ID = 1;
/** Bytes a peer may send besides twice the metadata (handshakes, a bitfield, haves). */
const SLACK_BYTES = 1024 * 1024;

/**
 * Asks one peer for a torrent's info dictionary (BEP 9): dials it, says the handshake and the
 * extended handshake, requests every 16 KiB piece and accepts the result only if it hashes to
 * the info-hash(es). Every step has a deadline and the peer a byte budget (twice the metadata
 * plus 1 MiB), so a silent, slow, lying or flooding peer ends the exchange with a verdict on
 * it rather than holding it open.
 */
export class MetadataExchange {
  /** When the peer last moved the exchange forward (connected, handshook, sent a piece). */
  lastProgressAt: number;
  private stream: ByteStream | undefined;
  private timer: TimerHandle | undefined;
  private settled = false;
  private received = 0;
  private budget = SLACK_BYTES;
  private size = 0;
  private pieces: (Buffer | undefined)[] = [];

  constructor(
    private readonly deps: { readonly clock: Clock; readonly timers: Timers; dial: DialPeer },
    readonly peer: PeerAddress,
    private readonly target: MetadataTarget,
    private readonly deadlines: ExchangeDeadlines,
    private readonly onEnd: (outcome: ExchangeOutcome) => void,
  ) {
    this.lastProgressAt = deps.clock.now();
  }

  start(): void {
    const { host, port } = this.peer;
    const ms = this.deadlines.connectTimeoutMs;
    this.arm(ms, `no connection (or encryption handshake) within ${ms / 1000} s`, 'retry');
    this.deps.dial({ host, port, timeoutMs: ms, infoHash: this.target.handshakeHash }).then(
      (conn) => {
        if (this.settled) conn.stream.destroy();
        else this.connected(conn.stream);
      },
      (error: Error) => this.fail(error.message, verdictOnDialError(error)),
    );
  }

  /** Ends the exchange without an outcome (another peer was faster, or the fetch stopped). */
  cancel(): void {
    if (this.settled) return;
    this.settled = true;
    this.timer?.cancel();
    this.stream?.destroy();
  }

  private connected(stream: ByteStream): void {
    this.stream = stream;
    this.progress();
    const ms = this.deadlines.handshakeTimeoutMs;
    this.arm(ms, `no handshake within ${ms / 1000} s`, 'retry');
    const wire: PeerWire = new PeerWire(
      (chunks) => {
        for (const c of chunks) stream.write(c);
      },
      {
        handshake: (h) => {
          if (this.settled) return;
          if (!Buffer.from(h.infoHash).equals(this.target.handshakeHash))
            return this.fail('answered for another torrent', 'drop');
          if (!hasCapability(h.reserved, 'extensionProtocol'))
            return this.fail('does not speak the extension protocol', 'drop');
          this.progress();
          const payload = encodeExtendedHandshake({
            m: new Map([['ut_metadata', OUR_UT_METADATA_ID]]),
          });
          wire.sendMessage({ type: 'extended', id: 0, payload });
        },
        message: (m) => {
          if (this.settled || m.type !== 'extended') return;
          const problem = this.extended(wire, m);
          if (problem) this.fail(problem.reason, problem.verdict);
        },
      },
      MAX_METADATA_BYTES / 8,
    );
    stream.onData((chunk) => {
      if (this.settled) return;
      this.received += chunk.length;
      if (this.received > this.budget)
        return this.fail(`sent ${this.received} bytes, more than the metadata needs`, 'drop');
      try {
        wire.receive(chunk);
      } catch (error) {
        this.fail((error as Error).message, 'drop');
      }
    });
    stream.onClose(() => this.fail('closed the connection', 'retry'));
    wire.sendHandshake({
      reserved: reservedBytes(['extensionProtocol', 'fast']),
      infoHash: this.target.handshakeHash,
      peerId: this.target.peerId,
    });
  }

  private extended(wire: PeerWire, m: Extract<Message, { type: 'extended' }>): Failure | undefined {
    if (m.id === 0) {
      if (this.pieces.length > 0) return undefined; // a second extended handshake changes nothing
      const ext = decodeExtendedHandshake(m.payload);
      const theirs = ext.m.get('ut_metadata');
      if (!theirs || !ext.metadataSize) return failure('has no metadata to give', 'retry');
      if (ext.metadataSize > MAX_METADATA_BYTES)
        return failure(`offers ${ext.metadataSize} bytes of metadata (over 16 MiB)`, 'drop');
      this.size = ext.metadataSize;
      this.budget = SLACK_BYTES + 2 * this.size;
      this.pieces = new Array(Math.ceil(this.size / METADATA_PIECE_BYTES)).fill(undefined);
      for (let piece = 0; piece < this.pieces.length; piece++) {
        const payload = encodeMetadataMessage({ type: 'request', piece });
        wire.sendMessage({ type: 'extended', id: theirs, payload });
      }
      this.progress();
      this.armPieceDeadline();
      return undefined;
    }
    if (m.id !== OUR_UT_METADATA_ID || this.pieces.length === 0) return undefined;
    const msg = decodeMetadataMessage(m.payload);
    if (msg.type === 'reject') return failure(`refused metadata piece ${msg.piece}`, 'retry');
    if (msg.type !== 'data' || msg.piece >= this.pieces.length) return undefined;
    if (msg.totalSize !== this.size) return failure('changed the metadata size', 'drop');
    const expected = Math.min(METADATA_PIECE_BYTES, this.size - msg.piece * METADATA_PIECE_BYTES);
    if (msg.data.length !== expected) return failure('sent a piece of the wrong size', 'drop');
    if (this.pieces[msg.piece]) return undefined;
    this.pieces[msg.piece] = Buffer.from(msg.data);
    this.progress();
    if (this.pieces.some((p) => p === undefined)) {
      this.armPieceDeadline();
      return undefined;
    }
    const info = Buffer.concat(this.pieces as Buffer[]);
    if (!this.matches(info))
      return failure('sent metadata that does not match the info-hash', 'drop');
    this.settle({ kind: 'done', info });
    return undefined;
  }

  private matches(info: Buffer): boolean {
    const { infoHashV1, infoHashV2 } = this.target;
    if (infoHashV1 && !sha1(info).equals(infoHashV1)) return false;
    if (infoHashV2 && !sha256(info).equals(infoHashV2)) return false;
    return true;
  }

  private progress(): void {
    this.lastProgressAt = this.deps.clock.now();
  }

  private armPieceDeadline(): void {
    const ms = this.deadlines.pieceTimeoutMs;
    this.arm(ms, `sent no metadata piece for ${ms / 1000} s`, 'retry');
  }

  private arm(ms: number, reason: string, verdict: PeerVerdict): void {
    this.timer?.cancel();
    this.timer = this.deps.timers.setTimeout(() => this.fail(reason, verdict), ms);
  }

  private fail(reason: string, verdict: PeerVerdict): void {
    this.settle({ kind: 'failed', reason, verdict });
  }

  private settle(outcome: ExchangeOutcome): void {
    if (this.settled) return;
    this.cancel();
    this.onEnd(outcome);
  }
}

interface Failure {
  readonly reason: string;
  readonly verdict: PeerVerdict;
}

function failure(reason: string, verdict: PeerVerdict): Failure {
  return { reason, verdict };
}

/** Banned (or the node stopping): never again; a local limit: later, as if not tried. */
function verdictOnDialError(error: Error): PeerVerdict {
  if (!(error instanceof ConnectionRefusedError)) return 'retry';
  return error.reason === 'banned' || error.reason === 'stopped' ? 'drop' : 'later';
}
