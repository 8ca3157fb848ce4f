import { basename, join } from 'node:path';
import { type Encodable, encode } from '../codec/bencode.js';
import type { HashJob, HashJobResult, PieceHasher } from '../crypto/hash-job.js';
import { leavesPerPiece } from '../crypto/hash-job.js';
import {
  HASH_BYTES,
  MERKLE_BLOCK_BYTES,
  merkleRoot,
  nextPowerOfTwo,
  zeroSubtreeRoot,
} from '../crypto/merkle.js';
import type { FileSystem } from '../runtime/runtime.js';
import { MetainfoError } from './errors.js';
import { parseTorrent } from './parse.js';
import { assertSafePath } from './paths.js';
import { choosePieceLength } from './piece-length.js';
import type { Metainfo, TorrentVersion } from './types.js';

/** What to put in a new torrent besides its content. */
export interface CreateTorrentOptions {
  readonly version?: TorrentVersion;
  /** Bytes per piece; a power of two ≥ 16 KiB for v2 and hybrid. Chosen from the size if absent. */
  readonly pieceLength?: number;
  /** Tracker URLs; each becomes its own BEP 12 tier. */
  readonly trackers?: readonly string[];
  readonly webSeeds?: readonly string[];
  readonly private?: boolean;
  readonly comment?: string;
  readonly createdBy?: string;
  /** Seconds since the epoch; omitted from the torrent when undefined. */
  readonly creationDate?: number;
  /** Called as bytes are hashed. */
  readonly onProgress?: (hashedBytes: number, totalBytes: number) => void;
}

/** A freshly created torrent: the `.torrent` bytes and their parsed form. */
export interface CreatedTorrent {
  readonly torrent: Buffer;
  readonly metainfo: Metainfo;
}

/** One regular file found under the input path. */
interface SourceFile {
  readonly absolute: string;
  /** Components below the torrent's folder; `[name]` for a single-file torrent. */
  readonly path: string[];
  readonly length: number;
  readonly executable: boolean;
}

/** Per-file hashing outcome. */
interface FileHashes {
  v1: Uint8Array[];
  layer: Uint8Array[];
}

const JOB_TARGET_BYTES = 4 * 1024 * 1024;

/**
 * Creates a v1, v2 or hybrid torrent of a file or folder, reading each byte once and hashing
 * for v1 and v2 in the same pass on `pool`'s worker threads. Files are ordered by path
 * component (UTF-8 byte order), which is also the order of a v2 file tree; hybrids pad every
 * file of a multi-file torrent to a piece boundary with BEP 47 padding files.
 */
export async function createTorrent(
  inputPath: string,
  fs: FileSystem,
  pool: PieceHasher,
  options: CreateTorrentOptions = {},
): Promise<CreatedTorrent> {
  const version = options.version ?? 'hybrid';
  const name = basename(inputPath);
  const { files, singleFile } = await collectFiles(inputPath, name, fs);
  const totalLength = files.reduce((n, f) => n + f.length, 0);
  if (totalLength === 0) throw new MetainfoError(`"${inputPath}" holds no data to share`);
  const pieceLength = options.pieceLength ?? choosePieceLength(totalLength);
  if (
    version !== 'v1' &&
    (pieceLength < MERKLE_BLOCK_BYTES || (pieceLength & (pieceLength - 1)) !== 0)
  ) {
    throw new MetainfoError(
      `piece length ${pieceLength} must be a power of two ≥ 16384 for v2 and hybrid`,
    );
  }
  if (!Number.isInteger(pieceLength) || pieceLength <= 0) {
    throw new MetainfoError(`piece length ${pieceLength} must be a positive integer`);
  }

  const hasher = new Hasher(fs, pool, pieceLength, totalLength, options.onProgress);
  const hashes =
    version === 'v1'
      ? await hasher.hashV1Stream(files)
      : await hasher.hashAligned(files, version, singleFile);
  await hasher.drain();
  if (version !== 'v1') hashes.v1 = hashes.perFile.flatMap((f) => f.v1);

  const info = buildInfo(
    name,
    files,
    singleFile,
    pieceLength,
    version,
    options.private === true,
    hashes,
  );
  const torrent = encode({
    announce: options.trackers?.[0],
    'announce-list':
      (options.trackers?.length ?? 0) > 1 ? options.trackers!.map((t) => [t]) : undefined,
    comment: options.comment,
    'created by': options.createdBy ?? 'shoal',
    'creation date': options.creationDate,
    info,
    'piece layers': version === 'v1' ? undefined : pieceLayers(files, pieceLength, hashes.perFile),
    'url-list': options.webSeeds && options.webSeeds.length > 0 ? [...options.webSeeds] : undefined,
  });
  return { torrent, metainfo: parseTorrent(torrent) };
}

async function collectFiles(
  inputPath: string,
  name: string,
  fs: FileSystem,
): Promise<{ files: SourceFile[]; singleFile: boolean }> {
  const top = await fs.stat(inputPath);
  assertSafePath([name]);
  if (top.isFile) {
    return {
      files: [
        { absolute: inputPath, path: [name], length: top.size, executable: top.isExecutable },
      ],
      singleFile: true,
    };
  }
  if (!top.isDirectory) throw new MetainfoError(`"${inputPath}" is neither a file nor a folder`);
  const files: SourceFile[] = [];
  const walk = async (dir: string, path: string[]): Promise<void> => {
    for (const entry of await fs.readdir(dir)) {
      const absolute = join(dir, entry);
      const s = await fs.stat(absolute);
      const p = [...path, entry];
      if (s.isDirectory) await walk(absolute, p);
      else if (s.isFile) {
        assertSafePath(p);
        files.push({ absolute, path: p, length: s.size, executable: s.isExecutable });
      }
      // Symbolic links and special files are not shared: following them could leak data
      // from outside the folder.
    }
  };
  await walk(inputPath, []);
  if (files.length === 0) throw new MetainfoError(`folder "${inputPath}" holds no files`);
  files.sort((a, b) => comparePaths(a.path, b.path));
  return { files, singleFile: false };
}

/** Orders paths component by component in UTF-8 byte order: the order of a v2 file tree. */
export function comparePaths(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = Buffer.compare(Buffer.from(a[i]!, 'utf8'), Buffer.from(b[i]!, 'utf8'));
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/** Streams file bytes into reusable buffers and keeps a bounded number of jobs in flight. */
class Hasher {
  private readonly spare: ArrayBuffer[] = [];
  private readonly inFlight: Promise<void>[] = [];
  private readonly jobBytes: number;
  private hashed = 0;

  constructor(
    private readonly fs: FileSystem,
    private readonly pool: PieceHasher,
    private readonly pieceLength: number,
    private readonly totalLength: number,
    private readonly onProgress?: (hashedBytes: number, totalBytes: number) => void,
  ) {
    this.jobBytes = Math.max(1, Math.floor(JOB_TARGET_BYTES / pieceLength)) * pieceLength;
  }

  /** v1: all files back to back, pieces spanning file boundaries. */
  async hashV1Stream(files: SourceFile[]): Promise<{ v1: Uint8Array[]; perFile: FileHashes[] }> {
    const v1: Uint8Array[] = [];
    let buffer = this.takeBuffer();
    let filled = 0;
    const flush = async (): Promise<void> => {
      const slot = v1.length;
      v1.push(new Uint8Array(0));
      const length = filled;
      await this.submit(
        { buffer, length, pieceLength: this.pieceLength, v1Length: length },
        (r) => {
          v1[slot] = r.v1!;
        },
      );
      buffer = this.takeBuffer();
      filled = 0;
    };
    for (const file of files) {
      if (file.length === 0) continue;
      const handle = await this.fs.open(file.absolute, 'r');
      try {
        let position = 0;
        while (position < file.length) {
          const want = Math.min(this.jobBytes - filled, file.length - position);
          await readFully(handle, new Uint8Array(buffer), filled, want, position, file.absolute);
          filled += want;
          position += want;
          if (filled === this.jobBytes) await flush();
        }
      } finally {
        await handle.close();
      }
    }
    if (filled > 0) await flush();
    else this.spare.push(buffer);
    return { v1, perFile: files.map(() => ({ v1: [], layer: [] })) };
  }

  /** v2 and hybrid: each file starts on a piece boundary; the tail of its last piece is zeros. */
  async hashAligned(
    files: SourceFile[],
    version: TorrentVersion,
    singleFile: boolean,
  ): Promise<{ v1: Uint8Array[]; perFile: FileHashes[] }> {
    const perFile: FileHashes[] = files.map(() => ({ v1: [], layer: [] }));
    const lpp = leavesPerPiece(this.pieceLength);
    for (const [i, file] of files.entries()) {
      if (file.length === 0) continue;
      const out = perFile[i]!;
      const leafCount = Math.ceil(file.length / MERKLE_BLOCK_BYTES);
      const v2Width = file.length <= this.pieceLength ? nextPowerOfTwo(leafCount) : lpp;
      const handle = await this.fs.open(file.absolute, 'r');
      try {
        for (let position = 0; position < file.length; position += this.jobBytes) {
          const length = Math.min(this.jobBytes, file.length - position);
          const buffer = this.takeBuffer();
          const view = new Uint8Array(buffer);
          await readFully(handle, view, 0, length, position, file.absolute);
          let v1Length: number | undefined;
          if (version === 'hybrid') {
            v1Length = singleFile
              ? length
              : Math.ceil(length / this.pieceLength) * this.pieceLength;
            view.fill(0, length, v1Length);
          }
          const slot = out.layer.length;
          out.layer.push(new Uint8Array(0));
          out.v1.push(new Uint8Array(0));
          await this.submit(
            {
              buffer,
              length,
              pieceLength: this.pieceLength,
              v2Width,
              ...(v1Length !== undefined && { v1Length }),
            },
            (r) => {
              out.layer[slot] = r.v2!;
              if (r.v1) out.v1[slot] = r.v1;
            },
          );
        }
      } finally {
        await handle.close();
      }
    }
    return { v1: [], perFile }; // v1 is gathered from perFile once every job has finished
  }

  /** Waits for every job still running. */
  async drain(): Promise<void> {
    await Promise.all(this.inFlight.splice(0));
  }

  private takeBuffer(): ArrayBuffer {
    return this.spare.pop() ?? new ArrayBuffer(this.jobBytes);
  }

  private async submit(job: HashJob, store: (r: HashJobResult) => void): Promise<void> {
    const done = this.pool.run(job).then((r) => {
      store(r);
      if (r.buffer instanceof ArrayBuffer) this.spare.push(r.buffer);
      this.hashed += job.length;
      this.onProgress?.(this.hashed, this.totalLength);
    });
    this.inFlight.push(done);
    if (this.inFlight.length >= this.pool.size * 2) await this.inFlight.shift();
  }
}

async function readFully(
  handle: { read(t: Uint8Array, o: number, l: number, p: number): Promise<number> },
  target: Uint8Array,
  offset: number,
  length: number,
  position: number,
  path: string,
): Promise<void> {
  let done = 0;
  while (done < length) {
    const n = await handle.read(target, offset + done, length - done, position + done);
    if (n === 0) throw new MetainfoError(`"${path}" shrank while it was being hashed`);
    done += n;
  }
}

function fileRoot(hashes: FileHashes, file: SourceFile, pieceLength: number): Buffer {
  const layer = Buffer.concat(hashes.layer);
  const count = layer.length / HASH_BYTES;
  if (file.length <= pieceLength) return Buffer.from(layer.subarray(0, HASH_BYTES));
  return merkleRoot(layer, nextPowerOfTwo(count), zeroSubtreeRoot(leavesPerPiece(pieceLength)));
}

type Dict = { [key: string]: Encodable | undefined };

function buildInfo(
  name: string,
  files: SourceFile[],
  singleFile: boolean,
  pieceLength: number,
  version: TorrentVersion,
  privateFlag: boolean,
  hashes: { v1: Uint8Array[]; perFile: FileHashes[] },
): Dict {
  const info: Dict = { name, 'piece length': pieceLength, private: privateFlag ? 1 : undefined };
  if (version !== 'v1') {
    info['meta version'] = 2;
    const tree = new Map<string, Encodable>();
    files.forEach((f, i) => {
      let node = tree;
      for (const component of f.path.slice(0, -1)) {
        const key = Buffer.from(component, 'utf8').toString('latin1');
        let next = node.get(key) as Map<string, Encodable> | undefined;
        if (next === undefined) {
          next = new Map();
          node.set(key, next);
        }
        node = next;
      }
      const leaf: Dict = {
        attr: f.executable ? 'x' : undefined,
        length: f.length,
        'pieces root': f.length > 0 ? fileRoot(hashes.perFile[i]!, f, pieceLength) : undefined,
      };
      node.set(Buffer.from(f.path.at(-1)!, 'utf8').toString('latin1'), { '': leaf });
    });
    info['file tree'] = tree;
  }
  if (version !== 'v2') {
    info.pieces = Buffer.concat(hashes.v1);
    if (singleFile) {
      info.length = files[0]!.length;
      if (files[0]!.executable) info.attr = 'x';
    } else {
      const list: Dict[] = [];
      for (const f of files) {
        list.push({ attr: f.executable ? 'x' : undefined, length: f.length, path: f.path });
        const gap = (pieceLength - (f.length % pieceLength)) % pieceLength;
        if (version === 'hybrid' && gap > 0) {
          list.push({ attr: 'p', length: gap, path: ['.pad', String(gap)] });
        }
      }
      info.files = list;
    }
  }
  return info;
}

function pieceLayers(
  files: SourceFile[],
  pieceLength: number,
  perFile: FileHashes[],
): Map<string, Encodable> {
  const layers = new Map<string, Encodable>();
  files.forEach((f, i) => {
    if (f.length <= pieceLength) return;
    const root = fileRoot(perFile[i]!, f, pieceLength);
    layers.set(root.toString('latin1'), Buffer.concat(perFile[i]!.layer));
  });
  return layers;
}
