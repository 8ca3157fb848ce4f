import { formatMagnet, magnetFromMetainfo, parseMagnet } from '../../metainfo/magnet.js';
import { parseTorrent } from '../../metainfo/parse.js';
import type { Metainfo } from '../../metainfo/types.js';
import type { Runtime } from '../../runtime/runtime.js';
import { formatBytes } from '../format.js';

/** `shoal info <file.torrent|magnet>`: prints what a torrent or magnet link describes. */
export async function infoCommand(
  runtime: Runtime,
  source: string,
  opts: { json?: boolean },
): Promise<void> {
  if (source.toLowerCase().startsWith('magnet:')) {
    const m = parseMagnet(source);
    const summary = {
      name: m.name ?? null,
      infoHashV1: m.infoHashV1?.toString('hex') ?? null,
      infoHashV2: m.infoHashV2?.toString('hex') ?? null,
      trackers: m.trackers,
      webSeeds: m.webSeeds,
      peers: m.peers.map((p) => `${p.host}:${p.port}`),
      selectOnly: m.selectOnly ?? null,
      magnet: formatMagnet(m),
    };
    print(opts.json === true, summary, () => [
      ['name', summary.name ?? '(not given)'],
      ['info-hash v1', summary.infoHashV1 ?? '-'],
      ['info-hash v2', summary.infoHashV2 ?? '-'],
      ['trackers', summary.trackers.join('\n') || '-'],
      ['web seeds', summary.webSeeds.join('\n') || '-'],
      ['peers', summary.peers.join('\n') || '-'],
      ['magnet', summary.magnet],
    ]);
    return;
  }
  const meta = parseTorrent(await runtime.fs.readFile(source));
  const summary = describe(meta);
  print(opts.json === true, summary, () => [
    ['name', meta.name],
    ['version', meta.version],
    ['info-hash v1', summary.infoHashV1 ?? '-'],
    ['info-hash v2', summary.infoHashV2 ?? '-'],
    ['piece length', `${meta.pieceLength} (${formatBytes(meta.pieceLength)})`],
    ['pieces', String(meta.pieceCount)],
    ['total size', `${meta.totalLength} (${formatBytes(meta.totalLength)})`],
    ['private', meta.private ? 'yes' : 'no'],
    ...(meta.comment !== undefined ? [['comment', meta.comment] as [string, string]] : []),
    ...(meta.createdBy !== undefined ? [['created by', meta.createdBy] as [string, string]] : []),
    [
      `files (${summary.files.length})`,
      summary.files.map((f) => `${f.path}  ${formatBytes(f.length)}`).join('\n'),
    ],
    [
      'trackers',
      meta.announce.map((tier, i) => `tier ${i + 1}: ${tier.join(' ')}`).join('\n') || '-',
    ],
    ['web seeds', meta.webSeeds.join('\n') || '-'],
    ['magnet', summary.magnet],
  ]);
}

function describe(meta: Metainfo) {
  return {
    name: meta.name,
    version: meta.version,
    infoHashV1: meta.infoHashV1?.toString('hex') ?? null,
    infoHashV2: meta.infoHashV2?.toString('hex') ?? null,
    pieceLength: meta.pieceLength,
    pieceCount: meta.pieceCount,
    totalLength: meta.totalLength,
    private: meta.private,
    comment: meta.comment ?? null,
    createdBy: meta.createdBy ?? null,
    creationDate: meta.creationDate ?? null,
    files: meta.files
      .filter((f) => !f.padding)
      .map((f) => ({ path: f.path.join('/'), length: f.length })),
    trackers: meta.announce,
    webSeeds: meta.webSeeds,
    magnet: formatMagnet(magnetFromMetainfo(meta)),
  };
}

function print(json: boolean, value: unknown, lines: () => [string, string][]): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    return;
  }
  const rows = lines();
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  const text = rows
    .map(([k, v]) => {
      const [first, ...rest] = v.split('\n');
      return [
        `${`${k}:`.padEnd(width)}${first}`,
        ...rest.map((r) => `${' '.repeat(width)}${r}`),
      ].join('\n');
    })
    .join('\n');
  process.stdout.write(`${text}\n`);
}
