import { FileSelectionError } from './errors.js';
import type { IndexRange } from './magnet.js';
import type { Metainfo } from './types.js';

/** A file chosen for download: a range of indices (BEP 53 style) or a path in the torrent. */
export type FileSelector = IndexRange | { readonly path: string };

/** Longest index list accepted (`0,2-3,…`). */
const MAX_LIST_CHARS = 4096;

/**
 * Parses a list of file indices and inclusive ranges, `0,2-3,7`, as `shoal get --only` and
 * BEP 53's `so=` write them. @throws {FileSelectionError}
 */
export function parseIndexList(text: string): IndexRange[] {
  if (text.length > MAX_LIST_CHARS)
    throw new FileSelectionError(`a file list is at most ${MAX_LIST_CHARS} characters`);
  const out: IndexRange[] = [];
  for (const part of text.split(',')) {
    const m = /^\s*(\d{1,9})\s*(?:-\s*(\d{1,9})\s*)?$/.exec(part);
    if (!m) throw new FileSelectionError(`"${part}" is not a file index or range like 2-5`);
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (last < first) throw new FileSelectionError(`the range ${part.trim()} runs backwards`);
    out.push({ first, last });
  }
  return out;
}

/**
 * Where the torrent's real files are in `meta.files`: file numbers as users see them (in
 * `shoal info`, the API, BEP 53) skip BEP 47 padding entries.
 */
export function realFileIndices(meta: Pick<Metainfo, 'files'>): number[] {
  const out: number[] = [];
  meta.files.forEach((f, i) => {
    if (!f.padding) out.push(i);
  });
  return out;
}

/**
 * Per-file priorities for `meta` (one per entry of `meta.files`) that fetch only the selected
 * files (1) and skip the rest (0). Indices count real files only (padding is skipped).
 * A path names a file by its path below the torrent's folder (`dir/a.mkv`), with or without the
 * torrent's name in front, or a folder (every file below it). Ranges past the last file are
 * cut; a selection that names no file at all is refused. @throws {FileSelectionError}
 */
export function selectedPriorities(meta: Metainfo, selectors: readonly FileSelector[]): number[] {
  const priorities = meta.files.map(() => 0);
  for (const sel of selectors) {
    let matched = 0;
    if ('path' in sel) {
      const wanted = sel.path.replace(/^\/+|\/+$/g, '');
      meta.files.forEach((f, i) => {
        if (f.padding) return;
        const path = meta.singleFile ? meta.name : f.path.join('/');
        for (const p of [path, `${meta.name}/${path}`])
          if (p === wanted || p.startsWith(`${wanted}/`)) {
            priorities[i] = 1;
            matched++;
            return;
          }
      });
      if (matched === 0) throw new FileSelectionError(`the torrent has no file "${sel.path}"`);
    } else {
      const real = realFileIndices(meta);
      for (let i = sel.first; i <= Math.min(sel.last, real.length - 1); i++) {
        priorities[real[i]!] = 1;
        matched++;
      }
      if (matched === 0)
        throw new FileSelectionError(
          `the torrent has no file ${sel.first === sel.last ? sel.first : `${sel.first}-${sel.last}`} (it has ${real.length})`,
        );
    }
  }
  return priorities;
}
