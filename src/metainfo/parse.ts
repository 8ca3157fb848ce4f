import { type BDict, BencodeError, type BValue, decode, type Span } from '../codec/bencode.js';
import { sha1, sha256 } from '../crypto/hash.js';
import {
  HASH_BYTES,
  MERKLE_BLOCK_BYTES,
  merkleRoot,
  nextPowerOfTwo,
  zeroSubtreeRoot,
} from '../crypto/merkle.js';
import { MetainfoError } from './errors.js';
import {
  bytesField,
  dictField,
  intField,
  isDict,
  listField,
  optionalText,
  utf8Strict,
} from './fields.js';
import { assertNoPathClashes } from './path-clashes.js';
import { assertSafePath } from './paths.js';
import type { Metainfo, TorrentFile, TorrentVersion } from './types.js';

/** Bounds on what a torrent may describe, so a hostile file costs bounded memory and time. */
export interface MetainfoLimits {
  readonly maxTorrentBytes: number;
  readonly maxFiles: number;
  readonly maxPieces: number;
  readonly maxPathDepth: number;
  readonly maxPieceLength: number;
  readonly maxTotalLength: number;
}

/** Defaults in line with what mainstream clients accept. */
export const DEFAULT_METAINFO_LIMITS: MetainfoLimits = {
  maxTorrentBytes: 64 * 1024 * 1024,
  maxFiles: 1_000_000,
  maxPieces: 1 << 22,
  maxPathDepth: 64,
  maxPieceLength: 512 * 1024 * 1024,
  maxTotalLength: 2 ** 50,
};

/** Parses and validates a `.torrent` file (v1, v2 or hybrid). @throws {MetainfoError} */
export function parseTorrent(bytes: Uint8Array, limits: Partial<MetainfoLimits> = {}): Metainfo {
  const lim = { ...DEFAULT_METAINFO_LIMITS, ...limits };
  if (bytes.length > lim.maxTorrentBytes) {
    throw new MetainfoError(
      `file of ${bytes.length} bytes exceeds the ${lim.maxTorrentBytes}-byte limit`,
    );
  }
  const spans = new WeakMap<object, Span>();
  const root = decodeOrExplain(bytes, spans);
  if (!isDict(root)) throw new MetainfoError('top level must be a dictionary');
  const info = dictField(root, 'info', '');
  const span = spans.get(info)!;
  const infoBytes = Buffer.from(bytes.buffer, bytes.byteOffset + span.start, span.end - span.start);
  const layers = root.get('piece layers');
  const parsed = parseInfo(info, infoBytes, isDict(layers) ? layers : undefined, lim);
  return { ...parsed, ...topLevelFields(root) };
}

/**
 * Parses a bare info dictionary, as fetched from peers for a magnet link (BEP 9).
 * v2 piece layers are not part of it and arrive later from peers.
 * @throws {MetainfoError}
 */
export function parseInfoDictionary(
  infoBytes: Uint8Array,
  limits: Partial<MetainfoLimits> = {},
): Metainfo {
  const lim = { ...DEFAULT_METAINFO_LIMITS, ...limits };
  const info = decodeOrExplain(infoBytes, undefined);
  if (!isDict(info)) throw new MetainfoError('info must be a dictionary');
  return { ...parseInfo(info, Buffer.from(infoBytes), undefined, lim), announce: [], webSeeds: [] };
}

function decodeOrExplain(bytes: Uint8Array, spans: WeakMap<object, Span> | undefined): BValue {
  try {
    return decode(bytes, spans ? { spans } : {});
  } catch (error) {
    if (error instanceof BencodeError) throw new MetainfoError(error.message);
    throw error;
  }
}

type InfoFields = Omit<
  Metainfo,
  'announce' | 'webSeeds' | 'comment' | 'createdBy' | 'creationDate'
>;

function parseInfo(
  info: BDict,
  infoBytes: Buffer,
  layerDict: BDict | undefined,
  lim: MetainfoLimits,
): InfoFields {
  const name = utf8Strict(bytesField(info, 'name', 'info.'), 'info.name');
  assertSafePath([name]);
  const pieceLength = intField(info, 'piece length', 'info.', 1, lim.maxPieceLength);
  const hasV2 = info.has('meta version');
  const hasV1 = info.has('pieces');
  if (hasV2) {
    const mv = intField(info, 'meta version', 'info.', 0, Number.MAX_SAFE_INTEGER);
    if (mv !== 2) throw new MetainfoError(`unsupported meta version ${mv}`);
    if (pieceLength < MERKLE_BLOCK_BYTES || (pieceLength & (pieceLength - 1)) !== 0) {
      throw new MetainfoError(`v2 piece length ${pieceLength} is not a power of two ≥ 16 KiB`);
    }
  }
  if (!hasV1 && !hasV2)
    throw new MetainfoError('info has neither pieces (v1) nor meta version (v2)');
  const version: TorrentVersion = hasV1 && hasV2 ? 'hybrid' : hasV2 ? 'v2' : 'v1';

  const v2Files = hasV2 ? readFileTree(info, lim) : undefined;
  const v1 = hasV1 ? readV1Files(info, name, lim) : undefined;
  const layout = v1 ?? alignV2Files(v2Files!, pieceLength);
  if (v1 && v2Files) checkHybridAgreement(v1, v2Files, pieceLength);
  if (!layout.singleFile) assertNoPathClashes(layout.files);

  const streamLength = layout.files.reduce((n, f) => n + f.length, 0);
  const totalLength = layout.files.reduce((n, f) => n + (f.padding ? 0 : f.length), 0);
  if (totalLength > lim.maxTotalLength)
    throw new MetainfoError(`total size ${totalLength} is absurd`);
  const pieceCount = Math.ceil(streamLength / pieceLength);
  if (pieceCount > lim.maxPieces) {
    throw new MetainfoError(`${pieceCount} pieces exceed the limit of ${lim.maxPieces}`);
  }

  let pieces: Buffer | undefined;
  if (hasV1) {
    const p = bytesField(info, 'pieces', 'info.');
    if (p.length !== pieceCount * 20) {
      throw new MetainfoError(
        `info.pieces holds ${p.length} bytes but ${pieceCount} pieces need ${pieceCount * 20}`,
      );
    }
    pieces = Buffer.from(p.buffer, p.byteOffset, p.length);
  }

  const files = v2Files ? attachRoots(layout.files, v2Files) : layout.files;
  const pieceLayers = hasV2 ? readPieceLayers(layerDict, files, pieceLength) : new Map();
  const privateFlag = info.get('private');

  return {
    version,
    ...(hasV1 && { infoHashV1: sha1(infoBytes) }),
    ...(hasV2 && { infoHashV2: sha256(infoBytes) }),
    name,
    pieceLength,
    pieceCount,
    totalLength,
    streamLength,
    files,
    singleFile: layout.singleFile,
    ...(pieces && { pieces }),
    pieceLayers,
    private: privateFlag === 1,
    infoBytes,
  };
}

interface Layout {
  files: TorrentFile[];
  singleFile: boolean;
}

interface V2File {
  path: string[];
  length: number;
  piecesRoot?: Buffer;
  executable: boolean;
  hidden: boolean;
}

function attrFlags(d: BDict): {
  padding: boolean;
  executable: boolean;
  hidden: boolean;
  symlink: boolean;
} {
  const a = d.get('attr');
  const s = a instanceof Uint8Array ? Buffer.from(a).toString('latin1') : '';
  return {
    padding: s.includes('p'),
    executable: s.includes('x'),
    hidden: s.includes('h'),
    symlink: s.includes('l'),
  };
}

function readV1Files(info: BDict, name: string, lim: MetainfoLimits): Layout {
  if (!info.has('files')) {
    const length = intField(info, 'length', 'info.', 0, lim.maxTotalLength);
    const f = attrFlags(info);
    return {
      files: [
        {
          path: [name],
          length,
          offset: 0,
          padding: false,
          executable: f.executable,
          hidden: f.hidden,
        },
      ],
      singleFile: true,
    };
  }
  if (info.has('length')) throw new MetainfoError('info has both length and files');
  const list = listField(info, 'files', 'info.');
  if (list.length === 0) throw new MetainfoError('info.files is empty');
  if (list.length > lim.maxFiles) throw new MetainfoError(`${list.length} files exceed the limit`);
  const files: TorrentFile[] = [];
  let offset = 0;
  list.forEach((entry, i) => {
    const where = `info.files[${i}].`;
    if (!isDict(entry)) throw new MetainfoError(`${where.slice(0, -1)} must be a dictionary`);
    const length = intField(entry, 'length', where, 0, lim.maxTotalLength);
    const flags = attrFlags(entry);
    if (flags.symlink) throw new MetainfoError(`${where}attr: symbolic links are not supported`);
    const rawPath = listField(entry, 'path', where);
    if (rawPath.length > lim.maxPathDepth) throw new MetainfoError(`${where}path is too deep`);
    const path = rawPath.map((c, j) => {
      if (!(c instanceof Uint8Array))
        throw new MetainfoError(`${where}path[${j}] must be a string`);
      return utf8Strict(c, `${where}path[${j}]`);
    });
    if (!flags.padding) assertSafePath(path);
    files.push({
      path,
      length,
      offset,
      padding: flags.padding,
      executable: flags.executable,
      hidden: flags.hidden,
    });
    offset += length;
    if (offset > lim.maxTotalLength) throw new MetainfoError('total size is absurd');
  });
  return { files, singleFile: false };
}

function readFileTree(info: BDict, lim: MetainfoLimits): V2File[] {
  const tree = dictField(info, 'file tree', 'info.');
  const out: V2File[] = [];
  const walk = (node: BDict, path: string[]): void => {
    if (path.length > lim.maxPathDepth) throw new MetainfoError('info.file tree is too deep');
    for (const [rawKey, child] of node) {
      const key = utf8Strict(Buffer.from(rawKey, 'latin1'), 'a file tree name');
      const childPath = [...path, key];
      const where = `info.file tree/${childPath.join('/')}`;
      if (!isDict(child)) throw new MetainfoError(`${where} must be a dictionary`);
      const leaf = child.get('');
      if (leaf !== undefined && child.size === 1 && isDict(leaf)) {
        assertSafePath(childPath);
        const length = intField(leaf, 'length', `${where}.`, 0, lim.maxTotalLength);
        const flags = attrFlags(leaf);
        if (flags.symlink) throw new MetainfoError(`${where}: symbolic links are not supported`);
        const file: V2File = {
          path: childPath,
          length,
          executable: flags.executable,
          hidden: flags.hidden,
        };
        if (length > 0) {
          const root = bytesField(leaf, 'pieces root', `${where}.`);
          if (root.length !== HASH_BYTES)
            throw new MetainfoError(`${where}.pieces root must be 32 bytes`);
          file.piecesRoot = Buffer.from(root);
        }
        out.push(file);
        if (out.length > lim.maxFiles) throw new MetainfoError('too many files');
      } else {
        if (child.has('')) throw new MetainfoError(`${where} mixes a file entry with other keys`);
        walk(child, childPath);
      }
    }
  };
  walk(tree, []);
  if (out.length === 0) throw new MetainfoError('info.file tree holds no files');
  return out;
}

function isSingleV2(files: V2File[]): boolean {
  return files.length === 1 && files[0]!.path.length === 1;
}

/** v2-only: files are aligned to piece boundaries; model the gaps as padding entries. */
function alignV2Files(v2: V2File[], pieceLength: number): Layout {
  const files: TorrentFile[] = [];
  let offset = 0;
  v2.forEach((f, i) => {
    files.push({
      path: f.path,
      length: f.length,
      offset,
      padding: false,
      executable: f.executable,
      hidden: f.hidden,
    });
    offset += f.length;
    const gap = (pieceLength - (offset % pieceLength)) % pieceLength;
    if (gap > 0 && i < v2.length - 1) {
      files.push({
        path: ['.pad', String(gap)],
        length: gap,
        offset,
        padding: true,
        executable: false,
        hidden: false,
      });
      offset += gap;
    }
  });
  return { files, singleFile: isSingleV2(v2) };
}

function checkHybridAgreement(v1: Layout, v2: V2File[], pieceLength: number): void {
  const real = v1.files.filter((f) => !f.padding);
  const single = v1.singleFile;
  if (real.length !== v2.length) {
    throw new MetainfoError(
      `hybrid torrent lists ${real.length} v1 files but ${v2.length} v2 files`,
    );
  }
  real.forEach((f, i) => {
    const g = v2[i]!;
    const samePath = single ? g.path.length === 1 : f.path.join('/') === g.path.join('/');
    if (!samePath || f.length !== g.length) {
      throw new MetainfoError(
        `hybrid torrent's v1 and v2 file lists disagree at "${f.path.join('/')}"`,
      );
    }
    if (f.length > 0 && f.offset % pieceLength !== 0) {
      throw new MetainfoError(`hybrid torrent's file "${f.path.join('/')}" is not piece-aligned`);
    }
  });
}

function attachRoots(files: TorrentFile[], v2: V2File[]): TorrentFile[] {
  let i = 0;
  return files.map((f) => {
    if (f.padding) return f;
    const root = v2[i++]?.piecesRoot;
    return root ? { ...f, piecesRoot: root } : f;
  });
}

function readPieceLayers(
  dict: BDict | undefined,
  files: TorrentFile[],
  pieceLength: number,
): Map<string, Buffer> {
  const layers = new Map<string, Buffer>();
  if (dict === undefined) return layers;
  const pad = zeroSubtreeRoot(pieceLength / MERKLE_BLOCK_BYTES);
  for (const f of files) {
    if (f.padding || f.piecesRoot === undefined || f.length <= pieceLength) continue;
    const key = f.piecesRoot.toString('latin1');
    const layer = dict.get(key);
    if (layer === undefined) continue; // may be fetched from peers later
    const count = Math.ceil(f.length / pieceLength);
    if (!(layer instanceof Uint8Array) || layer.length !== count * HASH_BYTES) {
      throw new MetainfoError(`piece layer of "${f.path.join('/')}" must hold ${count} hashes`);
    }
    if (!merkleRoot(layer, nextPowerOfTwo(count), pad).equals(f.piecesRoot)) {
      throw new MetainfoError(
        `piece layer of "${f.path.join('/')}" does not match its pieces root`,
      );
    }
    layers.set(f.piecesRoot.toString('hex'), Buffer.from(layer));
  }
  return layers;
}

function topLevelFields(
  root: BDict,
): Pick<Metainfo, 'announce' | 'webSeeds' | 'comment' | 'createdBy' | 'creationDate'> {
  const text = (v: BValue | undefined): string | undefined =>
    v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : undefined;
  const tiers: string[][] = [];
  const list = root.get('announce-list');
  if (Array.isArray(list)) {
    for (const tier of list) {
      if (!Array.isArray(tier)) continue;
      const urls = tier.map(text).filter((u): u is string => u !== undefined && u.length > 0);
      if (urls.length > 0) tiers.push(urls);
    }
  }
  const single = text(root.get('announce'));
  if (tiers.length === 0 && single) tiers.push([single]);
  const urlList = root.get('url-list');
  const webSeeds = (Array.isArray(urlList) ? urlList.map(text) : [text(urlList)]).filter(
    (u): u is string => u !== undefined && u.length > 0,
  );
  const date = root.get('creation date');
  const comment = optionalText(root, 'comment');
  const createdBy = optionalText(root, 'created by');
  return {
    announce: tiers,
    webSeeds,
    ...(comment !== undefined && { comment }),
    ...(createdBy !== undefined && { createdBy }),
    ...(typeof date === 'number' && { creationDate: date }),
  };
}
