import type { Bitfield } from '../codec/bitfield.js';
import { blockHashes, HASH_BYTES, nextPowerOfTwo } from '../crypto/merkle.js';
import {
  buildHashes,
  type FileTreeShape,
  fileTreeShape,
  hashRequestProblem,
  MAX_HASHES_PER_REQUEST,
  PaddedMerkleTree,
  pieceLayerPad,
  provenNode,
} from '../crypto/merkle-proof.js';
import { ShoalError } from '../errors.js';
import type { TorrentFile } from '../metainfo/types.js';
import type { Clock } from '../runtime/runtime.js';
import { TokenBucket } from '../shared/rate.js';
import type { PieceLayout } from '../storage/layout.js';
import type { TorrentStorage } from '../storage/torrent-storage.js';
import { WireError } from '../wire/errors.js';
import type { HashRef } from '../wire/messages.js';
import type { PeerSession } from './peer-session.js';

/**
 * A peer sent a `hashes` message we cannot accept: one we never asked for, or (`forged`) one
 * whose proof does not lead to the file's pieces root — provably bad data from that peer.
 */
export class HashesInvalidError extends ShoalError {
  constructor(
    message: string,
    /** True when the hashes failed their merkle proof (not merely unexpected). */
    readonly forged: boolean,
  ) {
    super('HASHES_INVALID', `bad hashes from peer: ${message}`);
  }
}

/** What the hash exchange needs from its torrent. */
export interface HashExchangeDeps {
  readonly layout: PieceLayout;
  readonly storage: TorrentStorage;
  readonly have: Bitfield;
  readonly clock: Clock;
  /** Pieces are checked against piece layers (v2-only), so missing layers are fetched. */
  readonly fetchLayers: boolean;
  /** Torrent-wide and node-wide upload limits: hashes are upload like blocks. */
  readonly bucket: TokenBucket;
  readonly globalBucket: TokenBucket;
  /** Hash requests a peer may have turned down in a row before it counts as a flood. */
  readonly maxIncomingRequests: number;
  /** A file's piece layer arrived and verified: its pieces can be requested now. */
  readonly layerAdded: (root: Buffer) => void;
}

/** What the hash exchange of one torrent has done, for stats and `--json` progress. */
export interface HashExchangeStats {
  /** Hash requests of peers answered with hashes. */
  readonly served: number;
  /** Hash requests of peers refused (hash reject). */
  readonly refused: number;
  /** Piece layers fetched from peers and verified against their roots. */
  readonly layersFetched: number;
}

/** Our hash requests a peer may have unanswered at once. */
const MAX_ASKED_PER_PEER = 4;
/** After this long without an answer, another peer may be asked for the same hashes. */
const ASK_TIMEOUT_MS = 20_000;
/** A peer that refused some hashes is not asked for them again for this long. */
const REFUSED_BACKOFF_MS = 10_000;
/** Bytes of hashes one peer may take per second (burst: one second's worth). */
const PEER_HASH_BYTES_PER_SECOND = 1024 * 1024;
/** Requests a peer may have waiting for its socket to drain; more are refused. */
const MAX_WAITING_PER_PEER = 16;
/** Bytes of a `hashes` message before its hashes: length, id, root and four numbers. */
const HASHES_HEADER_BYTES = 4 + 1 + 32 + 16;
/** Upload charged per reply: like one block, however many hashes it carries. */
const MAX_CHARGE = 16 * 1024;
/** Pieces read from disk at once to answer requests for leaf hashes, per peer and in all. */
const MAX_LEAF_READS_PER_PEER = 2;
const MAX_LEAF_READS = 8;
/**
 * Leaf hashes cost a piece read and hashed for 32 bytes a leaf, so they are rationed: a peer
 * gets one piece's worth every 2 s, the torrent hashes at most 16 MiB/s for all of them.
 * (Peers ask for leaves only after a piece failed its check, which is rare.)
 */
const LEAF_SECONDS_PER_PIECE = 2;
const LEAF_BYTES_PER_SECOND = 16 * 1024 * 1024;
/** Piece-layer trees kept for serving proofs (each about the size of its layer). */
const TREE_CACHE_ENTRIES = 32;
const ZERO_LEAF = Buffer.alloc(HASH_BYTES);

/** A file whose hashes we can serve: its root, tree shape and first piece. */
interface ServedFile {
  readonly file: TorrentFile;
  readonly root: Buffer;
  readonly shape: FileTreeShape;
  readonly firstPiece: number;
}

/** A piece layer being fetched: requested in chunks of up to 512 hashes. */
interface LayerFetch {
  readonly served: ServedFile;
  readonly layer: Buffer;
  /** Per chunk: verified. */
  readonly got: Uint8Array;
  /** Per chunk: when the request in flight for it times out (0 = none). */
  readonly askedUntil: Float64Array;
  remaining: number;
}

/** Hash-exchange state of one peer. */
interface PeerHashes {
  /** Our requests it has not answered, exactly as sent. */
  readonly asked: HashRef[];
  /** Chunks it refused (key → when), asked elsewhere for a while. */
  readonly refused: Map<string, number>;
  /** Its requests we turned down since we last answered one. */
  refusedInARow: number;
  /** Its leaf-hash requests being read from disk. */
  reading: number;
  /** Its requests that arrived while its socket was full, answered when it drains. */
  readonly waiting: HashRef[];
  readonly budget: TokenBucket;
  /** Piece bytes it may have us read and hash for leaf hashes. */
  readonly leafBudget: TokenBucket;
}

/**
 * BEP 52 hash exchange for one torrent. Serving: answers `hash request`s for a file's piece
 * layer (from the torrent or fetched) and for the leaf hashes of a piece we have (hashed from
 * the piece on disk), with the uncle hashes up to the file's root; anything malformed, unknown
 * or over the limits gets a `hash reject`. Fetching: a v2 torrent added by magnet link has no
 * piece layers, so they are asked of peers that have pieces of the file, checked against the
 * file's pieces root through the proof, and only then used to verify pieces.
 */
export class HashExchange {
  private readonly byRoot = new Map<string, ServedFile>();
  private readonly peers = new Map<PeerSession, PeerHashes>();
  private readonly trees = new Map<string, PaddedMerkleTree>();
  private readonly pad: Buffer;
  private fetches: Map<string, LayerFetch> | undefined;
  /** Per piece: 1 while its file's piece layer is missing. */
  private blocked: Uint8Array | undefined;
  private reading = 0;
  private readonly leafBudget: TokenBucket;
  private served = 0;
  private refused = 0;
  private layersFetched = 0;

  constructor(private readonly deps: HashExchangeDeps) {
    const { layout } = deps;
    this.pad = pieceLayerPad(layout.pieceLength);
    this.leafBudget = new TokenBucket(
      deps.clock,
      LEAF_BYTES_PER_SECOND,
      Math.max(1, (2 * layout.pieceLength) / LEAF_BYTES_PER_SECOND),
    );
    for (const file of layout.files) {
      if (file.padding || file.piecesRoot === undefined || file.length === 0) continue;
      const key = file.piecesRoot.toString('hex');
      if (this.byRoot.has(key)) continue; // identical files share one tree
      this.byRoot.set(key, {
        file,
        root: file.piecesRoot,
        shape: fileTreeShape(file.length, layout.pieceLength),
        firstPiece: file.offset / layout.pieceLength,
      });
    }
  }

  /** Counts of what was served, refused and fetched. */
  stats(): HashExchangeStats {
    return { served: this.served, refused: this.refused, layersFetched: this.layersFetched };
  }

  // ---------------------------------------------------------------- serving

  /**
   * Answers a peer's `hash request` with `hashes` or `hash reject`.
   * @throws {WireError} when the peer keeps asking for what it is refused (a flood)
   */
  onRequest(session: PeerSession, r: HashRef): void {
    const peer = this.peer(session);
    if (session.congested) {
      // Its socket is full (we are sending it blocks): answer once it drains, as BEP 52 asks
      // hash requests to be paced like piece requests, rather than pile hashes up meanwhile.
      if (peer.waiting.length < MAX_WAITING_PER_PEER)
        peer.waiting.push({ ...ref(r), piecesRoot: Buffer.from(r.piecesRoot) });
      else this.refuse(session, peer, r, true);
      return;
    }
    this.answer(session, peer, r, true);
  }

  /** The peer's socket drained: answers the requests that waited for it. */
  drained(session: PeerSession): void {
    const peer = this.peers.get(session);
    while (peer && peer.waiting.length > 0 && !session.congested && !session.closed) {
      this.answer(session, peer, peer.waiting.shift()!, false);
    }
  }

  /**
   * Sends `hashes` or `hash reject` for one request. `count` makes refusals count towards the
   * flood limit (then this may throw {@link WireError}).
   */
  private answer(session: PeerSession, peer: PeerHashes, r: HashRef, count: boolean): void {
    const served = this.byRoot.get(hex(r.piecesRoot));
    if (served === undefined || hashRequestProblem(served.shape, r) !== undefined) {
      this.refuse(session, peer, r, count);
      return;
    }
    // With 16 KiB pieces the piece layer is the leaf layer: served from the layer either way.
    if (!(served.shape.hasPieceLayer && r.baseLayer === served.shape.pieceLayer)) {
      this.serveLeaves(session, peer, served, r, count);
      return;
    }
    const tree = this.layerTree(served);
    if (tree === undefined) {
      this.refuse(session, peer, r, count);
      return;
    }
    this.reply(
      session,
      peer,
      r,
      buildHashes((h, p) => tree.node(h, p), r),
      count,
    );
  }

  /**
   * Leaf hashes of one piece we have, hashed from its data on disk, with uncles up to the root.
   * @throws {WireError} like {@link onRequest}
   */
  private serveLeaves(
    session: PeerSession,
    peer: PeerHashes,
    served: ServedFile,
    r: HashRef,
    count: boolean,
  ): void {
    const { shape } = served;
    const leavesPerPiece = 2 ** shape.pieceLayer;
    const k = Math.floor(r.index / leavesPerPiece); // the piece, counted within the file
    const upper = shape.hasPieceLayer ? this.layerTree(served) : undefined;
    const size = Math.min(
      this.deps.layout.pieceLength,
      served.file.length - k * this.deps.layout.pieceLength,
    );
    if (
      r.length > leavesPerPiece || // we hash one piece at a time
      k >= shape.pieces ||
      !this.deps.have.has(served.firstPiece + k) ||
      (shape.hasPieceLayer && upper === undefined) ||
      peer.reading >= MAX_LEAF_READS_PER_PEER ||
      this.reading >= MAX_LEAF_READS ||
      peer.leafBudget.delayFor(size) > 0 ||
      this.leafBudget.delayFor(size) > 0
    ) {
      this.refuse(session, peer, r, count);
      return;
    }
    peer.leafBudget.tryTake(size);
    this.leafBudget.tryTake(size);
    peer.reading++;
    this.reading++;
    void this.pieceProof(served, k, upper)
      .then(
        (nodeAt) => {
          if (session.closed) return;
          if (nodeAt === undefined) this.refuse(session, peer, r, false);
          else this.reply(session, peer, r, buildHashes(nodeAt, r), false);
        },
        () => {
          if (!session.closed) this.refuse(session, peer, r, false);
        },
      )
      .finally(() => {
        peer.reading--;
        this.reading--;
      });
  }

  /**
   * Node lookup for proofs about the leaves of piece `k` of a file: the piece's own subtree,
   * hashed from disk, below the piece layer's tree. Undefined when the data no longer hashes
   * to what was verified (the file changed on disk): such hashes are not served.
   */
  private async pieceProof(
    served: ServedFile,
    k: number,
    upper: PaddedMerkleTree | undefined,
  ): Promise<((height: number, position: number) => Buffer) | undefined> {
    const pieceLength = this.deps.layout.pieceLength;
    const offset = k * pieceLength;
    const data = await this.deps.storage.read(
      served.file.offset + offset,
      Math.min(pieceLength, served.file.length - offset),
    );
    const width = upper ? 2 ** served.shape.pieceLayer : 2 ** served.shape.height;
    const lower = new PaddedMerkleTree(blockHashes(data), width, ZERO_LEAF);
    if (!lower.root.equals(upper ? upper.node(0, k) : served.root)) return undefined;
    const first = k * width;
    return (h, p) =>
      h < lower.height || upper === undefined
        ? lower.node(h, p - first / 2 ** h)
        : upper.node(h - lower.height, p);
  }

  /** The merkle tree over a file's piece layer (cached), when the layer is known. */
  private layerTree(served: ServedFile): PaddedMerkleTree | undefined {
    if (!served.shape.hasPieceLayer) return undefined;
    const key = served.root.toString('hex');
    const hit = this.trees.get(key);
    if (hit) {
      this.trees.delete(key);
      this.trees.set(key, hit);
      return hit;
    }
    const layer = this.deps.layout.pieceLayer(served.root);
    if (layer === undefined) return undefined;
    const tree = new PaddedMerkleTree(layer, nextPowerOfTwo(served.shape.pieces), this.pad);
    this.trees.set(key, tree);
    if (this.trees.size > TREE_CACHE_ENTRIES) this.trees.delete(this.trees.keys().next().value!);
    return tree;
  }

  private reply(
    session: PeerSession,
    peer: PeerHashes,
    r: HashRef,
    hashes: Buffer,
    countRefusal: boolean,
  ): void {
    const charge = Math.min(MAX_CHARGE, HASHES_HEADER_BYTES + hashes.length);
    if (
      this.deps.bucket.delayFor(charge) > 0 ||
      this.deps.globalBucket.delayFor(charge) > 0 ||
      !peer.budget.tryTake(hashes.length)
    ) {
      this.refuse(session, peer, r, countRefusal);
      return;
    }
    this.deps.bucket.tryTake(charge);
    this.deps.globalBucket.tryTake(charge);
    peer.refusedInARow = 0;
    this.served++;
    session.wire.sendMessage({ ...ref(r), type: 'hashes', hashes });
  }

  private refuse(session: PeerSession, peer: PeerHashes, r: HashRef, count: boolean): void {
    session.wire.sendMessage({ ...ref(r), type: 'hash-reject' });
    this.refused++;
    if (count && ++peer.refusedInARow > this.deps.maxIncomingRequests)
      throw new WireError('hash request flood');
  }

  // ---------------------------------------------------------------- fetching

  /** Whether piece `index` can be verified now, i.e. may be requested. */
  canVerify(index: number): boolean {
    this.ensureFetches();
    return this.blocked === undefined || this.blocked[index] === 0;
  }

  /** Asks `session` for piece-layer hashes we lack, of files it has pieces of. */
  requestFrom(session: PeerSession): void {
    const fetches = this.ensureFetches();
    if (fetches === undefined || fetches.size === 0) return;
    const bits = session.bits;
    if (bits === undefined || session.closed || session.handshake === undefined) return;
    const peer = this.peer(session);
    const now = this.deps.clock.now();
    for (const fetch of fetches.values()) {
      for (let c = 0; c < fetch.got.length; c++) {
        if (peer.asked.length >= MAX_ASKED_PER_PEER) return;
        if (fetch.got[c] || fetch.askedUntil[c]! > now) continue;
        const key = chunkKey(fetch.served, c);
        const refusedAt = peer.refused.get(key);
        if (refusedAt !== undefined && now - refusedAt < REFUSED_BACKOFF_MS) continue;
        if (!hasPieceIn(bits, fetch.served, c)) continue;
        const r = chunkRequest(fetch.served, c);
        if (peer.asked.some((a) => sameRef(a, r))) continue;
        peer.asked.push(r);
        fetch.askedUntil[c] = now + ASK_TIMEOUT_MS;
        session.wire.sendMessage({ ...r, type: 'hash-request' });
      }
    }
  }

  /**
   * Takes a peer's `hashes`: they must answer one of our requests to it and prove the file's
   * pieces root; then they join the file's piece layer.
   * @throws {HashesInvalidError} for hashes not asked for, or (`forged`) that fail their proof
   */
  onHashes(session: PeerSession, m: HashRef & { readonly hashes: Uint8Array }): void {
    const peer = this.peers.get(session);
    const i = peer === undefined ? -1 : peer.asked.findIndex((a) => sameRef(a, m));
    if (peer === undefined || i < 0)
      throw new HashesInvalidError('hashes we did not ask for', false);
    const [asked] = peer.asked.splice(i, 1) as [HashRef];
    const fetch = this.fetches?.get(hex(asked.piecesRoot));
    const c = asked.index / MAX_HASHES_PER_REQUEST;
    if (fetch === undefined || fetch.got[c]) return; // another peer was faster
    const { shape, root, file } = fetch.served;
    const proven = provenNode(m.hashes, asked);
    if (
      proven === undefined ||
      proven.height !== shape.height - shape.pieceLayer ||
      proven.position !== 0 ||
      !proven.node.equals(root)
    ) {
      fetch.askedUntil[c] = 0;
      throw new HashesInvalidError(
        `piece hashes of "${file.path.join('/')}" do not prove its pieces root`,
        true,
      );
    }
    // The proof pins every hash, padding included: only the real ones are kept.
    const real = Math.min(asked.length, shape.pieces - asked.index);
    fetch.layer.set(m.hashes.subarray(0, real * HASH_BYTES), asked.index * HASH_BYTES);
    fetch.got[c] = 1;
    if (--fetch.remaining > 0) return;
    this.fetches!.delete(root.toString('hex'));
    this.deps.layout.addPieceLayer(root, fetch.layer);
    this.layersFetched++;
    this.unblock();
    this.deps.layerAdded(root);
  }

  /** A peer refused one of our requests: ask someone else. */
  onReject(session: PeerSession, r: HashRef): void {
    const peer = this.peers.get(session);
    const i = peer === undefined ? -1 : peer.asked.findIndex((a) => sameRef(a, r));
    if (peer === undefined || i < 0) return;
    const [asked] = peer.asked.splice(i, 1) as [HashRef];
    const fetch = this.fetches?.get(hex(asked.piecesRoot));
    if (fetch === undefined) return;
    const c = asked.index / MAX_HASHES_PER_REQUEST;
    fetch.askedUntil[c] = 0;
    peer.refused.set(chunkKey(fetch.served, c), this.deps.clock.now());
  }

  /** A peer left: what it was asked may be asked of others at once. */
  forget(session: PeerSession): void {
    const peer = this.peers.get(session);
    if (peer === undefined) return;
    this.peers.delete(session);
    for (const asked of peer.asked) {
      const fetch = this.fetches?.get(hex(asked.piecesRoot));
      if (fetch) fetch.askedUntil[asked.index / MAX_HASHES_PER_REQUEST] = 0;
    }
  }

  /**
   * The layers to fetch, found on first use (after resume data may have restored some): every
   * file longer than one piece whose piece layer is unknown, in a v2-only torrent.
   */
  private ensureFetches(): Map<string, LayerFetch> | undefined {
    if (this.fetches !== undefined || !this.deps.fetchLayers) return this.fetches;
    this.fetches = new Map();
    for (const [key, served] of this.byRoot) {
      if (!served.shape.hasPieceLayer || this.deps.layout.pieceLayer(served.root)) continue;
      const chunks = Math.ceil(served.shape.pieces / MAX_HASHES_PER_REQUEST);
      this.fetches.set(key, {
        served,
        layer: Buffer.alloc(served.shape.pieces * HASH_BYTES),
        got: new Uint8Array(chunks),
        askedUntil: new Float64Array(chunks),
        remaining: chunks,
      });
    }
    this.unblock();
    return this.fetches;
  }

  /** Recomputes which pieces wait for a piece layer. */
  private unblock(): void {
    if (this.fetches === undefined || this.fetches.size === 0) {
      this.blocked = undefined;
      return;
    }
    const blocked = new Uint8Array(this.deps.layout.pieceCount);
    for (const [key, served] of this.byRoot) {
      if (!this.fetches.has(key)) continue;
      // Every file with this root waits (identical files share a root).
      for (const f of this.deps.layout.files) {
        if (f.padding || f.piecesRoot === undefined || !f.piecesRoot.equals(served.root)) continue;
        const first = f.offset / this.deps.layout.pieceLength;
        blocked.fill(1, first, first + served.shape.pieces);
      }
    }
    this.blocked = blocked;
  }

  private peer(session: PeerSession): PeerHashes {
    let peer = this.peers.get(session);
    if (peer === undefined) {
      peer = {
        asked: [],
        refused: new Map(),
        refusedInARow: 0,
        reading: 0,
        waiting: [],
        budget: new TokenBucket(this.deps.clock, PEER_HASH_BYTES_PER_SECOND, 1),
        leafBudget: new TokenBucket(
          this.deps.clock,
          this.deps.layout.pieceLength / LEAF_SECONDS_PER_PIECE,
          LEAF_SECONDS_PER_PIECE,
        ),
      };
      this.peers.set(session, peer);
    }
    return peer;
  }
}

/** The request for chunk `c` (512 hashes) of a file's piece layer, with a proof to the root. */
function chunkRequest(served: ServedFile, c: number): HashRef {
  const { shape } = served;
  const index = c * MAX_HASHES_PER_REQUEST;
  const left = shape.pieces - index;
  return {
    piecesRoot: served.root,
    baseLayer: shape.pieceLayer,
    index,
    length: Math.max(2, Math.min(MAX_HASHES_PER_REQUEST, nextPowerOfTwo(left))),
    proofLayers: shape.height - shape.pieceLayer - 1,
  };
}

function chunkKey(served: ServedFile, c: number): string {
  return `${served.root.toString('hex')}:${c}`;
}

/** Whether the peer has a piece covered by chunk `c`: then it must be able to serve it. */
function hasPieceIn(bits: Bitfield, served: ServedFile, c: number): boolean {
  if (bits.complete) return true;
  const first = served.firstPiece + c * MAX_HASHES_PER_REQUEST;
  const end = served.firstPiece + Math.min(served.shape.pieces, (c + 1) * MAX_HASHES_PER_REQUEST);
  for (let p = first; p < end; p++) if (bits.has(p)) return true;
  return false;
}

function sameRef(a: HashRef, b: HashRef): boolean {
  return (
    a.baseLayer === b.baseLayer &&
    a.index === b.index &&
    a.length === b.length &&
    a.proofLayers === b.proofLayers &&
    Buffer.compare(a.piecesRoot, b.piecesRoot) === 0
  );
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

/** Just the fields of a hash request (a decoded message carries its `type` too). */
function ref(r: HashRef): HashRef {
  return {
    piecesRoot: r.piecesRoot,
    baseLayer: r.baseLayer,
    index: r.index,
    length: r.length,
    proofLayers: r.proofLayers,
  };
}
