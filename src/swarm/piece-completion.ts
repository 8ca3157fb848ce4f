import { Bitfield } from '../codec/bitfield.js';
import type { PieceLayout } from '../storage/layout.js';
import type { TorrentStorage } from '../storage/torrent-storage.js';
import type { PieceVerifier } from '../storage/verifier.js';
import type { Blame } from './blame.js';
import type { PeerSession } from './peer-session.js';
import type { BufferPool, PieceJob } from './piece-job.js';
import type { RequestScheduler } from './request-scheduler.js';
import type { Uploader } from './uploader.js';

/** What piece completion needs from its torrent. */
export interface PieceCompletionDeps {
  readonly layout: PieceLayout;
  readonly have: Bitfield;
  readonly storage: TorrentStorage;
  readonly verifier: PieceVerifier;
  readonly buffers: BufferPool;
  readonly scheduler: RequestScheduler;
  readonly uploader: Uploader;
  readonly blame: Blame;
  readonly sessions: () => Iterable<PeerSession>;
  readonly stopped: () => boolean;
  /** A verified piece was marked as ours (announce it, re-decide interest, maybe finish). */
  readonly pieceAdded: (index: number) => void;
  /** Resume data is out of date. */
  readonly dirty: () => void;
  readonly failed: (error: Error) => void;
  /** A write failed: the torrent cannot go on with its files as they are. */
  readonly writeFailed: (index: number, error: Error) => void;
}

/**
 * What happens to a piece once its last block arrives: verification (and blame when it fails),
 * then it is ours at once — announced and served from memory while its write is in flight —
 * and on disk when the write ends. Keeps the writes in flight, which resume data and `done`
 * wait for.
 */
export class PieceCompletion {
  /** Writes in flight, by piece. */
  readonly writing = new Map<number, Promise<void>>();

  constructor(private readonly deps: PieceCompletionDeps) {}

  /** Pieces are about to arrive: gets verification ready (hashing threads boot meanwhile). */
  prepare(): void {
    this.deps.verifier.prepare();
  }

  /** Verifies and writes a piece whose blocks have all arrived. */
  async finish(job: PieceJob): Promise<void> {
    const d = this.deps;
    job.verifying = true;
    let ok = false;
    let memory = job.memory;
    for (const s of job.contributors) s.awaitingCheck++;
    try {
      const r = await d.verifier.verify(job.index, job.memory);
      ok = r.ok;
      memory = r.memory;
    } catch (error) {
      if (!d.stopped()) d.failed(error as Error);
      return;
    } finally {
      for (const s of job.contributors) {
        s.awaitingCheck--;
        if (!s.closed) d.scheduler.fillRequests(s);
      }
    }
    if (d.stopped()) return;
    d.scheduler.jobs.delete(job.index);
    job.origin?.pieceChecked(job.index, ok);
    if (!ok) {
      d.buffers.give(memory);
      d.blame.convict(job); // with no peer contributors (a web seed's), it only counts the waste
      d.scheduler.fillAll();
      return;
    }
    // Verified is enough to announce and serve it: the storage answers reads of a piece whose
    // write is still in flight from memory, so peers need not wait for the disk.
    const data = Buffer.from(memory.buffer, memory.byteOffset, job.size);
    d.blame.acquit(job);
    const write = d.storage.write(job.index * d.layout.pieceLength, data);
    this.writing.set(job.index, write);
    // Peers that lack it will likely ask for it soon; otherwise its buffer serves the next piece.
    const kept = this.someoneLacks(job.index);
    if (kept) d.uploader.keep(job.index, memory, write);
    d.pieceAdded(job.index);
    try {
      await write;
      d.dirty(); // resume data may vouch for it now
      if (!kept) d.buffers.give(memory);
    } catch (error) {
      d.have.clear(job.index);
      d.writeFailed(job.index, error as Error);
    } finally {
      this.writing.delete(job.index);
    }
    d.scheduler.diskProgressed();
  }

  /** Settles when every write in flight has ended. */
  async flushed(): Promise<void> {
    await Promise.allSettled([...this.writing.values()]);
  }

  /** The pieces we have whose writes have finished: what resume data may vouch for. */
  written(): Bitfield {
    const have = this.deps.have;
    if (this.writing.size === 0) return have;
    const done = new Bitfield(have.size, have.bytes);
    for (const i of this.writing.keys()) done.clear(i);
    return done;
  }

  /** True when a connected peer that may download from us lacks piece `index`. */
  private someoneLacks(index: number): boolean {
    for (const s of this.deps.sessions())
      if (s.handshake && !s.closed && s.bits !== undefined && !s.bits.has(index)) return true;
    return false;
  }
}
