import { Bitfield } from '../codec/bitfield.js';
import { HASH_BYTES, merkleRoot, nextPowerOfTwo } from '../crypto/merkle.js';
import { pieceLayerPad } from '../crypto/merkle-proof.js';
import type { FileSystem } from '../runtime/runtime.js';
import type { PieceLayout } from './layout.js';
import { loadResume, type ResumeData, saveResume } from './resume.js';
import type { TorrentStorage } from './torrent-storage.js';
import type { PieceVerifier } from './verifier.js';

/**
 * Which pieces of a torrent are verified on disk, across restarts: resume data is trusted only
 * while every file's size and mtime still match what was saved with it; otherwise every piece
 * whose files exist is hashed again. Saving is atomic, after the files are synced.
 */
export class PieceState {
  constructor(
    private readonly fs: FileSystem,
    private readonly layout: PieceLayout,
    private readonly storage: TorrentStorage,
    private readonly verifier: PieceVerifier,
    /** Where resume data lives; none kept when undefined. */
    private readonly resumePath: string | undefined,
  ) {}

  /**
   * Marks in `have` what is verified on disk. `recheck` ignores resume data; `parallel` bounds
   * the pieces hashed at once; `stopped` aborts a long check. True when the saved resume data
   * was trusted as it is (saving it again would write the same), false after a check.
   */
  async load(
    have: Bitfield,
    options: { recheck: boolean; parallel: number; stopped: () => boolean },
  ): Promise<boolean> {
    const saved = this.resumePath ? await loadResume(this.fs, this.resumePath) : undefined;
    // Piece layers fetched from peers are checked against the roots, not against the files,
    // so they are kept even when a recheck is asked for or the files changed.
    if (saved?.pieceLayers) this.restorePieceLayers(saved.pieceLayers);
    const resume = options.recheck ? undefined : saved;
    if (resume && (await this.stillValid(resume))) {
      for (const i of new Bitfield(this.layout.pieceCount, resume.have).indices()) have.set(i);
      return true;
    }
    await this.recheck(have, options.parallel, options.stopped);
    return false;
  }

  /** Saves `have` with each file's current size and mtime. */
  async save(have: Bitfield): Promise<void> {
    if (!this.resumePath) return;
    await this.storage.sync();
    const files = [];
    for (const [i, f] of this.layout.files.entries()) {
      if (f.padding) {
        files.push({ length: 0, mtimeMs: 0 });
        continue;
      }
      const s = await this.storage.stat(i).catch(() => undefined);
      files.push(s ? { length: s.size, mtimeMs: s.mtimeMs } : { length: -1, mtimeMs: 0 });
    }
    await saveResume(this.fs, this.resumePath, {
      have: have.bytes,
      files,
      pieceLayers: this.layout.addedPieceLayers(),
    });
  }

  /** Adds the saved piece layers that still hash to a file's pieces root; drops the rest. */
  private restorePieceLayers(layers: ReadonlyMap<string, Uint8Array>): void {
    const pieceLength = this.layout.pieceLength;
    const pad = pieceLayerPad(pieceLength);
    for (const f of this.layout.files) {
      if (f.padding || f.piecesRoot === undefined || f.length <= pieceLength) continue;
      const layer = layers.get(f.piecesRoot.toString('hex'));
      if (layer === undefined || this.layout.pieceLayer(f.piecesRoot)) continue;
      const pieces = Math.ceil(f.length / pieceLength);
      if (layer.length !== pieces * HASH_BYTES) continue;
      if (!merkleRoot(layer, nextPowerOfTwo(pieces), pad).equals(f.piecesRoot)) continue;
      this.layout.addPieceLayer(f.piecesRoot, Buffer.from(layer));
    }
  }

  private async stillValid(resume: ResumeData): Promise<boolean> {
    if (
      !Bitfield.isValid(this.layout.pieceCount, resume.have) ||
      resume.files.length !== this.layout.files.length
    ) {
      return false;
    }
    for (const [i, f] of this.layout.files.entries()) {
      if (f.padding) continue;
      const saved = resume.files[i]!;
      const s = await this.storage.stat(i).catch(() => undefined);
      if (s === undefined) {
        if (saved.length !== -1) return false;
        continue;
      }
      if (s.size !== saved.length || Math.floor(s.mtimeMs) !== saved.mtimeMs) return false;
    }
    return true;
  }

  /** Verifies every piece whose files exist on disk. */
  private async recheck(have: Bitfield, parallel: number, stopped: () => boolean): Promise<void> {
    const exists: boolean[] = [];
    for (const [i, f] of this.layout.files.entries()) {
      const s = f.padding ? undefined : await this.storage.stat(i).catch(() => undefined);
      exists.push(f.padding || s?.isFile === true);
    }
    const candidates: number[] = [];
    for (let p = 0; p < this.layout.pieceCount; p++) {
      const segs = this.layout.segments(p * this.layout.pieceLength, this.layout.pieceSize(p));
      if (segs.some((s) => !s.padding) && segs.every((s) => exists[s.fileIndex]))
        candidates.push(p);
    }
    let next = 0;
    const worker = async () => {
      // One buffer per worker, read into and handed back by the hasher piece after piece: a
      // fresh one per piece cost a 1 GiB check a fifth of its time in garbage collection.
      // Sized by the pieces met (a one-piece torrent of a small file needs no whole piece).
      let memory: Uint8Array = new Uint8Array(0);
      while (next < candidates.length && !stopped()) {
        const p = candidates[next++]!;
        const size = this.layout.pieceSize(p);
        if (memory.byteLength < size) memory = new Uint8Array(size);
        await this.storage.read(p * this.layout.pieceLength, size, Buffer.from(memory.buffer));
        const verdict = await this.verifier.verify(p, memory, true);
        memory = verdict.memory;
        if (verdict.ok) have.set(p);
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
  }
}
