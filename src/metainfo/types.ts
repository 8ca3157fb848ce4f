/** Which hash trees a torrent carries: SHA-1 pieces (v1), merkle roots (v2), or both. */
export type TorrentVersion = 'v1' | 'v2' | 'hybrid';

/** One file of a torrent, including BEP 47 padding entries. */
export interface TorrentFile {
  /** Path components below the torrent's folder (for single-file torrents: `[name]`). */
  readonly path: readonly string[];
  readonly length: number;
  /** Offset of the file's first byte in the v1 byte stream (all files back to back). */
  readonly offset: number;
  /** A BEP 47 padding file: zeros that exist only to align the next file; never written. */
  readonly padding: boolean;
  readonly executable: boolean;
  readonly hidden: boolean;
  /** v2 merkle root of the file's 16 KiB blocks; absent for v1-only torrents and empty files. */
  readonly piecesRoot?: Buffer;
}

/** A parsed, validated torrent (BEP 3 / BEP 52), with the exact bytes of its info dictionary. */
export interface Metainfo {
  readonly version: TorrentVersion;
  /** SHA-1 of the raw info dictionary (v1 and hybrid). */
  readonly infoHashV1?: Buffer;
  /** SHA-256 of the raw info dictionary (v2 and hybrid). */
  readonly infoHashV2?: Buffer;
  readonly name: string;
  readonly pieceLength: number;
  readonly pieceCount: number;
  /** Bytes of content, padding excluded. */
  readonly totalLength: number;
  /** Length of the v1 byte stream, padding included. */
  readonly streamLength: number;
  readonly files: readonly TorrentFile[];
  /** True when the torrent is a single file (no `files` list / single file tree entry). */
  readonly singleFile: boolean;
  /** v1 piece hashes, 20 bytes each. */
  readonly pieces?: Buffer;
  /** v2 piece layers keyed by the hex of a file's pieces root. */
  readonly pieceLayers: ReadonlyMap<string, Buffer>;
  /** Trackers as BEP 12 tiers. */
  readonly announce: readonly (readonly string[])[];
  /** Web seeds (BEP 19 `url-list`). */
  readonly webSeeds: readonly string[];
  readonly private: boolean;
  readonly comment?: string;
  readonly createdBy?: string;
  /** Seconds since the Unix epoch. */
  readonly creationDate?: number;
  /** The info dictionary exactly as it appeared in the file. */
  readonly infoBytes: Buffer;
}
