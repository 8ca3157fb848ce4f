import { basename, resolve } from 'node:path';
import { SingleBar } from 'cli-progress';
import { HashPool } from '../../crypto/hash-pool.js';
import { UsageError } from '../../errors.js';
import { createTorrent } from '../../metainfo/create.js';
import { formatMagnet, magnetFromMetainfo } from '../../metainfo/magnet.js';
import type { TorrentVersion } from '../../metainfo/types.js';
import type { Runtime } from '../../runtime/runtime.js';
import { parseByteSize } from '../format.js';

/** Options of `shoal create`, as parsed from the command line. */
export interface CreateCommandOptions {
  readonly output?: string;
  readonly v1?: boolean;
  readonly v2?: boolean;
  readonly hybrid?: boolean;
  readonly pieceLength?: string;
  readonly tracker: string[];
  readonly webSeed: string[];
  readonly private?: boolean;
  readonly comment?: string;
  /** Overwrite an existing output file. */
  readonly force?: boolean;
}

const PROGRESS_MIN_BYTES = 64 * 1024 * 1024;

/**
 * What `create` and `share` make unless told otherwise: v1, which every client reads. The
 * Transmission 3.00 and aria2 1.36 that Debian 12 ships cannot use a hybrid or v2 torrent
 * (Transmission refuses to parse one; aria2 computes a wrong info-hash for a hybrid and refuses
 * a v2 one), libtorrent's hybrids included: test/interop/formats.test.ts checks it, the README
 * has the table.
 */
export const DEFAULT_TORRENT_VERSION: TorrentVersion = 'v1';

/** The warning printed when a torrent some common clients cannot read is made. */
export function formatWarning(version: TorrentVersion): string | undefined {
  return version === 'v1'
    ? undefined
    : `note: a ${version} torrent cannot be used by Transmission 3.x or aria2 (up to 1.36 at least); --v1 can (README: "Torrent formats")`;
}

/** `shoal create <path>`: hashes a file or folder and writes a `.torrent`. */
export async function createCommand(
  runtime: Runtime,
  path: string,
  opts: CreateCommandOptions,
): Promise<void> {
  const chosen = (['v1', 'v2', 'hybrid'] as const).filter((v) => opts[v]);
  if (chosen.length > 1) throw new UsageError('choose at most one of --v1, --v2, --hybrid');
  const version: TorrentVersion = chosen[0] ?? DEFAULT_TORRENT_VERSION;
  let pieceLength: number | undefined;
  if (opts.pieceLength !== undefined) {
    pieceLength = parseByteSize(opts.pieceLength);
    if (pieceLength === undefined || pieceLength <= 0) {
      throw new UsageError(
        `--piece-length "${opts.pieceLength}" is not a byte count (e.g. 262144 or 256K)`,
      );
    }
  }
  const input = resolve(path.replace(/\/+$/, '') || '/');
  const output = opts.output ?? `${basename(input)}.torrent`;
  if (!opts.force && (await runtime.fs.exists(output)))
    throw new UsageError(`${output} exists; use --force to overwrite it, or -o to write elsewhere`);
  const pool = new HashPool();
  let bar: SingleBar | undefined;
  try {
    const { torrent, metainfo } = await createTorrent(input, runtime.fs, pool, {
      version,
      ...(pieceLength !== undefined && { pieceLength }),
      trackers: opts.tracker,
      webSeeds: opts.webSeed,
      private: opts.private === true,
      ...(opts.comment !== undefined && { comment: opts.comment }),
      createdBy: 'shoal/0.1.0',
      creationDate: Math.floor(runtime.clock.wallTime() / 1000),
      onProgress(done, total) {
        if (bar === undefined && process.stderr.isTTY && total >= PROGRESS_MIN_BYTES) {
          bar = new SingleBar({
            format: 'hashing [{bar}] {percentage}% | {value}/{total} MiB | ETA {eta}s',
            stream: process.stderr,
          });
          bar.start(Math.ceil(total / 2 ** 20), 0);
        }
        bar?.update(Math.floor(done / 2 ** 20));
      },
    });
    bar?.stop();
    await runtime.fs.writeFileAtomic(output, torrent);
    const warning = formatWarning(version);
    if (warning) process.stderr.write(`${warning}\n`);
    const lines = [`created ${output}`];
    if (metainfo.infoHashV1) lines.push(`info-hash v1: ${metainfo.infoHashV1.toString('hex')}`);
    if (metainfo.infoHashV2) lines.push(`info-hash v2: ${metainfo.infoHashV2.toString('hex')}`);
    lines.push(`magnet: ${formatMagnet(magnetFromMetainfo(metainfo))}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    bar?.stop();
    await pool.close();
  }
}
