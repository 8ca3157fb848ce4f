const MIN_PIECE = 16 * 1024;
const MAX_PIECE = 16 * 1024 * 1024;
const TARGET_PIECES = 1500;

/**
 * A piece length for content of `totalBytes`: the smallest power of two from 16 KiB to 16 MiB
 * that keeps the piece count near 1,500 or below, so the torrent stays small while pieces stay
 * short enough to spread quickly through a swarm.
 */
export function choosePieceLength(totalBytes: number): number {
  let length = MIN_PIECE;
  while (length < MAX_PIECE && totalBytes / length > TARGET_PIECES) length *= 2;
  return length;
}
