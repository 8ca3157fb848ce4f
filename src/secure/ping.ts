import { ShoalError } from '../errors.js';
import type { Clock, TimerHandle, Timers } from '../runtime/runtime.js';
import { type Channel, INITIAL_WINDOW } from './channel.js';
import type { Mux } from './mux.js';

/** The ping protocol's channel name. */
export const PING_PROTOCOL = 'shoal/ping';

/** Message types: a ping carries 8 bytes, its pong echoes them. */
const PING = 0;
const PONG = 1;
const TOKEN_LENGTH = 8;

/** Default time to wait for a pong. */
export const DEFAULT_PING_TIMEOUT_MS = 10_000;

/** A ping got no pong in time, or its channel closed first. */
export class PingError extends ShoalError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PING_FAILED', message, options);
  }
}

/**
 * Answers the peer's pings on `mux`: every ping is echoed as a pong. A peer that pings without
 * reading its pongs runs out of credit: while a pong cannot be sent the channel stops reading.
 */
export function answerPings(mux: Mux): void {
  mux.handle(PING_PROTOCOL, (request) => {
    const channel = request.accept({ window: INITIAL_WINDOW });
    channel.onDrain(() => channel.resume());
    channel.onMessage((type, payload) => {
      if (type !== PING || payload.length !== TOKEN_LENGTH) {
        channel.close();
        return;
      }
      if (!channel.send(PONG, payload)) channel.pause();
    });
  });
}

interface Outstanding {
  readonly sentAt: number;
  readonly resolve: (rttMs: number) => void;
  readonly reject: (error: Error) => void;
  readonly timer: TimerHandle;
}

/**
 * Measures round-trip time to the peer over its `shoal/ping` channel (opened on first use and
 * kept): the time from sending a ping to its pong, on the runtime's clock.
 */
export class Pinger {
  private channel: Channel | undefined;
  private sequence = 0;
  private readonly outstanding = new Map<string, Outstanding>();

  constructor(
    private readonly mux: Mux,
    private readonly clock: Clock,
    private readonly timers: Timers,
  ) {}

  /** Resolves with the round-trip time in milliseconds; rejects with `PingError`. */
  ping(timeoutMs = DEFAULT_PING_TIMEOUT_MS): Promise<number> {
    let channel: Channel;
    try {
      channel = this.openChannel();
    } catch (error) {
      return Promise.reject(new PingError('cannot open a ping channel', { cause: error }));
    }
    const token = Buffer.alloc(TOKEN_LENGTH);
    token.writeUInt32BE(this.sequence++ >>> 0, 4);
    const key = token.toString('hex');
    return new Promise((resolve, reject) => {
      const timer = this.timers.setTimeout(() => {
        this.outstanding.delete(key);
        reject(new PingError(`no pong within ${timeoutMs} ms`));
      }, timeoutMs);
      this.outstanding.set(key, { sentAt: this.clock.now(), resolve, reject, timer });
      channel.send(PING, token);
    });
  }

  /** Closes the ping channel; outstanding pings fail. */
  close(): void {
    this.channel?.close();
  }

  private openChannel(): Channel {
    if (this.channel !== undefined && this.channel.state !== 'closed') return this.channel;
    const channel = this.mux.open(PING_PROTOCOL, { window: INITIAL_WINDOW });
    channel.onMessage((type, payload) => {
      const key = payload.toString('hex');
      const waiting = type === PONG ? this.outstanding.get(key) : undefined;
      if (waiting === undefined) return;
      this.outstanding.delete(key);
      waiting.timer.cancel();
      waiting.resolve(this.clock.now() - waiting.sentAt);
    });
    channel.onClose((error) => {
      for (const [key, waiting] of this.outstanding) {
        this.outstanding.delete(key);
        waiting.timer.cancel();
        waiting.reject(new PingError('the ping channel closed', { cause: error }));
      }
    });
    this.channel = channel;
    return channel;
  }
}
