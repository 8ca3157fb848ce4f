import type { ByteStream } from '../runtime/runtime.js';
import type { Channel } from './channel.js';
import { MAX_MESSAGE_SIZE } from './mux-frames.js';

/** The one message type of a byte-stream channel: a piece of the stream. */
export const STREAM_DATA = 0;

/** Where a channel stream says it leads (it has no socket of its own). */
export interface ChannelStreamEnds {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
}

/**
 * A multiplexer channel as a `ByteStream`, so that anything that runs over a connection runs
 * over a channel too — a relayed secure channel is a {@link SecureStream} over one of these.
 * Bytes travel as `STREAM_DATA` messages of at most 64 KiB; the channel's credit is the
 * stream's back-pressure (`write` returns false, `onDrain` follows); `pause` stops taking
 * messages, so the peer runs out of credit. A message of another type breaks the stream.
 * `end` closes the channel once what waits for credit has gone; `destroy` at once.
 */
export class ChannelStream implements ByteStream {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  private congested = false;
  private endWhenDrained = false;
  private drainHandler: () => void = () => {};

  constructor(
    private readonly channel: Channel,
    ends: ChannelStreamEnds,
  ) {
    this.remoteAddress = ends.remoteAddress;
    this.remotePort = ends.remotePort;
    this.localAddress = ends.localAddress;
    this.localPort = ends.localPort;
    channel.onDrain(() => {
      this.congested = false;
      if (this.endWhenDrained) channel.close();
      else this.drainHandler();
    });
  }

  write(data: Uint8Array): boolean {
    return this.writev([data]);
  }

  /** The channel copies what it cannot send at once, so `flushed` is never needed (nor called). */
  writev(chunks: readonly Uint8Array[]): boolean {
    if (this.channel.state === 'closed' || this.endWhenDrained) return false;
    let ok = true;
    for (const chunk of chunks) {
      for (let at = 0; at < chunk.length; at += MAX_MESSAGE_SIZE) {
        const piece =
          at === 0 && chunk.length <= MAX_MESSAGE_SIZE
            ? chunk
            : chunk.subarray(at, at + MAX_MESSAGE_SIZE);
        if (!this.channel.send(STREAM_DATA, piece)) ok = false;
      }
    }
    if (!ok) this.congested = true;
    return ok;
  }

  onData(handler: (data: Buffer) => void): void {
    this.channel.onMessage((type, payload) => {
      if (type === STREAM_DATA) handler(payload);
      else this.channel.close();
    });
  }

  onDrain(handler: () => void): void {
    this.drainHandler = handler;
  }

  onClose(handler: (error?: Error) => void): void {
    this.channel.onClose(handler);
  }

  pause(): void {
    this.channel.pause();
  }

  resume(): void {
    this.channel.resume();
  }

  end(): void {
    if (this.congested) this.endWhenDrained = true;
    else this.channel.close();
  }

  destroy(): void {
    this.channel.close();
  }
}
