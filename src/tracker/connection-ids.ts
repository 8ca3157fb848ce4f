import { createHash } from 'node:crypto';

const MINUTE_MS = 60_000;
/** Addresses whose ids are remembered for the current minute (about 150 bytes each). */
const MAX_CACHED = 100_000;

/**
 * UDP tracker connection ids (BEP 15) that a spoofed source cannot use: a keyed hash of the
 * client's address, port and the minute of issue, valid for that minute and the two after, as
 * BEP 15 asks. Nothing is stored per connection; the three ids an address may present are
 * cached for the current minute, so checking an announce costs a map lookup rather than up to
 * three SHA-256 runs (the cache is cleared every minute and bounded).
 */
export class ConnectionIds {
  private cacheMinute = Number.NaN;
  private readonly cache = new Map<string, readonly bigint[]>();

  constructor(private readonly secret: Uint8Array) {}

  /** The id to hand a client that sent `connect` now. */
  issue(address: string, port: number, nowMs: number): bigint {
    return this.idsFor(address, port, nowMs)[0]!;
  }

  /** True when `id` was issued to this address and port within the last three minutes. */
  valid(id: bigint, address: string, port: number, nowMs: number): boolean {
    return this.idsFor(address, port, nowMs).includes(id);
  }

  private idsFor(address: string, port: number, nowMs: number): readonly bigint[] {
    const minute = Math.floor(nowMs / MINUTE_MS);
    if (minute !== this.cacheMinute) {
      this.cache.clear();
      this.cacheMinute = minute;
    }
    const key = `${address}|${port}`;
    let ids = this.cache.get(key);
    if (ids === undefined) {
      ids = [0, 1, 2].map((back) => this.mac(key, minute - back));
      if (this.cache.size < MAX_CACHED) this.cache.set(key, ids);
    }
    return ids;
  }

  private mac(key: string, minute: number): bigint {
    return createHash('sha256')
      .update(this.secret)
      .update(`${key}|${minute}`)
      .digest()
      .readBigUInt64BE(0);
  }
}
