import type { ManagedStream } from './connection.js';

/** What a protocol says of the first bytes of a connection. */
export type SniffVerdict = 'yes' | 'no' | 'more';

/**
 * A protocol that can be spoken on the node's listening port. `sniff` sees every byte received
 * so far (at least one) and answers `yes` once it is sure and has all it needs, `no` when the
 * bytes cannot be its, `more` to wait for more.
 */
export interface InboundProtocol {
  readonly name: string;
  sniff(first: Buffer): SniffVerdict;
  /**
   * Takes the connection over; `first` (owned by the callee) is everything received so far,
   * which the protocol must treat as the start of its stream.
   */
  accept(stream: ManagedStream, first: Buffer): void;
}

/** Bytes read before giving up on recognising a connection. */
const MAX_SNIFF_BYTES = 1024;

/**
 * Sniffs the first bytes of every accepted connection and hands it to the protocol they
 * belong to, so BitTorrent, MSE/PE and the shoal secure channel share one port. Protocols are
 * asked in registration order; the fallback (MSE/PE, whose first bytes are random) is asked
 * only when every other protocol has said no. A connection nobody claims within
 * `MAX_SNIFF_BYTES` is closed; the connection manager's pending timeout closes one that says
 * too little.
 */
export class InboundDemux {
  private readonly protocols: InboundProtocol[] = [];
  private fallback: InboundProtocol | undefined;
  /** Connections by the protocol that took them, and those nobody recognised. */
  readonly counts = new Map<string, number>();

  /** Adds a protocol; `fallback` makes it the one for bytes no other protocol recognises. */
  register(protocol: InboundProtocol, options: { fallback?: boolean } = {}): void {
    if (options.fallback) this.fallback = protocol;
    else this.protocols.push(protocol);
  }

  /** Reads from `stream` until a protocol claims it. */
  handle(stream: ManagedStream): void {
    let first = Buffer.alloc(0);
    stream.onData((chunk) => {
      // The stream lends its chunks only for the call: keep a copy.
      first = Buffer.concat([first, chunk]);
      const protocol = this.choose(first);
      if (protocol === 'wait') {
        if (first.length >= MAX_SNIFF_BYTES) this.reject(stream);
        return;
      }
      if (!protocol) {
        this.reject(stream);
        return;
      }
      this.counts.set(protocol.name, (this.counts.get(protocol.name) ?? 0) + 1);
      protocol.accept(stream, first);
    });
  }

  private choose(first: Buffer): InboundProtocol | 'wait' | undefined {
    let waiting = false;
    for (const p of this.protocols) {
      const v = p.sniff(first);
      if (v === 'yes') return p;
      if (v === 'more') waiting = true;
    }
    if (waiting) return 'wait';
    if (!this.fallback) return undefined;
    const v = this.fallback.sniff(first);
    return v === 'yes' ? this.fallback : v === 'more' ? 'wait' : undefined;
  }

  private reject(stream: ManagedStream): void {
    this.counts.set('unrecognised', (this.counts.get('unrecognised') ?? 0) + 1);
    stream.onData(() => {});
    stream.destroy();
  }
}
