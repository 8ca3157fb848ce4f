/**
 * One leecher of the `crowd` benchmark's load generator: a TCP connection that speaks the
 * BitTorrent wire protocol (BEP 3 with the BEP 6 fast extension) as a real downloader does —
 * handshake, have-none, interested, a pipeline of block requests while unchoked, `have` for
 * every piece completed — but neither hashes nor stores what it receives: it counts the bytes.
 * It respects choking: no request while choked; requests the seeder rejects (on choke, or to
 * point it at scarcer pieces, BEP 6 suggest) go back to be asked again later.
 */
import type { Socket } from 'node:net';
import { encodeHandshake, HANDSHAKE_BYTES, reservedBytes } from '../src/wire/handshake.js';
import { encodeMessage, MessageId } from '../src/wire/messages.js';

const BLOCK = 16 * 1024;
/** A piece refused before any of it came is left alone this long (the seeder wants others). */
const REFUSED_MS = 10_000;
/** Longest message accepted other than a piece: a bitfield of 8 Mi pieces. */
const MAX_MESSAGE = (1 << 20) + 16;

/** What every leecher knows of the torrent. */
export interface CrowdTorrent {
  readonly infoHash: Buffer;
  readonly pieceLength: number;
  readonly totalLength: number;
}

/** A piece being fetched: the block offsets still to ask for, and blocks asked or received. */
interface Fetch {
  readonly index: number;
  readonly size: number;
  readonly toAsk: number[];
  outstanding: number;
  received: number;
}

/**
 * One connection's downloader. Created around a connected socket; `start()` sends the
 * handshake, `interested()` starts the downloading. Counters are public for the report.
 */
export class CrowdLeecher {
  /** Payload bytes received (piece blocks), since `interested()` was called. */
  bytes = 0;
  /** Times the seeder unchoked us, and whether it does now. */
  unchokes = 0;
  choked = true;
  /** The seeder's handshake came, and its bitfield / have-all. */
  handshaken = false;
  seederHasAll = false;
  /** When the first block came (performance.now()), undefined before. */
  firstByteAt: number | undefined;
  /** Why the connection ended, when it did. */
  closedWhy: string | undefined;
  /** Every piece was received: no longer interested. */
  complete = false;
  /** Requests the seeder refused (BEP 6 reject) and pieces it suggested (BEP 6 suggest). */
  rejects = 0;
  suggests = 0;

  private readonly pieceCount: number;
  private readonly have: Uint8Array;
  private haveCount = 0;
  private readonly fetching = new Map<number, Fetch>();
  private readonly suggested: number[] = [];
  private readonly refusedUntil = new Map<number, number>();
  private requestsOut = 0;
  private fast = false;
  private wantPieces = false;
  /** Parser state: handshake bytes still expected, then message header / payload to skip. */
  private readonly handshakeBytes = Buffer.alloc(HANDSHAKE_BYTES);
  private handshakeHave = 0;
  private readonly header = Buffer.alloc(13);
  private headerHave = 0;
  /** Bytes of the current message's body not read yet (a piece block is counted, not kept). */
  private skip = 0;
  private body: Buffer | undefined;
  private bodyHave = 0;

  constructor(
    private readonly socket: Socket,
    private readonly torrent: CrowdTorrent,
    private readonly peerId: Buffer,
    private readonly pipeline: number,
    private readonly random: () => number,
  ) {
    this.pieceCount = Math.ceil(torrent.totalLength / torrent.pieceLength);
    this.have = new Uint8Array(this.pieceCount);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      try {
        this.receive(chunk);
      } catch (error) {
        this.close(error instanceof Error ? error.message : String(error));
      }
    });
    socket.on('close', () => this.close('closed by the seeder'));
    socket.on('error', (error) => this.close(error.message));
  }

  /** Sends the handshake (fast extension on) and, as soon as it can, have-none. */
  start(): void {
    this.socket.write(
      encodeHandshake({
        reserved: reservedBytes(['fast']),
        infoHash: this.torrent.infoHash,
        peerId: this.peerId,
      }),
    );
  }

  /** Declares interest and starts counting bytes. */
  interested(): void {
    this.bytes = 0;
    this.unchokes = 0;
    this.rejects = 0;
    this.suggests = 0;
    this.firstByteAt = undefined;
    this.wantPieces = true;
    this.send(encodeMessage({ type: 'interested' }));
    this.fill();
  }

  /** Sends a keep-alive (the caller ticks it). */
  keepAlive(): void {
    this.send(Buffer.alloc(4));
  }

  /** Ends the connection. */
  destroy(): void {
    this.closedWhy ??= 'closed by the generator';
    this.socket.destroy();
  }

  private close(why: string): void {
    this.closedWhy ??= why;
    this.socket.destroy();
  }

  private send(data: Buffer): void {
    if (this.closedWhy === undefined) this.socket.write(data);
  }

  /** Parses `chunk`: handshake, then length-prefixed messages, skipping piece payloads. */
  private receive(chunk: Buffer): void {
    let pos = 0;
    if (this.handshakeHave < HANDSHAKE_BYTES) {
      const n = Math.min(HANDSHAKE_BYTES - this.handshakeHave, chunk.length);
      chunk.copy(this.handshakeBytes, this.handshakeHave, 0, n);
      this.handshakeHave += n;
      pos = n;
      if (this.handshakeHave < HANDSHAKE_BYTES) return;
      if (!this.handshakeBytes.subarray(28, 48).equals(this.torrent.infoHash))
        throw new Error('the seeder answered for another torrent');
      // Reserved byte 7 (offset 27 of the handshake) carries the fast extension bit.
      this.fast = (this.handshakeBytes[27]! & 0x04) !== 0;
      this.handshaken = true;
      this.send(encodeMessage({ type: this.fast ? 'have-none' : 'bitfield', bits: this.bits() }));
    }
    while (pos < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - pos);
        this.skip -= n;
        this.bytes += n;
        pos += n;
      } else if (this.body !== undefined) {
        const n = Math.min(this.body.length - this.bodyHave, chunk.length - pos);
        chunk.copy(this.body, this.bodyHave, pos, pos + n);
        this.bodyHave += n;
        pos += n;
        if (this.bodyHave === this.body.length) {
          const body = this.body;
          this.body = undefined;
          this.message(body[0]!, body.subarray(1));
        }
      } else {
        // A header: length (4), id (1), and for a piece its index and begin (8 more).
        const want = this.headerHave < 4 ? 4 : this.headerHave < 5 ? 5 : 13;
        const n = Math.min(want - this.headerHave, chunk.length - pos);
        chunk.copy(this.header, this.headerHave, pos, pos + n);
        this.headerHave += n;
        pos += n;
        if (this.headerHave < want) break;
        const length = this.header.readUInt32BE(0);
        if (want === 4) {
          if (length === 0) this.headerHave = 0; // keep-alive
        } else if (want === 5 && this.header[4] === MessageId.piece) {
          if (length < 9 || length - 9 > 128 * 1024) throw new Error(`bad piece length ${length}`);
        } else this.headerDone(length);
      }
    }
    this.fill();
  }

  /** A message header is complete: start skipping a piece's payload or reading a body. */
  private headerDone(length: number): void {
    const id = this.header[4]!;
    this.headerHave = 0;
    if (id === MessageId.piece) {
      this.onBlock(this.header.readUInt32BE(5), length - 9);
      this.skip = length - 9;
      return;
    }
    if (length > MAX_MESSAGE) throw new Error(`message of ${length} bytes`);
    if (length === 1) {
      this.message(id, Buffer.alloc(0));
      return;
    }
    this.body = Buffer.allocUnsafe(length);
    this.body[0] = id;
    this.bodyHave = 1;
  }

  private message(id: number, body: Buffer): void {
    switch (id) {
      case MessageId.choke:
        this.choked = true;
        // Without the fast extension a choke drops every request; with it, rejects follow.
        if (!this.fast) this.dropAllRequests();
        return;
      case MessageId.unchoke:
        this.choked = false;
        this.unchokes++;
        return;
      case MessageId.bitfield:
        this.seederHasAll = body.length * 8 >= this.pieceCount && allSet(body, this.pieceCount);
        return;
      case MessageId.haveAll:
        this.seederHasAll = true;
        return;
      case MessageId.suggest:
        this.suggests++;
        if (body.length === 4 && this.suggested.length < 64)
          this.suggested.push(body.readUInt32BE(0));
        return;
      case MessageId.reject:
        this.rejects++;
        if (body.length === 12) this.onReject(body.readUInt32BE(0), body.readUInt32BE(4));
        return;
      default:
        return; // have, allowed-fast, extended, port…: nothing a counting leecher needs
    }
  }

  /** A block arrives (its payload is being skipped): account for it and maybe finish a piece. */
  private onBlock(index: number, length: number): void {
    this.firstByteAt ??= performance.now();
    const f = this.fetching.get(index);
    if (f === undefined) return; // unasked (or already abandoned): counted, nothing else
    f.outstanding--;
    this.requestsOut--;
    f.received += length;
    if (f.received >= f.size) {
      this.fetching.delete(index);
      this.have[index] = 1;
      this.haveCount++;
      this.send(encodeMessage({ type: 'have', index }));
      if (this.haveCount === this.pieceCount) {
        this.complete = true;
        this.wantPieces = false;
        this.send(encodeMessage({ type: 'not-interested' }));
      }
    }
  }

  private onReject(index: number, begin: number): void {
    const f = this.fetching.get(index);
    if (f === undefined) return;
    f.outstanding--;
    this.requestsOut--;
    f.toAsk.push(begin);
    if (f.received === 0 && f.outstanding === 0) {
      // Refused before any of it came: the seeder wants us on other pieces for now.
      this.fetching.delete(index);
      if (!this.choked) this.refusedUntil.set(index, performance.now() + REFUSED_MS);
    }
  }

  private dropAllRequests(): void {
    for (const [index, f] of this.fetching) {
      if (f.received === 0) this.fetching.delete(index);
      else {
        f.toAsk.length = 0;
        for (let b = f.received; b < f.size; b += BLOCK) f.toAsk.push(b);
        f.outstanding = 0;
      }
    }
    this.requestsOut = 0;
  }

  /** Keeps `pipeline` requests out while unchoked: pieces under way first, then new ones. */
  private fill(): void {
    if (this.choked || !this.wantPieces || this.closedWhy !== undefined) return;
    const out: Buffer[] = [];
    while (this.requestsOut < this.pipeline) {
      let f: Fetch | undefined;
      for (const g of this.fetching.values())
        if (g.toAsk.length > 0) {
          f = g;
          break;
        }
      f ??= this.startPiece();
      if (f === undefined) break;
      const begin = f.toAsk.shift()!;
      const length = Math.min(BLOCK, f.size - begin);
      f.outstanding++;
      this.requestsOut++;
      out.push(encodeMessage({ type: 'request', index: f.index, begin, length }));
    }
    if (out.length > 0) this.send(Buffer.concat(out));
  }

  /** A new piece to fetch: one the seeder suggested, else a random one we lack. */
  private startPiece(): Fetch | undefined {
    const now = performance.now();
    const usable = (i: number) =>
      i < this.pieceCount &&
      this.have[i] === 0 &&
      !this.fetching.has(i) &&
      (this.refusedUntil.get(i) ?? 0) <= now;
    let index: number | undefined;
    while (index === undefined && this.suggested.length > 0) {
      const s = this.suggested.shift()!;
      if (usable(s)) index = s;
    }
    if (index === undefined) {
      const start = Math.floor(this.random() * this.pieceCount);
      for (let k = 0; k < this.pieceCount && index === undefined; k++) {
        const i = (start + k) % this.pieceCount;
        if (usable(i)) index = i;
      }
    }
    if (index === undefined) return undefined;
    this.refusedUntil.delete(index);
    const size = Math.min(
      this.torrent.pieceLength,
      this.torrent.totalLength - index * this.torrent.pieceLength,
    );
    const toAsk: number[] = [];
    for (let b = 0; b < size; b += BLOCK) toAsk.push(b);
    const f: Fetch = { index, size, toAsk, outstanding: 0, received: 0 };
    this.fetching.set(index, f);
    return f;
  }

  private bits(): Uint8Array {
    return new Uint8Array(Math.ceil(this.pieceCount / 8));
  }
}

/** Whether the first `count` bits of a bitfield are all set. */
function allSet(bits: Uint8Array, count: number): boolean {
  for (let i = 0; i < count; i++) if ((bits[i >> 3]! & (0x80 >> (i & 7))) === 0) return false;
  return true;
}
