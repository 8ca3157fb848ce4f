import { sha256Pair } from './hash.js';
import {
  HASH_BYTES,
  MERKLE_BLOCK_BYTES,
  nextPowerOfTwo,
  parentLevel,
  zeroSubtreeRoot,
} from './merkle.js';

/** The most hashes one BEP 52 hash request may ask for ("SHOULD NOT be greater than 512"). */
export const MAX_HASHES_PER_REQUEST = 512;

/** log2 of `n` when `n` is a power of two (1, 2, 4, …), else -1. */
export function log2Exact(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) return -1;
  let k = 0;
  for (let p = 1; p < n; p *= 2) k++;
  return 2 ** k === n ? k : -1;
}

/**
 * A v2 merkle tree seen from one of its layers: the nodes of that layer (fewer than the tree is
 * wide) completed on the right with `pad` — the value a node has when it covers only data past
 * the end of the file (a zero leaf for the block layer, the root of a zero subtree for the piece
 * layer). Every node above is computed once, so any node or uncle can be looked up for proofs.
 */
export class PaddedMerkleTree {
  /** Layers above the base layer; the root is at this height. */
  readonly height: number;
  /** Nodes in the base layer once padded (a power of two). */
  readonly width: number;
  /** `levels[h]`: the nodes at height `h` that cover some real data. */
  private readonly levels: Buffer[] = [];
  /** `pads[h]`: the value of a node at height `h` that covers only padding. */
  private readonly pads: Buffer[] = [];

  /**
   * @param base the layer's real nodes, 32 bytes each, at most `width` of them
   * @param width the padded layer width, a power of two
   * @param pad the value of a missing node in the base layer
   */
  constructor(base: Uint8Array, width: number, pad: Uint8Array) {
    const height = log2Exact(width);
    if (height < 0 || base.length % HASH_BYTES !== 0 || base.length / HASH_BYTES > width) {
      throw new RangeError('a padded merkle tree needs at most `width` (a power of two) nodes');
    }
    this.height = height;
    this.width = width;
    let level: Buffer = Buffer.from(base.buffer, base.byteOffset, base.byteLength);
    let padNode: Buffer = Buffer.from(pad);
    this.levels.push(level);
    this.pads.push(padNode);
    for (let h = 1; h <= height; h++) {
      level = parentLevel(level, padNode);
      padNode = sha256Pair(padNode, padNode);
      this.levels.push(level);
      this.pads.push(padNode);
    }
  }

  /** The tree's root. */
  get root(): Buffer {
    return this.node(this.height, 0);
  }

  /** The node at `height` above the base layer and `position` from the left. */
  node(height: number, position: number): Buffer {
    const level = this.levels[height];
    if (level === undefined) throw new RangeError(`no layer ${height} in a tree of ${this.height}`);
    if (position < level.length / HASH_BYTES) {
      return level.subarray(position * HASH_BYTES, (position + 1) * HASH_BYTES);
    }
    return this.pads[height]!;
  }
}

/** The fields of a hash request that shape its answer (BEP 52). */
export interface HashRange {
  /** Offset, in hashes, of the first requested hash in the base layer. */
  readonly index: number;
  /** Hashes requested from the base layer: a power of two ≥ 2. */
  readonly length: number;
  /** Ancestor layers the proof covers, counting the ones the range itself fills. */
  readonly proofLayers: number;
}

/**
 * How many uncle hashes follow the base hashes in a `hashes` message: the first
 * log2(length) − 1 proof layers are inside the requested range and are omitted (BEP 52).
 */
export function uncleCount(length: number, proofLayers: number): number {
  return Math.max(0, proofLayers - log2Exact(length) + 1);
}

/**
 * The payload of a `hashes` message: the `length` base hashes from `index`, then one uncle per
 * remaining proof layer, lowest first. `nodeAt(h, p)` gives the node at height `h` above the
 * base layer and position `p` (padding included); the caller has checked the range.
 */
export function buildHashes(
  nodeAt: (height: number, position: number) => Uint8Array,
  r: HashRange,
): Buffer {
  const k = log2Exact(r.length);
  const uncles = uncleCount(r.length, r.proofLayers);
  const out = Buffer.allocUnsafe((r.length + uncles) * HASH_BYTES);
  for (let i = 0; i < r.length; i++) out.set(nodeAt(0, r.index + i), i * HASH_BYTES);
  let position = Math.floor(r.index / r.length);
  for (let j = 0; j < uncles; j++) {
    const sibling = position % 2 === 0 ? position + 1 : position - 1;
    out.set(nodeAt(k + j, sibling), (r.length + j) * HASH_BYTES);
    position = Math.floor(position / 2);
  }
  return out;
}

/**
 * The tree node a `hashes` payload proves: the base hashes folded into the root of their
 * subtree, then combined with each uncle in turn. `height` is how far above the base layer that
 * node is; `position` its place in that layer. Undefined when the payload's size does not
 * match the range (or the range is malformed).
 */
export function provenNode(
  hashes: Uint8Array,
  r: HashRange,
): { readonly node: Buffer; readonly height: number; readonly position: number } | undefined {
  const k = log2Exact(r.length);
  if (k < 1 || r.index % r.length !== 0) return undefined;
  const uncles = uncleCount(r.length, r.proofLayers);
  if (hashes.length !== (r.length + uncles) * HASH_BYTES) return undefined;
  let level: Buffer = Buffer.from(hashes.buffer, hashes.byteOffset, r.length * HASH_BYTES);
  for (let count = r.length; count > 1; count /= 2) {
    const next = Buffer.allocUnsafe((count / 2) * HASH_BYTES);
    for (let i = 0; i < count / 2; i++) {
      sha256Pair(
        level.subarray(2 * i * HASH_BYTES, (2 * i + 1) * HASH_BYTES),
        level.subarray((2 * i + 1) * HASH_BYTES, (2 * i + 2) * HASH_BYTES),
      ).copy(next, i * HASH_BYTES);
    }
    level = next;
  }
  let node: Buffer = level;
  let position = r.index / r.length;
  for (let j = 0; j < uncles; j++) {
    const at = (r.length + j) * HASH_BYTES;
    const uncle = hashes.subarray(at, at + HASH_BYTES);
    node = position % 2 === 0 ? sha256Pair(node, uncle) : sha256Pair(uncle, node);
    position = Math.floor(position / 2);
  }
  return { node, height: k + uncles, position };
}

/** The shape of one file's v2 merkle tree, as hash requests address it. */
export interface FileTreeShape {
  /** 16 KiB blocks in the file (the real leaves). */
  readonly blocks: number;
  /** Layers above the leaves: log2 of the padded leaf count. */
  readonly height: number;
  /** Height of the piece layer above the leaves: log2(piece length / 16 KiB). */
  readonly pieceLayer: number;
  /** Pieces the file spans. */
  readonly pieces: number;
  /** Whether the file has a piece layer of its own (it is longer than one piece). */
  readonly hasPieceLayer: boolean;
}

/** The tree shape of a non-empty file of `length` bytes in a torrent with `pieceLength`. */
export function fileTreeShape(length: number, pieceLength: number): FileTreeShape {
  const blocks = Math.ceil(length / MERKLE_BLOCK_BYTES);
  return {
    blocks,
    height: log2Exact(nextPowerOfTwo(blocks)),
    pieceLayer: log2Exact(pieceLength / MERKLE_BLOCK_BYTES),
    pieces: Math.ceil(length / pieceLength),
    hasPieceLayer: length > pieceLength,
  };
}

/**
 * Why a hash request cannot be answered for a file of this shape, or undefined when it is well
 * formed: base layer the leaves or the piece layer, length a power of two in [2, 512] (up to a
 * piece's blocks for leaves), index a multiple of length, the range inside the padded layer, and
 * no proof layer above the root.
 */
export function hashRequestProblem(
  shape: FileTreeShape,
  r: HashRange & { readonly baseLayer: number },
): string | undefined {
  if (r.baseLayer !== 0 && !(shape.hasPieceLayer && r.baseLayer === shape.pieceLayer))
    return `base layer ${r.baseLayer} is neither the leaves nor the piece layer`;
  // Leaves are asked for a piece at a time, which may be more than 512 with large pieces.
  const max =
    r.baseLayer === 0
      ? Math.max(MAX_HASHES_PER_REQUEST, 2 ** shape.pieceLayer)
      : MAX_HASHES_PER_REQUEST;
  if (log2Exact(r.length) < 1 || r.length > max)
    return `length ${r.length} is not a power of two in [2, ${max}]`;
  if (r.index % r.length !== 0) return `index ${r.index} is not a multiple of ${r.length}`;
  const layers = shape.height - r.baseLayer;
  if (layers < 1 || r.index + r.length > 2 ** layers)
    return `hashes ${r.index}+${r.length} lie outside a layer of ${2 ** Math.max(0, layers)}`;
  if (r.proofLayers >= layers) return `${r.proofLayers} proof layers reach above the root`;
  return undefined;
}

/** The piece layer's padding node: the root of a piece-sized subtree of zero leaves. */
export function pieceLayerPad(pieceLength: number): Buffer {
  return zeroSubtreeRoot(pieceLength / MERKLE_BLOCK_BYTES);
}
