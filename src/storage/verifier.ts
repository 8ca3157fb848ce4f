import type { PieceHasher } from '../crypto/hash-job.js';
import type { PieceLayout } from './layout.js';

/**
 * Checks pieces against the torrent's hashes on the worker pool. Takes the piece as a whole
 * `ArrayBuffer`, which travels to the worker and back without a copy.
 */
export class PieceVerifier {
  constructor(
    private readonly layout: PieceLayout,
    private readonly pool: PieceHasher,
  ) {}

  /** Resolves with the verdict and the buffer (handed back by the worker). */
  async verify(index: number, buffer: ArrayBuffer): Promise<{ ok: boolean; buffer: ArrayBuffer }> {
    const check = this.layout.check(index);
    if (check === undefined) return { ok: false, buffer };
    const pieceLength = this.layout.pieceLength;
    if (check.kind === 'v1') {
      const r = await this.pool.run({
        buffer,
        length: check.length,
        pieceLength,
        v1Length: check.length,
      });
      return { ok: Buffer.from(r.v1!).equals(check.hash), buffer: r.buffer };
    }
    const r = await this.pool.run({
      buffer,
      length: check.dataLength,
      pieceLength,
      v2Width: check.width,
    });
    return { ok: Buffer.from(r.v2!).equals(check.hash), buffer: r.buffer };
  }
}
