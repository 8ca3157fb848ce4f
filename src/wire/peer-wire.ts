import { WireError } from './errors.js';
import { decodeHandshake, encodeHandshake, HANDSHAKE_BYTES, type Handshake } from './handshake.js';
import {
  decodeBody,
  decodesToView,
  encodeMessage,
  encodePieceHeader,
  type Message,
  MessageReader,
} from './messages.js';

/** What a {@link PeerWire} reports as bytes arrive. */
export interface PeerWireHandler {
  handshake(h: Handshake): void;
  message(m: Message): void;
}

/**
 * One peer connection's protocol state, free of I/O: bytes in through {@link receive}, bytes out
 * through the `send` callback, handshake and messages out through the handler. It tracks the
 * four choke/interest flags and enforces the message size limit; anything malformed throws
 * {@link WireError}, upon which the owner drops the connection.
 */
export class PeerWire {
  amChoking = true;
  amInterested = false;
  peerChoking = true;
  peerInterested = false;
  /** Bytes of piece payload sent and received (for rates and accounting). */
  uploaded = 0;
  downloaded = 0;
  private reader: MessageReader;
  private handshaken = false;
  /** A handshake that came in pieces, collected (allocated only then). */
  private handshakeBytes: Buffer | undefined;
  private handshakeFilled = 0;

  constructor(
    /** Sends bytes; `flushed` as in {@link ByteStream.writev}. */
    private readonly send: (chunks: readonly Uint8Array[], flushed?: () => void) => void,
    private readonly handler: PeerWireHandler,
    maxMessageBytes: number,
    /** Told the type of every message sent (for metrics). */
    private readonly onSent: (type: Message['type']) => void = () => {},
  ) {
    this.reader = new MessageReader(maxMessageBytes);
  }

  /** True once the peer's handshake arrived. */
  get ready(): boolean {
    return this.handshaken;
  }

  sendHandshake(h: Handshake): void {
    this.send([encodeHandshake(h)]);
  }

  /**
   * Feeds received bytes. The chunk may be reused by the caller once this returns: a block is
   * handed to the handler as a view of it (to be copied during the call), a message that keeps
   * bytes (a bitfield, an extension payload, hashes) is decoded from a copy so what the handler
   * keeps stays intact, and the rest are read where they lie. @throws {WireError}
   */
  receive(chunk: Buffer): void {
    if (!this.handshaken) {
      // Usually it arrives whole and is decoded where it lies (the decoder copies its fields).
      let whole = chunk;
      let used = HANDSHAKE_BYTES;
      if (this.handshakeFilled > 0 || chunk.length < HANDSHAKE_BYTES) {
        this.handshakeBytes ??= Buffer.alloc(HANDSHAKE_BYTES);
        used = Math.min(HANDSHAKE_BYTES - this.handshakeFilled, chunk.length);
        chunk.copy(this.handshakeBytes, this.handshakeFilled, 0, used);
        this.handshakeFilled += used;
        if (this.handshakeFilled < HANDSHAKE_BYTES) return;
        whole = this.handshakeBytes;
        this.handshakeBytes = undefined;
      }
      this.handshaken = true;
      this.handler.handshake(decodeHandshake(whole.subarray(0, HANDSHAKE_BYTES)));
      chunk = chunk.subarray(used);
    }
    this.reader.push(chunk, this.onBody);
  }

  private readonly onBody = (body: Buffer | null): void => {
    if (body === null) {
      this.handler.message({ type: 'keep-alive' });
      return;
    }
    const m = decodeBody(decodesToView(body[0]!) ? Buffer.from(body) : body);
    if (m === undefined) return; // unknown message ids are ignored (BEP 3)
    switch (m.type) {
      case 'choke':
        this.peerChoking = true;
        break;
      case 'unchoke':
        this.peerChoking = false;
        break;
      case 'interested':
        this.peerInterested = true;
        break;
      case 'not-interested':
        this.peerInterested = false;
        break;
      case 'piece':
        this.downloaded += m.block.length;
        break;
      default:
        break;
    }
    this.handler.message(m);
  };

  /** Sends a message, keeping our own flags in step. */
  sendMessage(m: Message): void {
    if (!this.handshaken && m.type !== 'keep-alive') {
      // Messages before the handshake completes are a bug in the caller, not the peer.
      throw new WireError('message sent before the handshake');
    }
    switch (m.type) {
      case 'choke':
        this.amChoking = true;
        break;
      case 'unchoke':
        this.amChoking = false;
        break;
      case 'interested':
        this.amInterested = true;
        break;
      case 'not-interested':
        this.amInterested = false;
        break;
      default:
        break;
    }
    this.onSent(m.type);
    this.send([encodeMessage(m)]);
  }

  /**
   * Sends a `have` already encoded by {@link encodeMessage}: a piece announced to a hundred
   * peers is encoded once, and every peer's write holds the same bytes (no stream changes what
   * it is given to send).
   */
  sendEncodedHave(encoded: Uint8Array): void {
    if (!this.handshaken) throw new WireError('message sent before the handshake');
    this.onSent('have');
    this.send([encoded]);
  }

  /**
   * Sends a block without copying it into the message buffer; `flushed` says when the block's
   * memory is no longer needed (it may never be called).
   */
  sendPiece(index: number, begin: number, block: Uint8Array, flushed?: () => void): void {
    this.uploaded += block.length;
    this.onSent('piece');
    this.send([encodePieceHeader(index, begin, block.length), block], flushed);
  }
}
