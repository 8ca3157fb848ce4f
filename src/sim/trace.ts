import { createHash, type Hash } from 'node:crypto';

const BUFFER_BYTES = 64 * 1024;

/**
 * The running SHA-256 of everything the simulator did: each event's time, kind and owner, and
 * what the network carried. Two runs with the same seed must end with the same digest; records
 * are packed into a buffer and hashed in large chunks, so tracing costs little per event.
 */
export class Trace {
  private readonly hash: Hash = createHash('sha256');
  private readonly buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  private at = 0;
  private finished: string | undefined;
  /** Records written so far. */
  records = 0;

  /** Adds one event: virtual time, kind and owner. */
  event(time: number, kind: number, owner: number): void {
    if (this.at + 16 > BUFFER_BYTES) this.flush();
    this.buffer.writeDoubleLE(time, this.at);
    this.buffer.writeUInt32LE(kind, this.at + 8);
    this.buffer.writeUInt32LE(owner >>> 0, this.at + 12);
    this.at += 16;
    this.records++;
  }

  /** Adds two integers of detail (addresses, sizes) to the current event. */
  note(a: number, b: number): void {
    if (this.at + 8 > BUFFER_BYTES) this.flush();
    this.buffer.writeUInt32LE(a >>> 0, this.at);
    this.buffer.writeUInt32LE(b >>> 0, this.at + 4);
    this.at += 8;
  }

  /** Adds raw bytes (a datagram's payload). */
  bytes(data: Uint8Array): void {
    if (data.length > 1024) {
      this.flush();
      this.hash.update(data);
      return;
    }
    if (this.at + data.length > BUFFER_BYTES) this.flush();
    this.buffer.set(data, this.at);
    this.at += data.length;
  }

  /** Adds a string (scenario milestones, results). */
  text(s: string): void {
    this.bytes(Buffer.from(s, 'utf8'));
  }

  /** The hex SHA-256 of the whole trace; the trace cannot grow after this. */
  digest(): string {
    if (this.finished === undefined) {
      this.flush();
      this.finished = this.hash.digest('hex');
    }
    return this.finished;
  }

  private flush(): void {
    if (this.at === 0) return;
    this.hash.update(this.buffer.subarray(0, this.at));
    this.at = 0;
  }
}
