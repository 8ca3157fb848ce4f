import type { ByteStream } from '../runtime/runtime.js';
import type { SimHost } from './host.js';
import type { Network } from './network.js';
import { EventKind } from './simulator.js';

/**
 * One end of a simulated TCP connection, implementing the runtime's `ByteStream`: ordered,
 * reliable bytes; `write` returns false above the high-water mark and `onDrain` fires when the
 * queue empties; `pause` stops delivery, and the unread bytes count against the sender's
 * window, so a slow reader slows its sender (backpressure end to end).
 */
export class SimStream implements ByteStream {
  peer!: SimStream;
  closed = false;
  /** On its host's uplink round-robin list. */
  onLink = false;
  /** Bytes queued but not yet sent. */
  queued = 0;
  /** Bytes sent and not yet delivered to the peer. */
  inFlight = 0;
  /** Bytes delivered but held because we are paused (or nobody reads yet). */
  inboxBytes = 0;
  /** Delivery time of our last segment to the peer (deliveries never reorder). */
  lastDelivery = 0;
  /** Bytes our reader has been handed so far. */
  private consumed = 0;
  /** Bytes written so far (sent or queued). */
  private written = 0;
  /** `flushed` callbacks of our writes, each due once the peer's reader has the write's end. */
  private readonly flushes: { readonly end: number; readonly done: () => void }[] = [];
  private readonly sendq: Buffer[] = [];
  private head = 0;
  private readonly inbox: Buffer[] = [];
  private paused = false;
  private ending = false;
  private needDrain = false;
  private closeNotified = false;
  private closeError: Error | undefined;
  private dataHandler: ((data: Buffer) => void) | undefined;
  private drainHandler: (() => void) | undefined;
  private closeHandler: ((error?: Error) => void) | undefined;

  constructor(
    private readonly net: Network,
    readonly host: SimHost,
    readonly localAddress: string,
    readonly localPort: number,
    readonly remoteAddress: string,
    readonly remotePort: number,
  ) {}

  write(data: Uint8Array): boolean {
    return this.writev([data]);
  }

  /**
   * Queues the chunks themselves: the receiver is handed views of them. So `flushed` is called
   * only once the peer's reader has been handed the last of them (a reader copies what it
   * keeps), and then a sender may reuse their memory, as it does over a real socket.
   */
  writev(chunks: readonly Uint8Array[], flushed?: () => void): boolean {
    this.net.sim.activity++;
    if (this.closed || this.ending) return false;
    for (const c of chunks) {
      if (c.length === 0) continue;
      this.sendq.push(Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.length));
      this.queued += c.length;
      this.written += c.length;
    }
    if (flushed) this.flushes.push({ end: this.written, done: flushed });
    if (this.queued > 0) this.net.kick(this);
    if (this.queued >= this.net.options.tcpHighWaterBytes) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  onData(handler: (data: Buffer) => void): void {
    this.dataHandler = handler;
    if (!this.paused && this.inbox.length > 0) this.scheduleFlush();
  }

  onDrain(handler: () => void): void {
    this.drainHandler = handler;
  }

  onClose(handler: (error?: Error) => void): void {
    this.closeHandler = handler;
    if (this.closeNotified) handler(this.closeError);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.inbox.length > 0) this.scheduleFlush();
  }

  end(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    if (this.queued === 0) this.sendFin();
  }

  destroy(error?: Error): void {
    if (this.closed) return;
    this.closeLocal(error);
    // The peer sees the connection end once what is already on the wire has arrived.
    const peer = this.peer;
    this.net.afterInFlight(this, () => peer.remoteClosed());
  }

  /** Takes `size` bytes off the send queue as a list of (zero-copy) slices. */
  take(size: number): Buffer[] {
    const out: Buffer[] = [];
    let left = size;
    while (left > 0) {
      const first = this.sendq[0]!;
      const avail = first.length - this.head;
      if (avail <= left) {
        out.push(this.head === 0 ? first : first.subarray(this.head));
        this.sendq.shift();
        this.head = 0;
        left -= avail;
      } else {
        out.push(first.subarray(this.head, this.head + left));
        this.head += left;
        left = 0;
      }
    }
    this.queued -= size;
    return out;
  }

  /** After a segment left: report drain, and finish a graceful close. */
  afterTransmit(): void {
    if (this.queued > 0) return;
    if (this.needDrain) {
      this.needDrain = false;
      this.net.sim.after(0, () => this.drainHandler?.(), this.host, EventKind.tcpControl);
    }
    if (this.ending) this.sendFin();
  }

  /** A segment arrived from the peer. */
  receive(chunks: Buffer[], size: number): void {
    const sim = this.net.sim;
    sim.trace.note(this.peer.host.index, size);
    this.peer.inFlight -= size;
    // Each slice is handed on as it is (a reader may get a message in two calls), not joined
    // into a fresh buffer: a big swarm receives gigabytes, and joining them took 5-6 % of its
    // time, and more in garbage collection.
    for (const data of chunks) {
      if (this.closed) return;
      if (this.paused || this.dataHandler === undefined || this.inbox.length > 0) {
        this.inbox.push(data);
        this.inboxBytes += data.length;
      } else {
        this.dataHandler(data);
        this.consumed += data.length;
      }
    }
    this.peer.settleFlushes(this.consumed);
    if (this.peer.queued > 0 && !this.peer.closed) this.net.kick(this.peer);
  }

  /** Calls the `flushed` callbacks of the writes whose last byte our peer's reader has had. */
  private settleFlushes(consumedByPeer: number): void {
    const due = this.flushes;
    let n = 0;
    while (n < due.length && due[n]!.end <= consumedByPeer) n++;
    if (n === 0) return;
    for (const f of due.splice(0, n)) f.done();
  }

  /** The peer closed (FIN or RST reached us). */
  remoteClosed(): void {
    if (this.closed) return;
    this.closeLocal(undefined);
  }

  private sendFin(): void {
    if (this.closed) return;
    const peer = this.peer;
    this.net.afterInFlight(this, () => {
      peer.flushInbox();
      peer.remoteClosed();
      this.closeLocal(undefined);
    });
  }

  private scheduleFlush(): void {
    this.net.sim.after(0, () => this.flushInbox(), this.host, EventKind.tcpControl);
  }

  /** Hands held data to the reader, unless paused. */
  flushInbox(): void {
    while (
      !this.paused &&
      !this.closed &&
      this.dataHandler !== undefined &&
      this.inbox.length > 0
    ) {
      const data = this.inbox.shift()!;
      this.inboxBytes -= data.length;
      this.dataHandler(data);
      this.consumed += data.length;
    }
    this.peer.settleFlushes(this.consumed);
    if (this.peer.queued > 0 && !this.peer.closed) this.net.kick(this.peer);
  }

  private closeLocal(error: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.sendq.length = 0;
    this.flushes.length = 0;
    this.queued = 0;
    this.host.streams.delete(this);
    this.net.sim.after(
      0,
      () => {
        if (this.closeNotified) return;
        this.closeNotified = true;
        this.closeError = error;
        this.closeHandler?.(error);
      },
      this.host,
      EventKind.tcpControl,
    );
  }
}
