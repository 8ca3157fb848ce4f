/**
 * One uTP connection's state machine (BEP 29), sans-I/O. Inputs: decoded packets, application
 * writes, `end`/`destroy`/`pause`/`resume`, and `tick` once {@link UtpConnection.deadline} has
 * passed; every input carries `now` (milliseconds of the owner's clock). Outputs go to a
 * {@link UtpConnectionSink}: datagrams to send, in-order bytes, and state changes.
 *
 * Handshake as libtorrent and libutp do it: the initiator's SYN carries its receive id and
 * every later packet its send id (receive id + 1); the acceptor answers with a STATE whose
 * `seq_nr` is the number its first DATA packet will carry (a STATE takes no sequence number),
 * and the initiator sets `ack_nr` to one less.
 */
import type { RandomSource } from '../../runtime/runtime.js';
import { DelayedAck } from './delayed-ack.js';
import { UtpConnectionError, type UtpFailure } from './errors.js';
import { Ledbat, MAX_RTO_MS, RttEstimator } from './ledbat.js';
import {
  HEADER_BYTES,
  ST_DATA,
  ST_FIN,
  ST_RESET,
  ST_STATE,
  ST_SYN,
  type UtpPacket,
  type UtpPacketType,
} from './packet.js';
import { PacketBuilder } from './packet-builder.js';
import { Arrival, ReceiveBuffer } from './receive-buffer.js';
import { SendQueue } from './send-queue.js';
import { MAX_OUT_PACKETS, SendWindow, type Sent } from './send-window.js';
import { seqAdd, seqDiff } from './seq.js';
import type { UtpConnectionSettings } from './settings.js';

/** Where a connection's output goes. */
export interface UtpConnectionSink {
  /** A datagram for the peer. The connection may reuse the memory once it has been acked. */
  send(datagram: Uint8Array): void;
  /** In-order bytes, lent for the call. */
  data(chunk: Buffer): void;
  /** The handshake completed. */
  connected(): void;
  /** Queued bytes fell to the low-water mark after a `write` returned false. */
  drain(): void;
  /** The connection ended (once): cleanly with `undefined`, else with the reason. */
  closed(error: Error | undefined): void;
}

/** Consecutive timeouts after which a connected peer is given up (≈ 30 s at the minimum RTO). */
const MAX_TIMEOUTS = 6;
/**
 * How long an accepted connection waits for the initiator's first packet after the SYN: past
 * the initiator's first retransmissions, so a lost first packet does not meet a RESET.
 */
const HALF_OPEN_MS = 10_000;
/** SYN retransmissions before a connect fails (after 1 + 2 + 4 s). */
const MAX_SYN_RESENDS = 2;
/** A partial packet waits this long for more bytes while others are in flight (Nagle). */
const NAGLE_MS = 5;
/** A STATE keeps NAT mappings and the peer's timers alive when nothing else was sent. */
const KEEPALIVE_MS = 29_000;
/** Nothing heard for this long ends the connection (the wire protocol above times out first). */
const IDLE_TIMEOUT_MS = 300_000;
/** After our FIN is acked, the peer has this long to send its own. */
const FIN_WAIT_MS = 10_000;
/** A cleanly closed connection keeps acking a retransmitted FIN this long. */
const LINGER_MS = 5_000;
/** Bytes queued beyond this many high-water marks (writes ignoring `false`) end the connection. */
const OVERFLOW_FACTOR = 32;

const SYN_SENT = 0;
const SYN_RECV = 1;
const CONNECTED = 2;
const CLOSED = 3;

/** See the module comment. Create with {@link UtpConnection.connect} or {@link UtpConnection.accept}. */
export class UtpConnection {
  private state: number;
  private readonly out: SendWindow;
  private peerWindow: number;
  private readonly recv: ReceiveBuffer;
  private readonly queue = new SendQueue();
  private readonly ledbat: Ledbat;
  private readonly rtt = new RttEstimator();
  private readonly packets: PacketBuilder;
  private numTimeouts = 0;
  private timeoutAt = Number.POSITIVE_INFINITY;
  private readonly acks = new DelayedAck();
  private nagleAt = Number.POSITIVE_INFINITY;
  private lastSendAt: number;
  private lastRecvAt: number;
  private ending = false;
  private finSeq = -1;
  private finAckedAt = Number.NEGATIVE_INFINITY;
  private needDrain = false;
  private probe = false;
  private lingerUntil = Number.NEGATIVE_INFINITY;
  /** The SYN (initiator) or our answer to it (acceptor), kept for resending. */
  private handshake: Uint8Array | undefined;
  private synSeq = 0;

  private constructor(
    readonly recvId: number,
    readonly sendId: number,
    role: number,
    seqNr: number,
    ackNr: number,
    now: number,
    private readonly settings: UtpConnectionSettings,
    private readonly sink: UtpConnectionSink,
  ) {
    this.state = role;
    this.recv = new ReceiveBuffer(settings.recvWindowBytes, ackNr);
    this.packets = new PacketBuilder(sendId, this.recv, settings.packetBytes);
    this.out = new SendWindow(seqNr, this.rtt, this.packets.recycle);
    this.ledbat = new Ledbat(this.mss, settings.maxCwndBytes);
    this.peerWindow = settings.recvWindowBytes;
    this.lastSendAt = now;
    this.lastRecvAt = now;
  }

  /** Opens a connection: sends the SYN with receive id `recvId`. */
  static connect(
    recvId: number,
    now: number,
    random: RandomSource,
    settings: UtpConnectionSettings,
    sink: UtpConnectionSink,
  ): UtpConnection {
    const syn = random.int(0x10000);
    const c = new UtpConnection(
      recvId,
      seqAdd(recvId, 1),
      SYN_SENT,
      seqAdd(syn, 1),
      0,
      now,
      settings,
      sink,
    );
    c.synSeq = syn;
    c.handshake = c.packets.control(ST_SYN, now, syn, settings.largePacketBytes, undefined, recvId);
    c.sendHandshake(now);
    return c;
  }

  /** Answers `syn` (already checked to be a SYN): the reply STATE goes out at once. */
  static accept(
    syn: UtpPacket,
    now: number,
    random: RandomSource,
    settings: UtpConnectionSettings,
    sink: UtpConnectionSink,
  ): UtpConnection {
    const c = new UtpConnection(
      seqAdd(syn.connectionId, 1),
      syn.connectionId,
      SYN_RECV,
      random.int(0x10000),
      syn.seqNr,
      now,
      settings,
      sink,
    );
    c.peerWindow = syn.windowSize;
    const offer = settings.largePacketBytes > 0 && syn.maxDatagram > 0;
    if (offer) c.packets.useLargePackets(settings.largePacketBytes, syn.maxDatagram);
    c.packets.noteTimestamp(syn, now);
    c.handshake = c.packets.control(
      ST_STATE,
      now,
      c.out.seqNr,
      offer ? settings.largePacketBytes : 0,
    );
    c.sendHandshake(now);
    c.timeoutAt = now + HALF_OPEN_MS;
    return c;
  }

  /** Payload bytes of a full packet. */
  get mss(): number {
    return this.packets.packetBytes - HEADER_BYTES;
  }

  /** True once closed and past lingering: the owner may forget it. */
  get done(): boolean {
    return this.state === CLOSED && this.lingerUntil === Number.NEGATIVE_INFINITY;
  }

  /** When {@link tick} must next run (owner's clock, ms); infinity when nothing is pending. */
  deadline(): number {
    if (this.state === CLOSED)
      return this.lingerUntil < 0 ? Number.POSITIVE_INFINITY : this.lingerUntil;
    if (this.state !== CONNECTED) return this.timeoutAt;
    let t = Math.min(
      this.out.outstanding > 0 ? this.timeoutAt : Number.POSITIVE_INFINITY,
      this.acks.at,
      this.lastSendAt + KEEPALIVE_MS,
      this.lastRecvAt + IDLE_TIMEOUT_MS,
    );
    if (this.queue.bytes > 0) {
      t = Math.min(t, this.nagleAt);
      if (this.out.inFlight === 0 && this.peerWindow === 0)
        t = Math.min(t, this.lastSendAt + this.rto);
    }
    if (this.finAckedAt >= 0 && !this.recv.eofReached)
      t = Math.min(t, this.finAckedAt + FIN_WAIT_MS);
    return t;
  }

  // ------------------------------------------------------------------ inputs

  /** Queues application bytes; false when the caller should wait for `drain`. */
  write(chunk: Uint8Array, flushed?: () => void): boolean {
    if (this.state === CLOSED || this.ending) return false;
    if (this.queue.bytes + chunk.length > this.settings.sendHighWaterBytes * OVERFLOW_FACTOR) {
      this.fail('UTP_OVERFLOW', `${this.queue.bytes} bytes queued`);
      return false;
    }
    this.queue.push(chunk, flushed);
    if (this.queue.bytes < this.settings.sendHighWaterBytes) return true;
    this.needDrain = true;
    return false;
  }

  /** Sends what the windows allow (the owner calls it after a batch of writes). */
  flush(now: number): void {
    this.pump(now);
  }

  /** Graceful close: FIN after everything queued has been sent. */
  end(now: number): void {
    if (this.state === CLOSED || this.ending) return;
    this.ending = true;
    this.pump(now);
  }

  /** Immediate close: a RESET to the peer, and `closed(error)` locally. */
  destroy(now: number, error?: Error): void {
    if (this.state === CLOSED) return;
    if (this.state !== SYN_SENT)
      this.sink.send(this.packets.control(ST_RESET, now, this.out.seqNr, 0));
    this.close(error, false);
  }

  /** Drops the connection without a word to the peer (an evicted half-open one). */
  forget(): void {
    this.close(undefined, false, true);
  }

  /** Stops handing over bytes; they are held (shrinking the advertised window). */
  pause(): void {
    this.recv.paused = true;
  }

  /** Hands over held bytes and reopens the window. */
  resume(now: number): void {
    if (!this.recv.paused) return;
    this.recv.paused = false;
    const closedWindow = this.recv.window() < this.mss;
    if (!this.recv.drainBacklog(this.deliver)) return;
    if (closedWindow && this.state === CONNECTED) this.sendState(now);
    this.maybeFinish(now);
  }

  /** Runs timers that are due. */
  tick(now: number): void {
    const state = this.state;
    if (state === CLOSED) {
      if (now >= this.lingerUntil) this.lingerUntil = Number.NEGATIVE_INFINITY;
      return;
    }
    if (state !== CONNECTED) {
      if (now >= this.timeoutAt) this.handshakeTimeout(now);
      return;
    }
    if (now >= this.lastRecvAt + IDLE_TIMEOUT_MS) {
      this.fail('UTP_TIMEOUT', 'idle');
      return;
    }
    if (this.finAckedAt >= 0 && !this.recv.eofReached && now >= this.finAckedAt + FIN_WAIT_MS) {
      this.close(undefined, false);
      return;
    }
    if (this.out.outstanding > 0 && now >= this.timeoutAt) {
      this.retransmitTimeout(now);
      if (this.isClosed) return;
    }
    if (this.queue.bytes > 0 && this.out.inFlight === 0 && this.peerWindow === 0) {
      if (now >= this.lastSendAt + this.rto) this.probe = true;
    }
    this.pump(now);
    if (now >= this.acks.at) this.sendState(now);
    if (now >= this.lastSendAt + KEEPALIVE_MS) this.sendState(now);
  }

  /** Takes a packet addressed to this connection (matched by the owner on connection id). */
  receive(p: UtpPacket, now: number): void {
    const state = this.state;
    if (state === CLOSED) {
      // Lingering after a clean close: the peer may have missed our last ack.
      if (this.lingerUntil >= 0 && (p.type === ST_FIN || p.type === ST_DATA)) this.sendState(now);
      return;
    }
    if (p.type === ST_SYN) {
      // A resent SYN: our answer was lost.
      if (state === SYN_RECV && this.handshake !== undefined) this.sink.send(this.handshake);
      return;
    }
    if (state === SYN_SENT) {
      if (p.ackNr !== this.synSeq) return;
      if (p.type === ST_RESET) {
        this.fail('UTP_RESET');
        return;
      }
      if (p.type !== ST_STATE && p.type !== ST_DATA) return;
      this.established(p, now);
      if (this.isClosed) return;
    } else if (seqDiff(p.ackNr, seqAdd(this.out.seqNr, -1)) > 0) {
      return; // acks a packet we never sent: forged or corrupt
    }
    if (p.type === ST_RESET) {
      this.fail('UTP_RESET');
      return;
    }
    if (this.state === SYN_RECV) {
      this.state = CONNECTED;
      this.handshake = undefined;
      this.timeoutAt = Number.POSITIVE_INFINITY;
      this.sink.connected();
      if (this.isClosed) return;
    }
    this.lastRecvAt = now;
    this.numTimeouts = 0;
    this.packets.noteTimestamp(p, now);
    this.peerWindow = p.windowSize;
    const sample = p.timestampDifference;
    if (sample !== 0 && sample !== 0x7fffffff)
      this.ledbat.delaySample(sample, now, this.rtt.known ? this.rtt.rttMs * 1000 : 0);
    this.processAcks(p, now);
    if (this.isClosed) return;
    if (p.type === ST_DATA || p.type === ST_FIN) this.processData(p, now);
    if (this.isClosed) return;
    this.pump(now);
    this.maybeFinish(now);
  }

  // ------------------------------------------------------------------ receiving

  private readonly deliver = (chunk: Buffer): boolean => {
    if (this.isClosed) return false;
    this.sink.data(chunk);
    return !this.isClosed;
  };

  private get isClosed(): boolean {
    return this.state === CLOSED;
  }

  private established(p: UtpPacket, now: number): void {
    this.state = CONNECTED;
    this.handshake = undefined;
    this.recv.ackNr = seqAdd(p.seqNr, -1);
    if (this.settings.largePacketBytes > 0 && p.maxDatagram > 0)
      this.packets.useLargePackets(this.settings.largePacketBytes, p.maxDatagram);
    if (this.numTimeouts === 0) this.rtt.sample(now - this.lastSendAt);
    this.timeoutAt = Number.POSITIVE_INFINITY;
    this.sink.connected();
  }

  private processData(p: UtpPacket, now: number): void {
    const fin = p.type === ST_FIN;
    const payload = fin ? EMPTY : p.data.subarray(p.payloadOffset);
    const recv = this.recv;
    const arrival = recv.accept(p.seqNr, payload, fin, this.deliver);
    if (this.isClosed) return;
    if (arrival === Arrival.InOrder) {
      const urgent = recv.reorderCount > 0 || fin || payload.length < this.mss || recv.eofReached;
      if (this.acks.inOrder(now, urgent)) this.sendState(now);
      if (recv.eofReached && !this.ending) this.end(now);
    } else {
      // A duplicate means our ack was lost; a packet dropped for want of room gets an ack
      // showing the closed window, which also tells the sender we are alive.
      this.sendState(now);
    }
  }

  // ------------------------------------------------------------------ acks

  private processAcks(p: UtpPacket, now: number): void {
    const out = this.out;
    const flightBefore = out.inFlight;
    const hadOutstanding = out.outstanding;
    const ackedBefore = out.ackedSeq;
    const acked = out.onAck(p.ackNr, p.type === ST_STATE, p.data, p.sackOffset, p.sackLength, now);
    if (out.ackedSeq !== ackedBefore) {
      this.timeoutAt = out.outstanding > 0 ? now + this.rto : Number.POSITIVE_INFINITY;
      if (this.finSeq >= 0 && this.finAckedAt < 0 && out.acked(this.finSeq)) this.finAckedAt = now;
    }
    if (acked > 0) this.ledbat.onAck(acked, flightBefore, this.mss);
    if (hadOutstanding > 0 && out.detectLoss(p.sackLength > 0)) this.ledbat.onLoss(this.mss);
  }

  // ------------------------------------------------------------------ sending

  private get rto(): number {
    return Math.min(MAX_RTO_MS, this.rtt.rtoMs * 2 ** this.numTimeouts);
  }

  private windowAllows(bytes: number): boolean {
    const inFlight = this.out.inFlight;
    if (inFlight === 0) {
      if (this.peerWindow > 0) return true;
      if (!this.probe) return false;
      this.probe = false;
      return true;
    }
    return inFlight + bytes <= Math.min(this.ledbat.cwnd, this.peerWindow);
  }

  /** Sends resends, new data, the FIN and owed acks, as far as the windows allow. */
  private pump(now: number): void {
    if (this.state !== CONNECTED) return;
    const out = this.out;
    if (out.lostCount > 0) this.resendLost(now);
    const queue = this.queue;
    const mss = this.mss;
    while (queue.bytes > 0 && out.outstanding < MAX_OUT_PACKETS) {
      const size = Math.min(queue.bytes, mss);
      if (size < mss && !this.ending && out.inFlight > 0) {
        if (this.nagleAt === Number.POSITIVE_INFINITY) this.nagleAt = now + NAGLE_MS;
        if (now < this.nagleAt) break;
      }
      if (!this.windowAllows(size)) break;
      this.sendData(size, now);
    }
    if (queue.bytes === 0 || out.inFlight === 0) this.nagleAt = Number.POSITIVE_INFINITY;
    if (this.ending && queue.bytes === 0 && this.finSeq < 0) this.sendFin(now);
    if (this.needDrain && queue.bytes <= this.settings.sendHighWaterBytes / 2) {
      this.needDrain = false;
      this.sink.drain();
    }
  }

  private resendLost(now: number): void {
    this.out.forEachLost((sent) => {
      if (!this.windowAllows(sent.payload)) return false;
      this.transmit(sent, now);
      return true;
    });
  }

  private sendData(size: number, now: number): void {
    const buf = this.packets.dataBuffer();
    this.queue.take(buf, HEADER_BYTES, size);
    this.enqueue(ST_DATA, buf, size, now);
  }

  private sendFin(now: number): void {
    const buf = Buffer.allocUnsafe(HEADER_BYTES);
    this.finSeq = this.out.seqNr;
    this.enqueue(ST_FIN, buf, 0, now);
  }

  private enqueue(type: UtpPacketType, buf: Buffer, payload: number, now: number): void {
    this.transmit(this.out.add(type, buf, payload, now), now);
  }

  private transmit(sent: Sent, now: number): void {
    this.packets.stamp(sent, now);
    this.out.transmitted(sent, now);
    if (this.timeoutAt === Number.POSITIVE_INFINITY) this.timeoutAt = now + this.rto;
    this.lastSendAt = now;
    if (this.recv.reorderCount === 0) this.acks.sent();
    this.sink.send(sent.datagram);
  }

  /** A STATE: our ack (with a selective ACK when packets wait past a gap) and window. */
  private sendState(now: number): void {
    const packet = this.packets.control(ST_STATE, now, this.out.seqNr, 0, this.recv.sack());
    this.lastSendAt = now;
    this.acks.sent();
    this.sink.send(packet);
  }

  private sendHandshake(now: number): void {
    this.lastSendAt = now;
    this.timeoutAt = now + this.rto;
    this.sink.send(this.handshake!);
  }

  // ------------------------------------------------------------------ timers and closing

  private handshakeTimeout(now: number): void {
    if (this.state === SYN_RECV) {
      this.close(undefined, false, true);
      return;
    }
    if (this.numTimeouts >= MAX_SYN_RESENDS) {
      this.fail('UTP_CONNECT_TIMEOUT');
      return;
    }
    this.numTimeouts++;
    this.sendHandshake(now);
  }

  private retransmitTimeout(now: number): void {
    if (this.numTimeouts >= MAX_TIMEOUTS) {
      this.fail('UTP_TIMEOUT');
      return;
    }
    this.numTimeouts++;
    this.ledbat.onTimeout(this.mss);
    this.out.allLost();
    this.timeoutAt = now + this.rto;
    this.probe = true;
    this.resendLost(now);
    this.probe = false;
  }

  private maybeFinish(now: number): void {
    if (
      this.state === CONNECTED &&
      this.finAckedAt >= 0 &&
      this.recv.eofReached &&
      this.recv.backlogBytes === 0
    ) {
      this.lingerUntil = now + LINGER_MS;
      this.close(undefined, true);
    }
  }

  private fail(code: UtpFailure, detail?: string): void {
    this.close(new UtpConnectionError(code, detail), false);
  }

  /**
   * Ends the connection; `linger` keeps it answering a resent FIN for a while. A half-open
   * connection that never heard from its initiator again closes `silent`ly (it was never
   * handed out).
   */
  private close(error: Error | undefined, linger: boolean, silent = false): void {
    if (this.state === CLOSED) return;
    this.state = CLOSED;
    if (!linger) this.lingerUntil = Number.NEGATIVE_INFINITY;
    this.queue.clear();
    this.packets.clear();
    this.handshake = undefined;
    if (!silent) this.sink.closed(error);
  }
}

const EMPTY = new Uint8Array(0);
