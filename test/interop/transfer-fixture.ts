/** The content and torrents every transfer test shares, and checks of what a client saved. */
import { createHash } from 'node:crypto';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseTorrent } from '../../src/metainfo/parse.js';
import { pseudoRandomBytes, runShoal, shoalInfo, type TestContext, tempDir } from './harness.js';

// ---------------------------------------------------------------- transfer fixture

const KiB = 1024;

/**
 * The content every transfer test moves: a folder `payload/` of a few files, one in a nested
 * folder, none a multiple of the piece length, about 3.4 MB in all.
 */
export const TRANSFER_FILES: Readonly<Record<string, number>> = {
  'readme.txt': 70_001,
  'docs/notes.md': 33_333,
  'docs/deep/data.bin': 1_234_567,
  'big.bin': 2_000_003,
  'z-last.dat': 99_999,
};

/** Which kind of torrent a transfer uses. */
export type TransferVersion = 'hybrid' | 'v1' | 'v2';

/** Content on disk plus torrents of it made by `shoal create`. */
export interface TransferFixture {
  /** Folder that holds the content folder (what a seeder is pointed at as its save path). */
  readonly root: string;
  /** The content folder itself, `<root>/payload`. */
  readonly content: string;
  readonly name: string;
  readonly pieceLength: number;
  /** SHA-256 (hex) and length of every file, keyed by its path inside the content folder. */
  readonly files: ReadonlyMap<string, { readonly length: number; readonly sha256: string }>;
  /** Path of the `.torrent` of each version made. */
  readonly torrents: Readonly<Partial<Record<TransferVersion, string>>>;
  /** Info-hashes of each version, as `shoal info` reports them. */
  readonly infoHashes: Readonly<
    Partial<Record<TransferVersion, { v1: string | null; v2: string | null }>>
  >;
}

export const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/**
 * Writes the {@link TRANSFER_FILES} content (or `sizes`: path → length) under a new folder
 * (removed when `t` ends) and makes a torrent of it for each of `versions` with
 * `shoal create --piece-length pieceLength`.
 */
export async function makeTransferFixture(
  t: TestContext,
  versions: readonly TransferVersion[] = ['hybrid', 'v1', 'v2'],
  pieceLength = 32 * KiB,
  sizes: Readonly<Record<string, number>> = TRANSFER_FILES,
): Promise<TransferFixture> {
  const root = await tempDir(t, 'shoal-fixture-');
  const name = 'payload';
  const content = join(root, 'content', name);
  const files = new Map<string, { length: number; sha256: string }>();
  for (const [path, length] of Object.entries(sizes)) {
    const data = pseudoRandomBytes(`transfer/${path}`, length);
    await mkdir(dirname(join(content, path)), { recursive: true });
    await writeFile(join(content, path), data);
    files.set(path, { length, sha256: sha256(data) });
  }
  const torrents: Partial<Record<TransferVersion, string>> = {};
  const infoHashes: Partial<Record<TransferVersion, { v1: string | null; v2: string | null }>> = {};
  for (const version of versions) {
    const out = join(root, `${name}-${version}.torrent`);
    const r = await runShoal([
      'create',
      content,
      '-o',
      out,
      `--${version}`,
      '--piece-length',
      String(pieceLength),
    ]);
    if (r.code !== 0) throw new Error(`shoal create --${version} failed (${r.code}): ${r.stderr}`);
    const info = await shoalInfo(out);
    torrents[version] = out;
    infoHashes[version] = { v1: info.infoHashV1, v2: info.infoHashV2 };
  }
  return {
    root: dirname(content),
    content,
    name,
    pieceLength,
    files,
    torrents,
    infoHashes,
  };
}

/** The `.torrent` of `version` in `fixture`; throws if it was not made. */
export function torrentOf(fixture: TransferFixture, version: TransferVersion): string {
  const path = fixture.torrents[version];
  if (path === undefined) throw new Error(`the fixture has no ${version} torrent`);
  return path;
}

/** Copies the fixture's content folder into `saveDir` (so a client can seed it from there). */
export async function copyContent(fixture: TransferFixture, saveDir: string): Promise<void> {
  await cp(fixture.content, join(saveDir, fixture.name), { recursive: true });
}

/**
 * Writes the BEP 47 padding files of `torrentPath` (zeros) under `saveDir`, as a client that
 * does not know padding files would have stored them after downloading a hybrid torrent:
 * such clients (aria2, Transmission) read them back to check and seed the pieces they span.
 */
export async function writePadFiles(torrentPath: string, saveDir: string): Promise<void> {
  const meta = parseTorrent(await readFile(torrentPath));
  for (const f of meta.files) {
    if (!f.padding) continue;
    const path = join(saveDir, meta.name, ...f.path);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, Buffer.alloc(f.length));
  }
}

/**
 * Checks that `saveDir/<name>/` holds every fixture file with the same length and SHA-256;
 * throws naming each missing or different file. Extra files (e.g. `.pad/` written by clients
 * that do not know BEP 47 padding files) are ignored.
 */
export async function assertSameContent(fixture: TransferFixture, saveDir: string): Promise<void> {
  const problems: string[] = [];
  for (const [path, want] of fixture.files) {
    const full = join(saveDir, fixture.name, path);
    let data: Buffer;
    try {
      data = await readFile(full);
    } catch (error) {
      problems.push(`${path}: ${(error as Error).message}`);
      continue;
    }
    if (data.length !== want.length) {
      problems.push(`${path}: ${data.length} bytes, expected ${want.length}`);
    } else if (sha256(data) !== want.sha256) {
      problems.push(`${path}: SHA-256 ${sha256(data)}, expected ${want.sha256}`);
    }
  }
  if (problems.length > 0) {
    throw new Error(`downloaded content differs from the source:\n  ${problems.join('\n  ')}`);
  }
}
