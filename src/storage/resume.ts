import { type BValue, decode, encode } from '../codec/bencode.js';
import type { FileSystem } from '../runtime/runtime.js';

/** What is remembered about a torrent's files between runs. */
export interface ResumeData {
  /** BEP 3 bitfield of verified pieces. */
  readonly have: Uint8Array;
  /** Size and modification time of each file when `have` was saved. */
  readonly files: readonly { readonly length: number; readonly mtimeMs: number }[];
  /**
   * v2 piece layers fetched from peers (BEP 52), keyed by the hex of their file's pieces root,
   * so a magnet download does not ask for them again after a restart. Whoever loads them
   * checks them against the roots again.
   */
  readonly pieceLayers?: ReadonlyMap<string, Uint8Array>;
}

/** Saves resume data atomically (temp file, fsync, rename), so a crash leaves old or new. */
export async function saveResume(fs: FileSystem, path: string, data: ResumeData): Promise<void> {
  await fs.writeFileAtomic(
    path,
    encode({
      version: 1,
      have: data.have,
      files: data.files.map((f) => ({ length: f.length, mtime: Math.floor(f.mtimeMs) })),
      ...(data.pieceLayers &&
        data.pieceLayers.size > 0 && { 'piece layers': new Map(data.pieceLayers) }),
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
  const layers = root.get('piece layers');
  const pieceLayers = new Map<string, Uint8Array>();
  if (layers instanceof Map) {
    for (const [key, layer] of layers) {
      if (/^[0-9a-f]{64}$/.test(key) && layer instanceof Uint8Array) pieceLayers.set(key, layer);
    }
  }
  return { have, files: out, ...(pieceLayers.size > 0 && { pieceLayers }) };
}
