import { Readable } from 'node:stream';
import type { PieceReader } from './piece-reader.js';

/** Bytes a stream buffers ahead of its consumer (more is back-pressure on the reader). */
const HIGH_WATER_MARK = 512 * 1024;

/**
 * A Node `Readable` over a {@link PieceReader}, for library users who pipe torrents into
 * players, files or HTTP responses. Destroying it closes the reader, which cancels its urgency.
 */
export function toReadable(reader: PieceReader): Readable {
  return new Readable({
    highWaterMark: HIGH_WATER_MARK,
    read(this: Readable) {
      reader.read().then(
        (chunk) => this.push(chunk ?? null),
        (error: unknown) => this.destroy(error as Error),
      );
    },
    destroy(error, callback) {
      reader.close();
      callback(error);
    },
  });
}
