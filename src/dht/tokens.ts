import { createHash } from 'node:crypto';
import type { RandomSource } from '../runtime/runtime.js';
import { keepBytes } from '../shared/kept-bytes.js';

/** How often the token secret changes (BEP 5: tokens are good for up to 10 minutes). */
export const TOKEN_ROTATE_MS = 5 * 60_000;

/**
 * Write tokens for announce_peer and put (BEP 5, BEP 44): a hash of the requester's address and
 * a secret that rotates every 5 minutes; the current and previous secrets are accepted, so a
 * token is valid for 5–10 minutes and only at the address it was given to.
 */
export class TokenIssuer {
  private current: Buffer;
  private previous: Buffer;
  private rotatedAt: number;

  constructor(
    private readonly random: RandomSource,
    private readonly now: () => number,
  ) {
    this.current = keepBytes(random.bytes(16));
    this.previous = keepBytes(random.bytes(16));
    this.rotatedAt = now();
  }

  issue(host: string): Buffer {
    this.rotate();
    return this.tokenFor(this.current, host);
  }

  valid(token: Uint8Array, host: string): boolean {
    this.rotate();
    const t = Buffer.from(token);
    return (
      t.equals(this.tokenFor(this.current, host)) || t.equals(this.tokenFor(this.previous, host))
    );
  }

  private rotate(): void {
    while (this.now() - this.rotatedAt >= TOKEN_ROTATE_MS) {
      this.previous = this.current;
      this.current = keepBytes(this.random.bytes(16));
      this.rotatedAt += TOKEN_ROTATE_MS;
    }
  }

  private tokenFor(secret: Buffer, host: string): Buffer {
    return createHash('sha1').update(secret).update(host).digest().subarray(0, 8);
  }
}
