import type { ByteStream } from '../runtime/runtime.js';
import { Channel, type ChannelLink, DEFAULT_WINDOW } from './channel.js';
import { MuxError } from './mux-errors.js';
import {
  decodeFrame,
  encodeOpen,
  encodeReject,
  type Frame,
  FrameKind,
  FrameReader,
  MAX_CHANNEL_NUMBER,
} from './mux-frames.js';

/** Channels the peer may have open at once on one connection. */
export const MAX_REMOTE_CHANNELS = 256;

/** Peer-opened channels that may wait for an answer (no handler yet, or one deciding). */
export const MAX_PENDING_OPENS = 16;

/** Options of a channel we open or accept. */
export interface ChannelOptions {
  /** Bytes the peer may have sent us and we have not taken; default {@link DEFAULT_WINDOW}. */
  readonly window?: number;
}

/** A peer asks to open a channel of a protocol we handle: accept or reject it. */
export class ChannelRequest {
  private answered = false;

  constructor(
    private readonly mux: Mux,
    private readonly channel: Channel,
  ) {}

  /** The protocol the peer asks for. */
  get protocol(): string {
    return this.channel.protocol;
  }

  /** The channel id the peer gave (empty when none). */
  get id(): Buffer {
    return this.channel.id;
  }

  /** Accepts: the returned channel is open; messages that came with the request follow. */
  accept(options: ChannelOptions = {}): Channel {
    this.answer();
    this.mux.acceptRequest(this.channel, windowOf(options));
    return this.channel;
  }

  /** Refuses the channel, telling the peer why (at most 255 bytes of UTF-8). */
  reject(reason = 'rejected'): void {
    this.answer();
    this.mux.rejectRequest(this.channel, reason);
  }

  private answer(): void {
    if (this.answered || this.channel.state !== 'pending') {
      throw new MuxError('MUX_USAGE', 'this channel request was already answered or withdrawn');
    }
    this.answered = true;
  }
}

/**
 * Named protocol channels over one connection (a `SecureStream`, or any `ByteStream`), so every
 * shoal protocol is a small channel handler rather than a connection of its own. Either side
 * opens a channel by protocol name and an optional id; the other side's handler for that
 * protocol accepts or rejects it. A request for a protocol with no handler yet waits (at most
 * {@link MAX_PENDING_OPENS}) until one is registered, with the messages sent along bounded by
 * the initial credit. Frames are written as they are made; `cork` and `uncork` gather many
 * small ones into one write (one encrypted frame on a SecureStream).
 */
export class Mux {
  private readonly reader = new FrameReader();
  private readonly ours = new Map<number, Channel>();
  private readonly theirs = new Map<number, Channel>();
  private readonly handlers = new Map<string, (request: ChannelRequest) => void>();
  private readonly pending: Channel[] = [];
  private nextNumber = 0;
  private nextRemoteNumber = 0;
  private corked: Uint8Array[] | undefined;
  private congestedNow = false;
  private closedWith: Error | undefined | null = null;
  private closeHandler: (error?: Error) => void = () => {};
  private readonly link: ChannelLink;

  constructor(private readonly stream: ByteStream) {
    const mux = this;
    this.link = {
      write: (chunks) => this.write(chunks),
      get congested() {
        return mux.congestedNow;
      },
      forget: (channel) => this.forget(channel),
    };
    stream.onData((chunk) => this.receive(chunk));
    stream.onDrain(() => {
      this.congestedNow = false;
      for (const channel of [...this.ours.values(), ...this.theirs.values()]) channel.maybeDrain();
    });
    stream.onClose((error) =>
      this.shutdown(
        new MuxError('MUX_CLOSED', `the connection closed${error ? `: ${error.message}` : ''}`),
      ),
    );
  }

  /** Channels open or opening, both ways. */
  get channelCount(): number {
    return this.ours.size + this.theirs.size;
  }

  /**
   * Opens a channel. It can send at once (up to the initial credit); `onOpen` fires when the
   * peer accepts, `onClose` with `MUX_REJECTED` when it refuses.
   */
  open(protocol: string, options: ChannelOptions & { readonly id?: Uint8Array } = {}): Channel {
    if (this.closedWith !== null) throw new MuxError('MUX_CLOSED', 'the connection is closed');
    if (this.nextNumber > MAX_CHANNEL_NUMBER) {
      throw new MuxError('MUX_USAGE', 'this connection has opened all the channels it can');
    }
    const id = Buffer.from(options.id ?? []);
    const frame = encodeOpen(this.nextNumber, protocol, id);
    const channel = new Channel(
      protocol,
      id,
      this.nextNumber++,
      true,
      this.link,
      windowOf(options),
    );
    this.ours.set(channel.number, channel);
    this.write([frame]);
    return channel;
  }

  /**
   * Registers the handler for peer-opened channels of `protocol` (replacing any earlier one);
   * requests that waited for it are handed over now.
   */
  handle(protocol: string, handler: (request: ChannelRequest) => void): void {
    this.handlers.set(protocol, handler);
    for (const channel of this.pending.filter((c) => c.protocol === protocol)) {
      handler(new ChannelRequest(this, channel));
    }
  }

  /** Gathers frames written until `uncork` into one write. */
  cork(): void {
    this.corked ??= [];
  }

  /** Writes what was gathered since `cork`, in one write. */
  uncork(): void {
    const chunks = this.corked;
    this.corked = undefined;
    if (chunks !== undefined && chunks.length > 0) this.write(chunks);
  }

  /** Called once when the connection ends; every channel ends with it. */
  onClose(handler: (error?: Error) => void): void {
    this.closeHandler = handler;
    if (this.closedWith !== null) handler(this.closedWith);
  }

  /** Closes every channel and the connection. */
  close(): void {
    this.stream.end();
    this.shutdown(undefined);
  }

  // ---- for ChannelRequest ----

  /** A request was accepted: answer the peer and deliver what came with the request. */
  acceptRequest(channel: Channel, window: number): void {
    this.dropPending(channel);
    channel.accept(window);
    channel.release();
  }

  /** A request was rejected: tell the peer and end the channel. */
  rejectRequest(channel: Channel, reason: string): void {
    this.dropPending(channel);
    this.write([encodeReject(channel.number, reason)]);
    channel.end(new MuxError('MUX_REJECTED', `we rejected ${channel.protocol}: ${reason}`));
  }

  // ---- internals ----

  private write(chunks: readonly Uint8Array[]): boolean {
    if (this.closedWith !== null) return false;
    if (this.corked !== undefined) {
      this.corked.push(...chunks);
      return !this.congestedNow;
    }
    if (!this.stream.writev(chunks)) this.congestedNow = true;
    return !this.congestedNow;
  }

  private forget(channel: Channel): void {
    const table = channel.openedByUs ? this.ours : this.theirs;
    if (table.get(channel.number) === channel) table.delete(channel.number);
    this.dropPending(channel);
  }

  private dropPending(channel: Channel): void {
    const at = this.pending.indexOf(channel);
    if (at >= 0) this.pending.splice(at, 1);
  }

  private receive(chunk: Buffer): void {
    if (this.closedWith !== null) return;
    try {
      this.reader.push(chunk, (body) => {
        this.onFrame(decodeFrame(body));
        return this.closedWith === null;
      });
    } catch (error) {
      if (!(error instanceof MuxError)) throw error;
      this.shutdown(error);
      this.stream.destroy(error);
    }
  }

  private onFrame(frame: Frame): void {
    if (frame.kind === FrameKind.OPEN) {
      this.onOpen(frame.number, frame.protocol, frame.id);
      return;
    }
    const channel = (frame.openedByReceiver ? this.ours : this.theirs).get(frame.number);
    if (channel === undefined) return; // closed already; frames may still be on their way
    switch (frame.kind) {
      case FrameKind.ACCEPT:
        if (!channel.openedByUs || channel.state !== 'opening') {
          throw violation('an unexpected ACCEPT');
        }
        channel.accepted();
        break;
      case FrameKind.REJECT:
        if (channel.state !== 'opening') throw violation('a REJECT of an open channel');
        channel.end(
          new MuxError('MUX_REJECTED', `the peer rejected ${channel.protocol}: ${frame.reason}`),
        );
        break;
      case FrameKind.CLOSE:
        if (channel.state === 'pending') channel.end(undefined);
        else channel.remoteClosed();
        break;
      case FrameKind.CREDIT:
        channel.credited(frame.credit);
        break;
      case FrameKind.MESSAGE:
        if (channel.state === 'opening') {
          throw violation('a MESSAGE before its channel was accepted');
        }
        if (!channel.received(frame.type, frame.payload)) {
          throw violation('a MESSAGE beyond the credit given');
        }
        break;
    }
  }

  private onOpen(number: number, protocol: string, id: Buffer): void {
    if (number !== this.nextRemoteNumber) throw violation('channel numbers out of order');
    this.nextRemoteNumber++;
    if (this.theirs.size >= MAX_REMOTE_CHANNELS || this.pending.length >= MAX_PENDING_OPENS) {
      this.write([encodeReject(number, 'too many channels')]);
      return;
    }
    const channel = new Channel(
      protocol,
      Buffer.from(id),
      number,
      false,
      this.link,
      DEFAULT_WINDOW,
    );
    this.theirs.set(number, channel);
    this.pending.push(channel);
    this.handlers.get(protocol)?.(new ChannelRequest(this, channel));
  }

  private shutdown(error: Error | undefined): void {
    if (this.closedWith !== null) return;
    this.closedWith = error;
    const lost = error ?? new MuxError('MUX_CLOSED', 'the connection was closed');
    for (const channel of [...this.ours.values(), ...this.theirs.values()]) channel.end(lost);
    this.closeHandler(error);
  }
}

function windowOf(options: ChannelOptions): number {
  const window = options.window ?? DEFAULT_WINDOW;
  if (!Number.isInteger(window) || window < 1 || window > 2 ** 31) {
    throw new MuxError('MUX_USAGE', 'a channel window is an integer number of bytes up to 2 GiB');
  }
  return window;
}

function violation(message: string): MuxError {
  return new MuxError('MUX_PROTOCOL', `peer broke the multiplexer protocol: ${message}`);
}
