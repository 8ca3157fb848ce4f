import { MuxError } from './mux-errors.js';
import {
  type ChannelRef,
  encodeCredit,
  encodeEmpty,
  encodeMessageHeader,
  FrameKind,
} from './mux-frames.js';

/** Credit each side of a new channel starts with, before any CREDIT frame: 64 KiB. */
export const INITIAL_WINDOW = 64 * 1024;

/** The receive window a channel grows to once open, unless its options say otherwise. */
export const DEFAULT_WINDOW = 256 * 1024;

/** What a message costs in credit besides its payload, so empty messages are not free. */
export const MESSAGE_OVERHEAD = 16;

/** What a channel needs from its multiplexer. */
export interface ChannelLink {
  /** Writes frames to the connection; false when it is congested. */
  write(chunks: readonly Uint8Array[]): boolean;
  /** True between a write that returned false and the next drain. */
  readonly congested: boolean;
  /** Drops the channel from the multiplexer's tables. */
  forget(channel: Channel): void;
}

/** The receive side's view of a message. */
interface Held {
  readonly type: number;
  readonly payload: Buffer;
}

/**
 * One named protocol channel over a multiplexed secure connection. Messages are (type 0–255,
 * payload up to 64 KiB). Each direction has its own credit: a sender may send while the
 * receiver has granted it credit, and the receiver grants more only as its application takes
 * messages, so a channel nobody reads stops its sender without stopping any other channel.
 * `send` returns false once the channel is out of credit or the connection is congested; wait
 * for `onDrain`. A received payload is lent for the handler call only.
 */
export class Channel {
  /**
   * 'opening': we opened it, the peer has not accepted yet (we may already send, up to the
   * initial credit); 'pending': the peer opened it and we have not answered; 'closed' for good.
   */
  state: 'opening' | 'pending' | 'open' | 'closed';
  /** How frames we send name this channel. */
  readonly ref: ChannelRef;

  private credit = INITIAL_WINDOW;
  private backlog: Uint8Array[][] = [];
  private needsDrain = false;

  /** Credit we granted that the peer has not used yet. */
  private window = INITIAL_WINDOW;
  /** Cost of the messages handed to the application since our last CREDIT. */
  private consumed = 0;
  private held: Held[] = [];
  private heldBytes = 0;
  private paused = false;
  private closeWhenDrained = false;

  private messageHandler: ((type: number, payload: Buffer) => void) | undefined;
  private openHandler: () => void = () => {};
  private drainHandler: () => void = () => {};
  private closeHandler: (error?: Error) => void = () => {};
  private closeError: Error | undefined;

  constructor(
    readonly protocol: string,
    readonly id: Buffer,
    /** Our number for it if we opened it, the peer's if the peer did. */
    readonly number: number,
    readonly openedByUs: boolean,
    private readonly link: ChannelLink,
    /** The receive window to grow to once open. */
    private targetWindow: number,
  ) {
    this.state = openedByUs ? 'opening' : 'pending';
    this.ref = { number, openedByReceiver: !openedByUs };
  }

  /** Called once the peer accepts the channel (channels we opened). */
  onOpen(handler: () => void): void {
    this.openHandler = handler;
  }

  /** Sets the message handler; messages that arrived before it are handed over now. */
  onMessage(handler: (type: number, payload: Buffer) => void): void {
    this.messageHandler = handler;
    this.release();
  }

  /** Called when a `send` that returned false may be followed by more. */
  onDrain(handler: () => void): void {
    this.drainHandler = handler;
  }

  /** Called once when the channel ends: closed by either side (no error), rejected, or lost. */
  onClose(handler: (error?: Error) => void): void {
    this.closeHandler = handler;
    if (this.state === 'closed') handler(this.closeError);
  }

  /** Bytes received and not yet handed to the application (paused, or no handler yet). */
  get bufferedBytes(): number {
    return this.heldBytes;
  }

  /**
   * Sends a message. Returns false when the caller should wait for `onDrain`: the message is
   * kept (copied) and goes out when credit returns. Throws `MuxError` on a closed channel or an
   * invalid type or size.
   */
  send(type: number, payload: Uint8Array): boolean {
    if (this.state === 'closed')
      throw new MuxError('MUX_CLOSED', `channel ${this.protocol} is closed`);
    const header = encodeMessageHeader(this.ref, type, payload.length);
    if (this.credit > 0 && this.backlog.length === 0) {
      this.credit -= payload.length + MESSAGE_OVERHEAD;
      this.link.write([header, payload]);
    } else {
      this.backlog.push([header, Buffer.from(payload)]);
    }
    const ok = this.credit > 0 && this.backlog.length === 0 && !this.link.congested;
    if (!ok) this.needsDrain = true;
    return ok;
  }

  /** Stops handing messages to the application; the peer runs out of credit soon after. */
  pause(): void {
    this.paused = true;
  }

  /** Hands on what arrived while paused, then messages as they come. */
  resume(): void {
    this.paused = false;
    this.release();
  }

  /** Closes the channel both ways; the peer's handler sees a clean close. */
  close(): void {
    if (this.state === 'closed') return;
    this.link.write([encodeEmpty(FrameKind.CLOSE, this.ref)]);
    this.end(undefined);
  }

  // ---- called by the multiplexer ----

  /** Ends the channel without a frame: rejected, closed by the peer, or the connection lost. */
  end(error: Error | undefined): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closeError = error;
    this.backlog = [];
    this.held = [];
    this.heldBytes = 0;
    this.link.forget(this);
    this.closeHandler(error);
  }

  /** The peer accepted our channel: grow the window it may use and tell the application. */
  accepted(): void {
    this.state = 'open';
    this.grantInitialGrowth();
    this.openHandler();
  }

  /** We accept the peer's channel, with a receive window of `window` bytes. */
  accept(window: number): void {
    this.state = 'open';
    this.targetWindow = window;
    this.link.write([encodeEmpty(FrameKind.ACCEPT, this.ref)]);
    this.grantInitialGrowth();
  }

  private grantInitialGrowth(): void {
    const growth = this.targetWindow - INITIAL_WINDOW;
    if (growth > 0) {
      this.window += growth;
      this.link.write([encodeCredit(this.ref, growth)]);
    }
  }

  /** The peer closed the channel: end it once the application has what arrived before. */
  remoteClosed(): void {
    if (this.held.length === 0) this.end(undefined);
    else this.closeWhenDrained = true;
  }

  /**
   * A message arrived. Returns false when the peer overran the credit we gave it (a protocol
   * violation: the caller drops the connection).
   */
  received(type: number, payload: Buffer): boolean {
    if (this.window <= 0) return false;
    this.window -= payload.length + MESSAGE_OVERHEAD;
    const handler = this.messageHandler;
    if (this.state === 'open' && handler !== undefined && !this.paused && this.held.length === 0) {
      handler(type, payload);
      this.consumedMessage(payload.length);
    } else {
      this.held.push({ type, payload: Buffer.from(payload) });
      this.heldBytes += payload.length;
    }
    return true;
  }

  /** Credit arrived: send what waited for it. */
  credited(credit: number): void {
    this.credit += credit;
    while (this.credit > 0 && this.backlog.length > 0) {
      const message = this.backlog.shift()!;
      this.credit -= message[1]!.length + MESSAGE_OVERHEAD;
      this.link.write(message);
    }
    this.maybeDrain();
  }

  /** The connection drained. */
  maybeDrain(): void {
    if (!this.needsDrain || this.credit <= 0 || this.backlog.length > 0 || this.link.congested) {
      return;
    }
    if (this.state === 'closed') return;
    this.needsDrain = false;
    this.drainHandler();
  }

  /** Hands held messages to the application while it takes them. */
  release(): void {
    if (this.state !== 'open') return;
    while (this.held.length > 0 && this.messageHandler !== undefined && !this.paused) {
      if (this.isClosed) return;
      const { type, payload } = this.held.shift()!;
      this.heldBytes -= payload.length;
      this.messageHandler(type, payload);
      this.consumedMessage(payload.length);
    }
    if (this.closeWhenDrained && this.held.length === 0) this.end(undefined);
  }

  /** A getter, so that checks after calls into the application are not narrowed away. */
  private get isClosed(): boolean {
    return this.state === 'closed';
  }

  private consumedMessage(length: number): void {
    if (this.state === 'closed') return;
    this.consumed += length + MESSAGE_OVERHEAD;
    if (this.consumed >= this.targetWindow / 2) {
      this.window += this.consumed;
      this.link.write([encodeCredit(this.ref, this.consumed)]);
      this.consumed = 0;
    }
  }
}
