import { posix } from 'node:path';
import { SecretFileError, UnsafeFileError } from '../runtime/errors.js';
import type { BeneathMode, FileHandle, FileStat, FileSystem } from '../runtime/runtime.js';
import { SimIoError } from './errors.js';

/** Bytes per page of simulated file data (the unit of sharing between hosts). */
export const PAGE_BYTES = 16 * 1024;

/**
 * Content-addressed page storage shared by every simulated host's file system. A page written
 * whole is interned: if an identical page exists (the seeder's copy of the same piece, say) the
 * file points at it instead of holding its own bytes, so a hundred leechers with the same file
 * cost about one copy of it. Interned pages are immutable; a partial write copies first.
 */
export class PageStore {
  private readonly pages = new Map<string, Buffer[]>();
  private readonly interned = new WeakSet<Buffer>();
  /** Distinct pages held, and their bytes. */
  count = 0;
  bytes = 0;

  /** The shared page equal to `data`, adding a copy of it when new. */
  intern(data: Uint8Array): Buffer {
    const key = fingerprint(data);
    let bucket = this.pages.get(key);
    if (bucket === undefined) {
      bucket = [];
      this.pages.set(key, bucket);
    }
    for (const p of bucket) if (p.equals(data)) return p;
    const copy = Buffer.from(data);
    bucket.push(copy);
    this.interned.add(copy);
    this.count++;
    this.bytes += copy.length;
    return copy;
  }

  /** True when `page` is shared (and so must not be written in place). */
  isShared(page: Buffer): boolean {
    return this.interned.has(page);
  }
}

function fingerprint(d: Uint8Array): string {
  const n = d.length;
  if (n < 16) return Buffer.from(d).toString('hex');
  const v = new DataView(d.buffer, d.byteOffset, n);
  const m = (n >> 1) & ~3;
  return `${n}:${v.getUint32(0)}:${v.getUint32(4)}:${v.getUint32(m)}:${v.getUint32(n - 4)}`;
}

interface MemFile {
  readonly kind: 'file';
  pages: (Buffer | undefined)[];
  size: number;
  mtimeMs: number;
  /** Written by `writeSecretFile`: the one kind of file whose permissions are modelled. */
  secret?: boolean;
}

interface MemDir {
  readonly kind: 'dir';
  readonly children: Set<string>;
  mtimeMs: number;
}

type Entry = MemFile | MemDir;

/**
 * An in-memory {@link FileSystem} for one simulated host: a tree of folders and sparse paged
 * files, modification times from virtual time, errors like the real disk's (`ENOENT`,
 * `EISDIR`, …, as `SimIoError`). Operations complete in zero virtual time; they are still
 * asynchronous, as engines expect. It has no symbolic links, so opening below a root only has
 * to refuse names that are not plain; of permissions it knows only "secret" (owner-only).
 */
export class MemFs implements FileSystem {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly store: PageStore,
    private readonly wallTime: () => number,
  ) {
    this.entries.set('/', { kind: 'dir', children: new Set(), mtimeMs: wallTime() });
  }

  async stat(path: string): Promise<FileStat> {
    return statOf(this.get(path, 'stat'));
  }

  async readdir(path: string): Promise<string[]> {
    const e = this.get(path, 'scandir');
    if (e.kind !== 'dir') throw new SimIoError('ENOTDIR', `scandir "${path}"`);
    return [...e.children];
  }

  async readFile(path: string): Promise<Buffer> {
    const f = this.file(path, 'open');
    const out = Buffer.alloc(f.size);
    this.readInto(f, out, 0, f.size, 0);
    return out;
  }

  async writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
    const f = this.create(path);
    f.pages = [];
    f.size = 0;
    this.writeAt(f, data, 0);
  }

  async open(path: string, mode: 'r' | 'r+' | 'w+'): Promise<FileHandle> {
    let f: MemFile;
    if (mode === 'w+') {
      f = this.create(path);
      f.pages = [];
      f.size = 0;
      f.mtimeMs = this.wallTime();
    } else f = this.file(path, 'open');
    return this.handle(f, path, mode !== 'r');
  }

  async openBeneath(root: string, path: readonly string[], mode: BeneathMode): Promise<FileHandle> {
    const full = beneath(root, path);
    if (mode === 'create') {
      await this.mkdir(posix.dirname(full));
      if (!this.entries.has(posix.resolve('/', full))) this.create(full);
    }
    return this.handle(this.file(full, 'open'), full, mode !== 'read');
  }

  async statBeneath(root: string, path: readonly string[]): Promise<FileStat> {
    return this.stat(beneath(root, path));
  }

  async writeSecretFile(path: string, data: Uint8Array): Promise<void> {
    await this.writeFileAtomic(path, data);
    this.file(path, 'open').secret = true;
  }

  async readSecretFile(path: string): Promise<Buffer> {
    if (this.file(path, 'open').secret !== true)
      throw new SecretFileError(path, `other users may read it; run: chmod 600 ${path}`);
    return this.readFile(path);
  }

  private handle(f: MemFile, path: string, writable: boolean): FileHandle {
    let closed = false;
    const check = (op: string) => {
      if (closed) throw new SimIoError('EBADF', `${op} on a closed file "${path}"`);
    };
    return {
      read: async (target, offset, length, position) => {
        check('read');
        return this.readInto(f, target, offset, length, position);
      },
      write: async (data, position) => {
        check('write');
        if (!writable) throw new SimIoError('EBADF', `write to "${path}" opened read-only`);
        this.writeAt(f, data, position);
      },
      truncate: async (length) => {
        check('truncate');
        this.truncate(f, length);
      },
      sync: async () => check('sync'),
      stat: async () => {
        check('stat');
        return statOf(f);
      },
      close: async () => {
        closed = true;
      },
    };
  }

  async mkdir(path: string): Promise<void> {
    const abs = posix.resolve('/', path);
    if (abs === '/') return;
    const parent = posix.dirname(abs);
    await this.mkdir(parent);
    const e = this.entries.get(abs);
    if (e?.kind === 'dir') return;
    if (e) throw new SimIoError('EEXIST', `mkdir "${path}": a file is in the way`);
    this.entries.set(abs, { kind: 'dir', children: new Set(), mtimeMs: this.wallTime() });
    (this.entries.get(parent) as MemDir).children.add(posix.basename(abs));
  }

  async rm(path: string): Promise<void> {
    const abs = posix.resolve('/', path);
    const e = this.entries.get(abs);
    if (!e || abs === '/') return;
    if (e.kind === 'dir') for (const c of [...e.children]) await this.rm(posix.join(abs, c));
    this.entries.delete(abs);
    const parent = this.entries.get(posix.dirname(abs));
    if (parent?.kind === 'dir') parent.children.delete(posix.basename(abs));
  }

  async exists(path: string): Promise<boolean> {
    return this.entries.has(posix.resolve('/', path));
  }

  /** Bytes of file data this host holds privately (not shared through the page store). */
  privateBytes(): number {
    let n = 0;
    for (const e of this.entries.values())
      if (e.kind === 'file')
        for (const p of e.pages) if (p !== undefined && !this.store.isShared(p)) n += p.length;
    return n;
  }

  private get(path: string, op: string): Entry {
    const e = this.entries.get(posix.resolve('/', path));
    if (!e) throw new SimIoError('ENOENT', `${op} "${path}"`);
    return e;
  }

  private file(path: string, op: string): MemFile {
    const e = this.get(path, op);
    if (e.kind !== 'file') throw new SimIoError('EISDIR', `${op} "${path}"`);
    return e;
  }

  private create(path: string): MemFile {
    const abs = posix.resolve('/', path);
    const e = this.entries.get(abs);
    if (e?.kind === 'dir') throw new SimIoError('EISDIR', `open "${path}"`);
    if (e) {
      e.secret = false; // replaced by an ordinary write
      return e;
    }
    const parent = this.entries.get(posix.dirname(abs));
    if (parent?.kind !== 'dir') throw new SimIoError('ENOENT', `open "${path}"`);
    const f: MemFile = { kind: 'file', pages: [], size: 0, mtimeMs: this.wallTime() };
    this.entries.set(abs, f);
    parent.children.add(posix.basename(abs));
    return f;
  }

  private readInto(
    f: MemFile,
    target: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): number {
    const end = Math.min(f.size, position + length);
    if (end <= position) return 0;
    let at = position;
    while (at < end) {
      const p = Math.floor(at / PAGE_BYTES);
      const inPage = at - p * PAGE_BYTES;
      const n = Math.min(end - at, PAGE_BYTES - inPage);
      const page = f.pages[p];
      const dst = offset + (at - position);
      const have = page === undefined ? 0 : Math.max(0, Math.min(n, page.length - inPage));
      if (have > 0) target.set(page!.subarray(inPage, inPage + have), dst);
      if (have < n) target.fill(0, dst + have, dst + n);
      at += n;
    }
    return end - position;
  }

  private writeAt(f: MemFile, data: Uint8Array, position: number): void {
    const end = position + data.length;
    const newSize = Math.max(f.size, end);
    let at = position;
    while (at < end) {
      const p = Math.floor(at / PAGE_BYTES);
      const pageStart = p * PAGE_BYTES;
      const inPage = at - pageStart;
      const n = Math.min(end - at, PAGE_BYTES - inPage);
      const valid = Math.min(PAGE_BYTES, newSize - pageStart);
      const chunk = data.subarray(at - position, at - position + n);
      if (inPage === 0 && n >= valid) {
        f.pages[p] = this.store.intern(chunk);
      } else {
        const old = f.pages[p];
        let page: Buffer;
        if (old !== undefined && !this.store.isShared(old) && old.length === PAGE_BYTES) page = old;
        else {
          page = Buffer.alloc(PAGE_BYTES);
          if (old !== undefined) old.copy(page, 0, 0, Math.min(old.length, PAGE_BYTES));
        }
        page.set(chunk, inPage);
        f.pages[p] = page;
      }
      at += n;
    }
    f.size = newSize;
    f.mtimeMs = this.wallTime();
  }

  private truncate(f: MemFile, length: number): void {
    const keep = Math.ceil(length / PAGE_BYTES);
    f.pages.length = Math.min(f.pages.length, keep);
    const last = keep - 1;
    const page = f.pages[last];
    const validInLast = length - last * PAGE_BYTES;
    if (page !== undefined && page.length > validInLast) {
      f.pages[last] = this.store.intern(page.subarray(0, validInLast));
    }
    f.size = length;
    f.mtimeMs = this.wallTime();
  }
}

function statOf(e: Entry): FileStat {
  return {
    size: e.kind === 'file' ? e.size : 4096,
    mtimeMs: e.mtimeMs,
    isFile: e.kind === 'file',
    isDirectory: e.kind === 'dir',
    isSymbolicLink: false,
    isExecutable: false,
  };
}

/** `root/path…`, refusing names that could leave `root` (there are no links to refuse). */
function beneath(root: string, path: readonly string[]): string {
  const full = posix.join(root, ...path);
  if (path.length === 0) throw new UnsafeFileError(root, root, 'is the folder itself, not a file');
  for (const name of path)
    if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0'))
      throw new UnsafeFileError(full, name, 'is not a plain file or folder name');
  return full;
}
