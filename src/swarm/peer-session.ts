import { Bitfield } from '../codec/bitfield.js';
import type { ConnectionInfo } from '../net/connection.js';
import type { ByteStream, Clock } from '../runtime/runtime.js';
import { RateMeter } from '../shared/rate.js';
import type { ExtendedHandshake } from '../wire/extended.js';
import type { Handshake } from '../wire/handshake.js';
import type { BlockRef } from '../wire/messages.js';
import { PeerWire, type PeerWireHandler } from '../wire/peer-wire.js';

let nextSessionId = 1;

/**
 * Sessions that queued bytes in this turn of the event loop, written out together by one
 * microtask: a piece announced to a hundred peers costs one microtask, not a hundred (each
 * `queueMicrotask` also makes Node create an async resource).
 */
let toFlush: PeerSession[] = [];

function flushQueued(): void {
  const sessions = toFlush;
  toFlush = [];
  for (const s of sessions) {
    try {
      s.flushOutbox();
    } catch (error) {
      // As uncaught as in a microtask of its own, without keeping the others' bytes back.
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}

/** Messages shorter than this are joined with their small neighbours into one buffer per write. */
const JOIN_BELOW_BYTES = 256;

/**
 * `chunks` with each run of small ones (announcements, requests) copied into one buffer: a
 * stream then carries a few buffers per write, not one per message (a piece announced to a
 * hundred peers while requests go out was hundreds of tiny buffers), and blocks stay uncopied.
 */
export function joinSmallChunks(chunks: Uint8Array[]): Uint8Array[] {
  let small = 0;
  for (const c of chunks) if (c.length < JOIN_BELOW_BYTES) small++;
  if (small < 2) return chunks;
  const out: Uint8Array[] = [];
  for (let i = 0; i < chunks.length; ) {
    let end = i;
    let bytes = 0;
    while (end < chunks.length && chunks[end]!.length < JOIN_BELOW_BYTES) {
      bytes += chunks[end]!.length;
      end++;
    }
    if (end - i < 2) {
      out.push(chunks[i]!);
      i++;
      continue;
    }
    const joined = Buffer.allocUnsafe(bytes);
    for (let at = 0; i < end; i++) {
      joined.set(chunks[i]!, at);
      at += chunks[i]!.length;
    }
    out.push(joined);
  }
  return out;
}

/**
 * Everything the swarm knows about one connected peer: its wire, what it has, what we asked it
 * for and it asked us for, and how fast data flows each way.
 */
export class PeerSession {
  readonly id = nextSessionId++;
  readonly wire: PeerWire;
  readonly address: string;
  readonly download: RateMeter;
  readonly upload: RateMeter;
  bits: Bitfield | undefined;
  /**
   * We were a seed when we shook hands, so it has told us of every piece it got since: a
   * leecher keeps from a leecher the pieces both have (see `Torrent.markHave`), and only then is
   * its bitfield as we know it whole.
   */
  seedAtHandshake = false;
  handshake: Handshake | undefined;
  /**
   * It sent a message after its handshake. A peer that answers a dial with its handshake and
   * closes at once (a full peer) never does, and is backed off like a refused dial.
   */
  spoke = false;
  /** The connection ended from its side (a close or a reset), not by our choice. */
  closedByPeer = false;
  extended: ExtendedHandshake | undefined;
  fast = false;
  /** Our requests not yet answered: key → when sent. */
  readonly outstanding = new Map<number, number>();
  /** Its requests not yet served, oldest first. */
  readonly incoming: BlockRef[] = [];
  /** Pieces it lets us request while choked (BEP 6). */
  readonly allowedFast = new Set<number>();
  /**
   * How many requests we keep in flight to it: a few at first, one more per block it sends
   * (slow start, doubling every round trip), until its measured rate sizes the pipeline.
   */
  pipelineTarget = 4;
  /** {@link pipelineTarget} follows its measured rate now (no more slow start). */
  pipelineSized = false;
  lastReceivedAt: number;
  /** When it last said something other than a keep-alive (the idle clock). */
  lastMessageAt: number;
  /** When a block last went either way (what makes a peer worth its slot). */
  lastPayloadAt: number;
  readonly connectedAt: number;
  lastSentAt: number;
  lastPieceAt: number;
  snubbed = false;
  /** It has contributed to a piece that verified; until then its pipeline stays short. */
  trusted = false;
  /** Pieces it refused to send us (BEP 6 reject), by when: asked elsewhere for a while. */
  readonly rejected = new Map<number, number>();
  /** Pieces we, as a seed, agreed to send it (their remaining blocks are never refused). */
  readonly seedAccepted = new Set<number>();
  /** Its requests we refused in a row to point it at scarcer pieces (BEP 6 reject + suggest). */
  refusedInARow = 0;
  /** It kept asking for what we refused: the scarcity rule no longer applies to it. */
  ignoresSuggestions = false;
  /** Times in a row its next block waited for first copies others asked for. */
  yieldsInARow = 0;
  /** Pieces it suggested we fetch from it (BEP 6), tried before our own picks. */
  readonly suggested = new Set<number>();
  /**
   * It has suggested pieces (BEP 6): a seed steering first copies, which refuses what others
   * could give us, so we do not ask it to finish pieces we started elsewhere.
   */
  suggests = false;
  /** Pieces it contributed to that are waiting for their hash check. */
  awaitingCheck = 0;
  closed = false;
  /** True while its socket buffer is full (we wait for drain). */
  congested = false;
  /** When its socket last filled up (meaningful while `congested`). */
  congestedAt = 0;
  /** Requests it sent beyond the queue we allow (our `reqq`). */
  overQueue = 0;
  /** It misbehaved as a downloader (flooded requests, does not read): not unchoked before this. */
  penaltyUntil = 0;
  serving = false;
  /** When it last asked us for a block (or we unchoked it). */
  lastRequestAt = 0;
  /** Blocks we handed to its socket that have not been flushed yet: it is being served. */
  unflushedBlocks = 0;
  /** The piece of the last block we handed to its socket (−1: none yet). */
  sendingPiece = -1;
  /** Requests it sent while we choked it (a flood when it keeps going). */
  requestsWhileChoked = 0;
  /** Seeding: when its current turn in an upload slot began, and the bytes sent in it. */
  turnStartedAt = 0;
  turnBytes = 0;
  /** Seeding: when we last choked it, ending its turn (−∞: it never had one). */
  lastTurnEndedAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly stream: ByteStream,
    /** How the connection was made (transport, direction, encryption). */
    readonly connection: ConnectionInfo,
    clock: Clock,
    handler: PeerWireHandler,
    maxMessageBytes: number,
    /** Told the type of every message sent (for metrics). */
    onSent?: (type: string) => void,
  ) {
    this.address = `${stream.remoteAddress}:${stream.remotePort}`;
    this.download = new RateMeter(clock);
    this.upload = new RateMeter(clock);
    this.lastReceivedAt = clock.now();
    this.lastMessageAt = clock.now();
    this.lastPayloadAt = Number.NEGATIVE_INFINITY;
    this.connectedAt = clock.now();
    this.lastSentAt = clock.now();
    this.lastPieceAt = clock.now();
    this.wire = new PeerWire(
      (chunks, flushed) => {
        // Everything sent in one turn of the event loop leaves in one write.
        for (const c of chunks) this.outbox.push(c);
        if (flushed) this.outboxFlushed.push(flushed);
        if (this.outbox.length === chunks.length && toFlush.push(this) === 1)
          queueMicrotask(flushQueued);
        this.lastSentAt = clock.now();
      },
      handler,
      maxMessageBytes,
      onSent,
    );
  }

  /** Pieces to announce at the next tick (see {@link announceLater}). */
  private laterHaves: number[] | undefined;

  /**
   * Holds back the announcement of a piece we got: for a peer we choke that is interested in us
   * already, it only updates what it counts, so a second's worth goes out together, in one
   * write rather than one each.
   */
  announceLater(index: number): void {
    this.laterHaves ??= [];
    this.laterHaves.push(index);
  }

  /** Announces the pieces held back by {@link announceLater}. */
  announceHeld(): void {
    const held = this.laterHaves;
    if (held === undefined) return;
    this.laterHaves = undefined;
    if (this.closed) return;
    for (const index of held) this.wire.sendMessage({ type: 'have', index });
  }

  private outbox: Uint8Array[] = [];
  /** The `flushed` callbacks of what `outbox` holds. */
  private outboxFlushed: (() => void)[] = [];

  /**
   * Writes what this turn of the event loop queued, in one write (a shared microtask calls it; a
   * connection we refuse calls it at once, so a second connection to a peer still gets our
   * handshake and the peer learns it is a duplicate, not a peer closing on this transport).
   */
  flushOutbox(): void {
    const chunks = this.outbox;
    const callbacks = this.outboxFlushed;
    this.outbox = [];
    this.outboxFlushed = [];
    if (chunks.length === 0 || this.closed) return;
    const flushed =
      callbacks.length === 0
        ? undefined
        : () => {
            for (const f of callbacks) f();
          };
    if (!this.stream.writev(joinSmallChunks(chunks), flushed) && !this.congested) {
      this.congested = true;
      this.congestedAt = this.lastSentAt;
    }
  }

  /** True when we dialled it. */
  get outgoing(): boolean {
    return this.connection.direction === 'outbound';
  }

  /** The host part of the remote address (bans are per host). */
  get host(): string {
    return this.stream.remoteAddress;
  }

  /** How many requests it accepts at once (its `reqq`, or a common default). */
  get requestLimit(): number {
    return this.extended?.reqq ?? 250;
  }

  /** Bits of a peer that has not said anything yet: nothing. */
  ensureBits(pieceCount: number): Bitfield {
    this.bits ??= new Bitfield(pieceCount);
    return this.bits;
  }
}
