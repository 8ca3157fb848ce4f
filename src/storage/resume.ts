import { type BValue, decode, encode } from '../codec/bencode.js';
import type { FileSystem } from '../runtime/runtime.js';

/** What is remembered about a torrent's files between runs. */
export interface ResumeData {
  /** BEP 3 bitfield of verified pieces. */
  readonly have: Uint8Array;
  /** Size and modification time of each file when `have` was saved. */
  readonly files: readonly { readonly length: number; readonly mtimeMs: number }[];
}

/** Saves resume data atomically (temp file, fsync, rename), so a crash leaves old or new. */
export async function saveResume(fs: FileSystem, path: string, data: ResumeData): Promise<void> {
  await fs.writeFileAtomic(
    path,
    encode({
      version: 1,
      have: data.have,
      files: data.files.map((f) => ({ length: f.length, mtime: Math.floor(f.mtimeMs) })),
    }),
  );
}

/** Loads resume data; anything missing or malformed counts as none (a full check follows). */
export async function loadResume(fs: FileSystem, path: string): Promise<ResumeData | undefined> {
  let root: BValue;
  try {
    root = decode(await fs.readFile(path));
  } catch {
    return undefined;
  }
  if (!(root instanceof Map) || root.get('version') !== 1) return undefined;
  const have = root.get('have');
  const files = root.get('files');
  if (!(have instanceof Uint8Array) || !Array.isArray(files)) return undefined;
  const out: { length: number; mtimeMs: number }[] = [];
  for (const f of files) {
    if (!(f instanceof Map)) return undefined;
    const length = f.get('length');
    const mtime = f.get('mtime');
    if (typeof length !== 'number' || typeof mtime !== 'number') return undefined;
    out.push({ length, mtimeMs: mtime });
  }
  return { have, files: out };
}
