import { constants, readFile as readFileCallback, type Stats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { DirectWriter } from './direct-writes.js';
import { IoError, SecretFileError, UnsafeFileError } from './errors.js';
import { lazyPageArena } from './page-arena.js';
import type { BeneathMode, FileHandle, FileStat, FileSystem, OpenOptions } from './runtime.js';

// Flags some platforms lack (Windows has neither O_NOFOLLOW nor O_DIRECTORY): 0 = not asked for.
const O_DIRECTORY = constants.O_DIRECTORY ?? 0;
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const O_NONBLOCK = constants.O_NONBLOCK ?? 0;
const { O_RDONLY, O_RDWR, O_WRONLY, O_CREAT, O_EXCL } = constants;

function toStat(s: Stats): FileStat {
  return {
    size: s.size,
    mtimeMs: s.mtimeMs,
    isFile: s.isFile(),
    isDirectory: s.isDirectory(),
    isSymbolicLink: s.isSymbolicLink(),
    isExecutable: (s.mode & 0o100) !== 0,
  };
}

function wrapHandle(h: fsp.FileHandle, directWrites = false): FileHandle {
  // Opened on the first write that suits it, closed with the handle; off for good once the
  // file system refuses it.
  let direct: Promise<DirectWriter | undefined> | undefined;
  let directOn = directWrites;
  return {
    writesDirect: (length, position) => directOn && DirectWriter.suits(length, position),
    async read(target, offset, length, position) {
      const { bytesRead } = await h.read(target, offset, length, position);
      return bytesRead;
    },
    async write(data, position) {
      let done = 0;
      if (directOn && DirectWriter.suits(data.length, position)) {
        direct ??= DirectWriter.open(h.fd);
        const writer = await direct;
        done = (await writer?.writePrefix(data, position)) ?? 0;
        if (!writer?.usable) directOn = false;
      }
      while (done < data.length) {
        const { bytesWritten } = await h.write(data, done, data.length - done, position + done);
        done += bytesWritten;
      }
    },
    truncate: (length) => h.truncate(length),
    sync: () => h.sync(),
    stat: async () => toStat(await h.stat()),
    async close() {
      await (await direct)?.close().catch(() => undefined);
      await h.close();
    },
  };
}

/**
 * A folder reached below a root: an open descriptor whose `/proc/self/fd` entry stands for the
 * folder itself (Linux), or, where there is no such entry, a path checked with `lstat`.
 */
interface FolderRef {
  /** The path naming `name` inside this folder. */
  child(name: string): string;
  close(): Promise<void>;
}

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** The path below a root as a person reads it, for messages. */
function shown(root: string, path: readonly string[]): string {
  return join(root, ...path);
}

/** Turns an OS error met at `path[0..depth]` into a typed one naming the paths. */
function explain(error: unknown, root: string, path: readonly string[], depth: number): Error {
  const code = errnoOf(error);
  const offending = shown(root, path.slice(0, depth + 1));
  // Linux and macOS say ELOOP for O_NOFOLLOW on a link, FreeBSD says EMLINK.
  if (code === 'ELOOP' || code === 'EMLINK')
    return new UnsafeFileError(shown(root, path), offending, 'is a symbolic link');
  if (error instanceof UnsafeFileError || error instanceof IoError) return error;
  return new IoError(
    `cannot open "${shown(root, path)}" at "${offending}": ${(error as Error).message}`,
    error,
  );
}

function assertPlainNames(root: string, path: readonly string[]): void {
  if (path.length === 0) throw new UnsafeFileError(root, root, 'is the folder itself, not a file');
  for (const name of path) {
    if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0'))
      throw new UnsafeFileError(shown(root, path), name, 'is not a plain file or folder name');
  }
}

/**
 * Opens each folder of `folders` below `root` relative to the one before through
 * `/proc/self/fd/<fd>/<name>` (what `openat` does, which Node lacks) with O_NOFOLLOW, so a
 * link swapped in at any moment makes the open fail instead of being followed.
 */
async function walkByDescriptor(
  root: string,
  path: readonly string[],
  create: boolean,
): Promise<FolderRef> {
  const folderFlags = O_RDONLY | O_DIRECTORY;
  let current: fsp.FileHandle;
  try {
    current = await fsp.open(root, folderFlags); // the root may be a link: the user chose it
  } catch (error) {
    throw new IoError(`cannot open the folder "${root}": ${(error as Error).message}`, error);
  }
  const depth = path.length - 1;
  for (let i = 0; i < depth; i++) {
    const at = `/proc/self/fd/${current.fd}/${path[i]}`;
    try {
      let next: fsp.FileHandle;
      try {
        next = await fsp.open(at, folderFlags | O_NOFOLLOW);
      } catch (error) {
        if (!create || errnoOf(error) !== 'ENOENT') throw error;
        await fsp.mkdir(at).catch((e: unknown) => {
          if (errnoOf(e) !== 'EEXIST') throw e;
        });
        next = await fsp.open(at, folderFlags | O_NOFOLLOW);
      }
      await current.close();
      current = next;
    } catch (error) {
      await current.close().catch(() => undefined);
      // O_DIRECTORY | O_NOFOLLOW on a link fails with ENOTDIR, as on a file: tell them apart
      // (only for the message; nothing was followed either way).
      if (errnoOf(error) === 'ENOTDIR') {
        const offending = shown(root, path.slice(0, i + 1));
        const s = await fsp.lstat(offending).catch(() => undefined);
        if (s?.isSymbolicLink())
          throw new UnsafeFileError(shown(root, path), offending, 'is a symbolic link');
        throw new IoError(`cannot open "${shown(root, path)}": "${offending}" is not a folder`);
      }
      throw explain(error, root, path, i);
    }
  }
  const held = current;
  return { child: (name) => `/proc/self/fd/${held.fd}/${name}`, close: () => held.close() };
}

/**
 * Where `/proc/self/fd` is missing (macOS, BSD, a container without /proc): each folder is
 * checked with `lstat` before it is used and the file is opened with O_NOFOLLOW. A link swapped
 * in for a folder between the check and the open can still be followed there; see SECURITY.md.
 */
async function walkByLstat(
  root: string,
  path: readonly string[],
  create: boolean,
): Promise<FolderRef> {
  let at = root;
  const depth = path.length - 1;
  for (let i = 0; i < depth; i++) {
    at = join(at, path[i]!);
    try {
      let s = await fsp.lstat(at).catch((error: unknown) => {
        if (!create || errnoOf(error) !== 'ENOENT') throw error;
        return undefined;
      });
      if (s === undefined) {
        await fsp.mkdir(at).catch((e: unknown) => {
          if (errnoOf(e) !== 'EEXIST') throw e;
        });
        s = await fsp.lstat(at);
      }
      if (s.isSymbolicLink())
        throw new UnsafeFileError(shown(root, path), at, 'is a symbolic link');
      if (!s.isDirectory())
        throw new IoError(`cannot open "${shown(root, path)}": "${at}" is not a folder`);
    } catch (error) {
      throw explain(error, root, path, i);
    }
  }
  const folder = at;
  return { child: (name) => join(folder, name), close: async () => {} };
}

const readFileAsync = promisify(readFileCallback);

let procFdProbe: Promise<boolean> | undefined;

/** True when `/proc/self/fd/<fd>` names the open file itself (Linux with /proc mounted). */
function procFdWorks(): Promise<boolean> {
  procFdProbe ??= (async () => {
    try {
      const h = await fsp.open('/', O_RDONLY | O_DIRECTORY);
      try {
        const [own, viaProc] = await Promise.all([h.stat(), fsp.stat(`/proc/self/fd/${h.fd}`)]);
        return own.ino === viaProc.ino && own.dev === viaProc.dev;
      } finally {
        await h.close();
      }
    } catch {
      return false;
    }
  })();
  return procFdProbe;
}

/** Options of {@link createRealFs}. */
export interface RealFsOptions {
  /**
   * Reach folders through `/proc/self/fd` (atomic) or by `lstat` checks (the fallback);
   * `auto` uses /proc when it works. Tests force the fallback to cover it.
   */
  readonly beneath?: 'auto' | 'proc' | 'lstat';
}

/** The real disk through `node:fs/promises`. */
export function createRealFs(options: RealFsOptions = {}): FileSystem {
  const mode = options.beneath ?? 'auto';
  const walk = async (root: string, path: readonly string[], create: boolean) => {
    const proc = mode === 'proc' || (mode === 'auto' && (await procFdWorks()));
    return (proc ? walkByDescriptor : walkByLstat)(root, path, create);
  };
  let tempCounter = 0;
  const tempBeside = (path: string) =>
    join(dirname(path), `.${basename(path)}.${process.pid}.${tempCounter++}.tmp`);
  const syncFolder = async (dir: string) => {
    const d = await fsp.open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  };

  return {
    writeMemory: lazyPageArena,
    stat: async (path) => toStat(await fsp.lstat(path)),
    readdir: (path) => fsp.readdir(path),
    // The callback form: about twice as fast as fs/promises' for the small files a node reads
    // by the thousand on start (library entries, resume data).
    readFile: (path) => readFileAsync(path),
    async writeFileAtomic(path, data) {
      const temp = tempBeside(path);
      const h = await fsp.open(temp, 'w');
      try {
        await h.writeFile(data);
        await h.sync();
      } finally {
        await h.close();
      }
      await fsp.rename(temp, path);
      await syncFolder(dirname(path));
    },
    open: async (path, openMode) => wrapHandle(await fsp.open(path, openMode)),
    mkdir: async (path) => void (await fsp.mkdir(path, { recursive: true })),
    rm: (path) => fsp.rm(path, { recursive: true, force: true }),
    exists: (path) =>
      fsp.access(path).then(
        () => true,
        () => false,
      ),

    async openBeneath(root, path, beneathMode: BeneathMode, options: OpenOptions = {}) {
      assertPlainNames(root, path);
      const folder = await walk(root, path, beneathMode === 'create');
      const name = path[path.length - 1]!;
      const flags =
        (beneathMode === 'read' ? O_RDONLY : O_RDWR) |
        (beneathMode === 'create' ? O_CREAT : 0) |
        O_NOFOLLOW |
        // A FIFO planted where a file should be would block the open forever without it; a
        // regular file ignores the flag.
        O_NONBLOCK;
      let h: fsp.FileHandle;
      try {
        h = await fsp.open(folder.child(name), flags, 0o666);
      } catch (error) {
        throw explain(error, root, path, path.length - 1);
      } finally {
        await folder.close();
      }
      const s = await h.stat().catch(async (error: unknown) => {
        await h.close();
        throw explain(error, root, path, path.length - 1);
      });
      if (!s.isFile()) {
        await h.close();
        const full = shown(root, path);
        if (s.isDirectory()) throw new IoError(`cannot open "${full}": it is a folder`);
        throw new UnsafeFileError(full, full, 'is not a regular file (a FIFO, socket or device)');
      }
      return wrapHandle(h, beneathMode !== 'read' && options.directWrites === true);
    },

    async statBeneath(root, path) {
      assertPlainNames(root, path);
      const folder = await walk(root, path, false);
      try {
        return toStat(await fsp.lstat(folder.child(path[path.length - 1]!)));
      } catch (error) {
        throw explain(error, root, path, path.length - 1);
      } finally {
        await folder.close();
      }
    },

    async writeSecretFile(path, data) {
      const temp = tempBeside(path);
      // Created 0600 (the umask can only take bits away), never through a link.
      const h = await fsp.open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
      try {
        try {
          await h.chmod(0o600);
          await h.writeFile(data);
          await h.sync();
        } finally {
          await h.close();
        }
        await fsp.rename(temp, path);
      } catch (error) {
        await fsp.rm(temp, { force: true }).catch(() => undefined);
        throw error;
      }
      await syncFolder(dirname(path));
    },

    async readSecretFile(path) {
      const h = await fsp.open(path, O_RDONLY | O_NONBLOCK);
      try {
        const s = await h.stat();
        if (!s.isFile()) throw new SecretFileError(path, 'it is not a regular file');
        if (process.platform !== 'win32') {
          const perms = s.mode & 0o777;
          if ((perms & 0o077) !== 0)
            throw new SecretFileError(
              path,
              `other users may read or change it (mode ${perms.toString(8).padStart(4, '0')}); ` +
                `run: chmod 600 ${path}`,
            );
          const uid = process.getuid?.();
          if (uid !== undefined && s.uid !== uid)
            throw new SecretFileError(
              path,
              `it belongs to another user (uid ${s.uid}, not ${uid}); use a key file of your own`,
            );
        }
        return await h.readFile();
      } finally {
        await h.close();
      }
    },
  };
}

/** The real disk, reaching folders below a root through `/proc/self/fd` where it works. */
export const realFs: FileSystem = createRealFs();
