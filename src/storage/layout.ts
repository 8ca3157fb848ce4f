import { HASH_BYTES, MERKLE_BLOCK_BYTES, nextPowerOfTwo } from '../crypto/merkle.js';
import type { Metainfo, TorrentFile } from '../metainfo/types.js';

/** A stretch of the torrent's byte stream that lies in one file. */
export interface Segment {
  readonly fileIndex: number;
  readonly fileOffset: number;
  readonly length: number;
  /** Padding bytes are zeros that exist in no file. */
  readonly padding: boolean;
}

/** How to check one piece against the torrent's hashes. */
export type PieceCheck =
  | { readonly kind: 'v1'; readonly hash: Buffer; readonly length: number }
  | {
      readonly kind: 'v2';
      readonly hash: Buffer;
      readonly dataLength: number;
      readonly width: number;
    };

/**
 * Maps pieces to files: every torrent, v1, v2 or hybrid, is one stream of files back to back
 * (padding included), and pieces are fixed-size slices of it. Also says how each piece is
 * verified: SHA-1 for v1 and hybrids, the v2 piece layer (or the file's root) for v2 only.
 */
export class PieceLayout {
  readonly pieceLength: number;
  readonly pieceCount: number;
  readonly streamLength: number;
  readonly files: readonly TorrentFile[];
  private readonly starts: number[];
  /** v2 piece layers by hex pieces root: the torrent's own, then those verified since. */
  private readonly layers: Map<string, Buffer>;

  constructor(private readonly meta: Metainfo) {
    this.pieceLength = meta.pieceLength;
    this.pieceCount = meta.pieceCount;
    this.streamLength = meta.streamLength;
    this.files = meta.files;
    this.starts = meta.files.map((f) => f.offset);
    this.layers = new Map(meta.pieceLayers);
  }

  /** The piece layer of the file with this pieces root, when known. */
  pieceLayer(root: Buffer): Buffer | undefined {
    return this.layers.get(root.toString('hex'));
  }

  /**
   * Adds a piece layer that did not come with the torrent (a magnet link's info dictionary has
   * none): the caller has verified it against the file's pieces root (BEP 52 hash exchange or
   * resume data), so the file's pieces can be checked from now on.
   */
  addPieceLayer(root: Buffer, layer: Buffer): void {
    this.layers.set(root.toString('hex'), layer);
  }

  /** Piece layers added by {@link addPieceLayer} (what resume data keeps), by hex root. */
  addedPieceLayers(): Map<string, Buffer> {
    const out = new Map<string, Buffer>();
    for (const [root, layer] of this.layers)
      if (!this.meta.pieceLayers.has(root)) out.set(root, layer);
    return out;
  }

  /** Whether piece `index` can be verified now (a v2 file's piece layer may still be missing). */
  canVerify(index: number): boolean {
    return this.check(index) !== undefined;
  }

  /** Bytes in piece `index` (the last one may be short). */
  pieceSize(index: number): number {
    return Math.min(this.pieceLength, this.streamLength - index * this.pieceLength);
  }

  /** The file segments covering `[offset, offset + length)` of the stream. */
  segments(offset: number, length: number): Segment[] {
    const out: Segment[] = [];
    let i = this.fileAt(offset);
    let pos = offset;
    const end = offset + length;
    while (pos < end && i < this.files.length) {
      const f = this.files[i]!;
      const fileEnd = f.offset + f.length;
      if (fileEnd > pos) {
        const take = Math.min(end, fileEnd) - pos;
        out.push({ fileIndex: i, fileOffset: pos - f.offset, length: take, padding: f.padding });
        pos += take;
      }
      i++;
    }
    return out;
  }

  /** Pieces `[first, last]` that hold bytes of file `fileIndex` (none for an empty file). */
  piecesOfFile(fileIndex: number): [number, number] | undefined {
    const f = this.files[fileIndex]!;
    if (f.length === 0) return undefined;
    return [
      Math.floor(f.offset / this.pieceLength),
      Math.floor((f.offset + f.length - 1) / this.pieceLength),
    ];
  }

  /** How to verify piece `index`; undefined when the needed v2 hashes are not known yet. */
  check(index: number): PieceCheck | undefined {
    if (this.meta.pieces) {
      return {
        kind: 'v1',
        hash: this.meta.pieces.subarray(index * 20, index * 20 + 20),
        length: this.pieceSize(index),
      };
    }
    const start = index * this.pieceLength;
    const f = this.files[this.fileAt(start)]!;
    if (f.padding || f.piecesRoot === undefined) return undefined;
    const k = (start - f.offset) / this.pieceLength;
    const dataLength = Math.min(this.pieceLength, f.length - k * this.pieceLength);
    if (f.length <= this.pieceLength) {
      const width = nextPowerOfTwo(Math.ceil(f.length / MERKLE_BLOCK_BYTES));
      return { kind: 'v2', hash: f.piecesRoot, dataLength, width };
    }
    const layer = this.layers.get(f.piecesRoot.toString('hex'));
    if (layer === undefined) return undefined;
    return {
      kind: 'v2',
      hash: layer.subarray(k * HASH_BYTES, (k + 1) * HASH_BYTES),
      dataLength,
      width: this.pieceLength / MERKLE_BLOCK_BYTES,
    };
  }

  /** Index of the file containing stream offset `offset` (the first one that ends past it). */
  private fileAt(offset: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    // Skip empty files that start at the same offset.
    while (lo < this.files.length - 1 && this.files[lo]!.offset + this.files[lo]!.length <= offset)
      lo++;
    return lo;
  }
}
