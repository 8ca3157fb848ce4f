import { MetainfoError } from './errors.js';

/**
 * Two files of one torrent that cannot both exist on disk: the same path twice, possibly only
 * after case folding or Unicode normalisation (as case-insensitive or normalising file systems
 * compare names), or a file that another file needs as a folder. Either would make one file
 * overwrite the other, or the download fail half-way.
 */
export class PathClashError extends MetainfoError {
  constructor(
    /** The two clashing paths, as the torrent spells them, in torrent order. */
    readonly paths: readonly [string, string],
    reason: string,
  ) {
    super(`files "${paths[0]}" and "${paths[1]}" ${reason}`);
  }
}

/**
 * Code points that HFS+ ignores when it compares names (joiners, direction marks, the BOM):
 * two names that differ only by them are the same file there.
 */
const IGNORED_BY_HFS = /[\u200b-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/g;

/**
 * A name as a case-insensitive, normalising file system compares it: NFC, full case folding
 * (lower, upper, then lower case maps `ẞ`, `ß` and `SS` to `ss` and `ς` to `σ`, as folding
 * does), code points HFS+ ignores removed. Stricter than any one file system, so a torrent is
 * refused when any of them would merge two of its names.
 */
export function foldName(name: string): string {
  return name
    .replace(IGNORED_BY_HFS, '')
    .normalize('NFC')
    .toLowerCase()
    .toUpperCase()
    .toLowerCase()
    .normalize('NFC');
}

/**
 * Throws {@link PathClashError} when two non-padding files of a torrent would be one file on
 * some file system, or one is a folder of the other. Padding files (BEP 47) are never written,
 * so they clash with nothing. Linear in the paths' length plus a sort of the files.
 */
export function assertNoPathClashes(
  files: readonly { readonly path: readonly string[]; readonly padding: boolean }[],
): void {
  const keys: string[] = [];
  const which: number[] = [];
  files.forEach((f, i) => {
    if (f.padding) return;
    // NUL never occurs in a name (assertSafePath refuses control characters) and sorts first,
    // so a folder's files come right after a file of the same name.
    keys.push(f.path.map(foldName).join('\0'));
    which.push(i);
  });
  const order = keys.map((_, k) => k);
  order.sort((a, b) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : a - b));
  for (let n = 1; n < order.length; n++) {
    const a = order[n - 1]!;
    const b = order[n]!;
    const [first, second] = a < b ? [a, b] : [b, a];
    const paths: [string, string] = [
      files[which[first]!]!.path.join('/'),
      files[which[second]!]!.path.join('/'),
    ];
    if (keys[a] === keys[b])
      throw new PathClashError(
        paths,
        paths[0] === paths[1]
          ? 'are the same path'
          : 'name the same file on case-insensitive or Unicode-normalising file systems',
      );
    if (keys[b]!.startsWith(`${keys[a]}\0`))
      throw new PathClashError(
        [files[which[a]!]!.path.join('/'), files[which[b]!]!.path.join('/')],
        'clash: the first is a file but the second needs it as a folder',
      );
  }
}
