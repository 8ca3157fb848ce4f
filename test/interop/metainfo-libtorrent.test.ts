/**
 * Acceptance: shoal's torrents agree with libtorrent 2.0 (Python bindings) and Transmission.
 *
 * For the same content and piece length, shoal's info-hashes equal those of libtorrent's
 * create_torrent for v2 and hybrid torrents and for single-file v1. libtorrent keeps v1-only
 * multi-file torrents in directory order, so there libtorrent parses shoal's torrent instead
 * (same info-hash, same files), and a libtorrent v1 torrent whose files are added in shoal's
 * order must hash the same. libtorrent parses every torrent shoal creates with the same
 * info-hashes as `shoal info`; torrents made by libtorrent and by `transmission-create` parse
 * in `shoal info` with the info-hashes their creator reports.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { HashPool } from '../../src/crypto/hash-pool.js';
import { createTorrent } from '../../src/metainfo/create.js';
import type { Metainfo, TorrentVersion } from '../../src/metainfo/types.js';
import { realFs } from '../../src/runtime/real.js';
import {
  pseudoRandomBytes,
  requireTool,
  run,
  runPython,
  runShoal,
  shoalInfo,
  tempDir,
} from './helpers.js';

interface Fixture {
  readonly title: string;
  /** Name of the file or folder that becomes the torrent. */
  readonly name: string;
  /** A single file of this size, or the files of a folder (paths use `/`). */
  readonly content: number | Readonly<Record<string, number>>;
  readonly pieceLengths: readonly number[];
}

const KiB = 1024;

const FIXTURES: readonly Fixture[] = [
  {
    title: 'single file, not a piece multiple',
    name: 'single.bin',
    content: 100_000,
    pieceLengths: [16 * KiB, 32 * KiB],
  },
  {
    title: 'single file, exact piece multiple',
    name: 'exact.bin',
    content: 5 * 64 * KiB,
    pieceLengths: [16 * KiB, 64 * KiB],
  },
  { title: 'single file of one byte', name: 'tiny', content: 1, pieceLengths: [16 * KiB] },
  {
    title: 'single file, unicode name, ~300 KB',
    name: '日本語 ファイル.bin',
    content: 307_201,
    pieceLengths: [32 * KiB],
  },
  {
    title: 'multi-file with nested folders',
    name: 'nested',
    content: {
      'a/b/c.txt': 70_000,
      'a/b/d/e.bin': 16 * KiB,
      'a/x.bin': 3 * 16 * KiB,
      'top.txt': 1,
      'big.bin': 300_007,
      'm/exact.bin': 4 * 64 * KiB,
    },
    pieceLengths: [16 * KiB, 64 * KiB],
  },
  {
    title: 'multi-file with empty files among others',
    name: 'holes',
    content: { 'empty.dat': 0, data1: 100_000, 'sub/empty2': 0, 'sub/z': 16 * KiB, 'zz-empty': 0 },
    pieceLengths: [16 * KiB, 32 * KiB],
  },
  {
    title: 'multi-file with unicode names',
    name: 'unicode',
    content: {
      'ünïcödé/日本語.txt': 70_000,
      'café.bin': 2 * 16 * KiB,
      'naïve/ñandú.dat': 5_000,
      'Ελληνικά/файл.txt': 1,
      '🐟.bin': 40_000,
    },
    pieceLengths: [16 * KiB, 32 * KiB],
  },
  {
    title: 'multi-file name ordering trap',
    name: 'order',
    content: {
      'a/inner.txt': 20_000,
      'a-b': 16 * KiB,
      'a.txt': 1_000,
      C: 33_000, // upper case sorts before lower case in byte order ("a" and "A" would clash when folded)
      'B/b': 10,
      é: 17_000,
      _: 5,
    },
    pieceLengths: [16 * KiB],
  },
];

const VERSIONS: readonly TorrentVersion[] = ['v1', 'v2', 'hybrid'];

/** A file as a client lists it: path below the torrent's name, size, and BEP 47 padding flag. */
interface ListedFile {
  path: string;
  length: number;
  pad: boolean;
}

/** What libtorrent says about one torrent. */
interface LtTorrent {
  v1: string | null;
  v2: string | null;
  files: ListedFile[];
}

interface LtReport {
  created: Record<string, LtTorrent>;
  parsed: Record<string, LtTorrent>;
}

/**
 * One libtorrent session per fixture. Reads a JSON job from argv[1]:
 * `create`: torrents to make with create_torrent (flags by version), written to `out`;
 * `ordered`: v1 torrents whose files are added one by one in the given order;
 * `parse`: torrent files to load with torrent_info. Prints the findings as JSON.
 */
const LIBTORRENT_SCRIPT = `
import json, os, sys
import libtorrent as lt

job = json.loads(sys.argv[1])
FLAGS = {'v1': lt.create_torrent.v1_only, 'v2': lt.create_torrent.v2_only, 'hybrid': 0}

def hex_or_none(has, h):
    return str(h) if has else None

def describe(ti):
    ih = ti.info_hashes()
    # orig_files: the names as stored in the torrent. files() may rename some, e.g. 'A' to
    # 'A.1' when a folder 'a' exists, since libtorrent treats names case-insensitively.
    fs = ti.orig_files()
    files = []
    for i in range(fs.num_files()):
        path = fs.file_path(i).replace(os.sep, '/')
        if path.startswith(fs.name() + '/'):
            path = path[len(fs.name()) + 1:]  # drop the torrent's folder
        files.append({'path': path, 'length': fs.file_size(i),
                      'pad': bool(fs.file_flags(i) & lt.file_storage.flag_pad_file)})
    return {'v1': hex_or_none(ih.has_v1(), ih.v1), 'v2': hex_or_none(ih.has_v2(), ih.v2), 'files': files}

def finish(ct, out):
    lt.set_piece_hashes(ct, job['parent'])
    data = lt.bencode(ct.generate())
    with open(out, 'wb') as f:
        f.write(data)
    return describe(lt.torrent_info(data))

report = {'created': {}, 'parsed': {}}
for c in job['create']:
    fs = lt.file_storage()
    lt.add_files(fs, os.path.join(job['parent'], job['name']))
    report['created'][c['out']] = finish(lt.create_torrent(fs, c['pieceLength'], FLAGS[c['version']]), c['out'])
for c in job['ordered']:
    fs = lt.file_storage()
    for path, length in c['files']:
        fs.add_file(job['name'] + '/' + path, length)
    report['created'][c['out']] = finish(lt.create_torrent(fs, c['pieceLength'], lt.create_torrent.v1_only), c['out'])
for path in job['parse']:
    report['parsed'][path] = describe(lt.torrent_info(path))
print(json.dumps(report))
`;

const pool = new HashPool(2);
after(() => pool.close());

/** Writes the fixture's content under `parent` and returns the torrent's input path. */
async function writeFixture(parent: string, fixture: Fixture): Promise<string> {
  const root = join(parent, fixture.name);
  if (typeof fixture.content === 'number') {
    await writeFile(root, pseudoRandomBytes(fixture.name, fixture.content));
    return root;
  }
  for (const [path, size] of Object.entries(fixture.content)) {
    const absolute = join(root, ...path.split('/'));
    await mkdir(dirname(absolute), { recursive: true });
    await writeFile(absolute, pseudoRandomBytes(`${fixture.name}/${path}`, size));
  }
  return root;
}

function listed(meta: Metainfo): ListedFile[] {
  return meta.files.map((f) => ({
    path: meta.singleFile ? f.path.at(-1)! : f.path.join('/'),
    length: f.length,
    pad: f.padding,
  }));
}

/** Files without padding, in their order. */
const unpadded = (files: readonly ListedFile[]) =>
  files.filter((f) => !f.pad).map(({ path, length }) => ({ path, length }));

/** Files without padding, sorted by path: for comparing which files a torrent holds. */
const realFiles = (files: readonly ListedFile[]) =>
  unpadded(files).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

const hex = (b: Buffer | undefined): string | null => b?.toString('hex') ?? null;
const SHA1_HEX = /^[0-9a-f]{40}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** `shoal info --json` files (padding already left out) as {@link ListedFile}s. */
const fromInfo = (files: readonly { path: string; length: number }[]): ListedFile[] =>
  files.map((f) => ({ ...f, pad: false }));

for (const fixture of FIXTURES) {
  const single = typeof fixture.content === 'number';

  test(`libtorrent and Transmission agree with shoal: ${fixture.title}`, async (t) => {
    if (!requireTool(t, 'libtorrent')) return;
    const dir = await tempDir(t);
    const contentParent = join(dir, 'content');
    const out = join(dir, 'torrents');
    await mkdir(out, { recursive: true });
    await mkdir(contentParent);
    const input = await writeFixture(contentParent, fixture);

    // shoal's torrents, through the library.
    const shoal = new Map<string, { path: string; meta: Metainfo }>();
    for (const pieceLength of fixture.pieceLengths) {
      for (const version of VERSIONS) {
        const { torrent, metainfo } = await createTorrent(input, realFs, pool, {
          version,
          pieceLength,
        });
        const path = join(out, `shoal-${version}-${pieceLength}.torrent`);
        await writeFile(path, torrent);
        shoal.set(`${version}-${pieceLength}`, { path, meta: metainfo });
      }
    }

    // libtorrent, all in one process.
    const ltPath = (version: string, pieceLength: number) =>
      join(out, `lt-${version}-${pieceLength}.torrent`);
    const orderedPath = (pieceLength: number) =>
      join(out, `lt-v1-shoal-order-${pieceLength}.torrent`);
    const job = {
      parent: contentParent,
      name: fixture.name,
      create: fixture.pieceLengths.flatMap((pieceLength) =>
        VERSIONS.map((version) => ({ version, pieceLength, out: ltPath(version, pieceLength) })),
      ),
      ordered: single
        ? []
        : fixture.pieceLengths.map((pieceLength) => ({
            pieceLength,
            out: orderedPath(pieceLength),
            files: shoal
              .get(`v1-${pieceLength}`)!
              .meta.files.map((f) => [f.path.join('/'), f.length] as const),
          })),
      parse: [...shoal.values()].map((s) => s.path),
    };
    const lt = JSON.parse(await runPython(LIBTORRENT_SCRIPT, [JSON.stringify(job)])) as LtReport;

    await t.test('v2 and hybrid info-hashes equal libtorrent create_torrent', () => {
      for (const pieceLength of fixture.pieceLengths) {
        for (const version of ['v2', 'hybrid'] as const) {
          const ours = shoal.get(`${version}-${pieceLength}`)!.meta;
          const theirs = lt.created[ltPath(version, pieceLength)]!;
          const what = `${version}, piece length ${pieceLength}`;
          assert.match(theirs.v2 ?? '', SHA256_HEX, `${what}: libtorrent made a v2 torrent`);
          assert.match(theirs.v1 ?? 'none', version === 'hybrid' ? SHA1_HEX : /^none$/, what);
          if (version === 'hybrid') {
            // The v1 file list, BEP 47 padding included, is part of the info dictionary.
            assert.deepEqual(listed(ours), theirs.files, `${what}: file layout (order, padding)`);
          } else {
            // v2 padding is implicit; libtorrent models one after the last file, shoal does not.
            assert.deepEqual(unpadded(listed(ours)), unpadded(theirs.files), `${what}: file order`);
          }
          assert.equal(hex(ours.infoHashV2), theirs.v2, `${what}: v2 info-hash`);
          assert.equal(hex(ours.infoHashV1), theirs.v1, `${what}: v1 info-hash`);
        }
      }
    });

    if (single) {
      await t.test('single-file v1 info-hash equals libtorrent create_torrent', () => {
        for (const pieceLength of fixture.pieceLengths) {
          const ours = shoal.get(`v1-${pieceLength}`)!.meta;
          const theirs = lt.created[ltPath('v1', pieceLength)]!;
          assert.match(theirs.v1 ?? '', SHA1_HEX);
          assert.equal(theirs.v2, null);
          assert.deepEqual(listed(ours), theirs.files);
          assert.equal(hex(ours.infoHashV1), theirs.v1, `v1, piece length ${pieceLength}`);
        }
      });
    } else {
      await t.test(
        'multi-file v1: libtorrent reads shoal’s torrent and lists the same files',
        () => {
          for (const pieceLength of fixture.pieceLengths) {
            const ours = shoal.get(`v1-${pieceLength}`)!;
            const parsed = lt.parsed[ours.path]!;
            const created = lt.created[ltPath('v1', pieceLength)]!;
            assert.match(parsed.v1 ?? '', SHA1_HEX);
            assert.equal(parsed.v1, hex(ours.meta.infoHashV1));
            assert.equal(parsed.v2, null);
            assert.deepEqual(
              parsed.files,
              listed(ours.meta),
              'libtorrent keeps shoal’s file order',
            );
            assert.deepEqual(realFiles(created.files), realFiles(listed(ours.meta)), 'same files');
            assert.equal(
              created.files.filter((f) => f.pad).length,
              0,
              'libtorrent v1 has no padding',
            );
            // The same files in the same order must give the very same info dictionary.
            const ordered = lt.created[orderedPath(pieceLength)]!;
            assert.equal(ordered.v1, hex(ours.meta.infoHashV1), 'libtorrent v1 in shoal’s order');
          }
        },
      );
    }

    await t.test(
      'libtorrent parses every shoal torrent to the hashes `shoal info` reports',
      async () => {
        const made = [...shoal.values()];
        const infos = await Promise.all(made.map((s) => shoalInfo(s.path)));
        for (const [i, { path, meta }] of made.entries()) {
          const info = infos[i]!;
          const parsed = lt.parsed[path];
          assert.ok(parsed, `libtorrent did not load ${path}`);
          assert.equal(info.infoHashV1, hex(meta.infoHashV1), `${path}: shoal info vs library`);
          assert.equal(info.infoHashV2, hex(meta.infoHashV2), `${path}: shoal info vs library`);
          assert.ok(info.infoHashV1 !== null || info.infoHashV2 !== null);
          assert.equal(parsed.v1, info.infoHashV1, `${path}: libtorrent v1`);
          assert.equal(parsed.v2, info.infoHashV2, `${path}: libtorrent v2`);
          assert.deepEqual(realFiles(parsed.files), realFiles(fromInfo(info.files)));
        }
      },
    );

    await t.test('`shoal info` reads libtorrent’s torrents with libtorrent’s hashes', async () => {
      const made = Object.entries(lt.created);
      assert.equal(made.length, fixture.pieceLengths.length * (single ? 3 : 4));
      const infos = await Promise.all(made.map(([path]) => shoalInfo(path)));
      for (const [i, [path, theirs]] of made.entries()) {
        const info = infos[i]!;
        assert.equal(info.infoHashV1, theirs.v1, `${path}: v1`);
        assert.equal(info.infoHashV2, theirs.v2, `${path}: v2`);
        assert.deepEqual(realFiles(fromInfo(info.files)), realFiles(theirs.files));
      }
    });

    await t.test('`shoal info` reads transmission-create’s torrents with its hash', async (st) => {
      if (!requireTool(st, 'transmission-create') || !requireTool(st, 'transmission-show')) return;
      for (const pieceLength of fixture.pieceLengths) {
        const path = join(out, `transmission-${pieceLength}.torrent`);
        const kib = String(pieceLength / KiB);
        const created = await run('transmission-create', ['-o', path, '-s', kib, input]);
        assert.equal(created.code, 0, created.stderr);
        const shown = await run('transmission-show', [path]);
        assert.equal(shown.code, 0, shown.stderr);
        const hash = /^\s*Hash(?: v1)?:\s*([0-9a-f]{40})\s*$/im.exec(shown.stdout)?.[1];
        assert.ok(hash, `no Hash line in transmission-show output:\n${shown.stdout}`);
        const info = await shoalInfo(path);
        assert.equal(info.version, 'v1');
        assert.equal(info.infoHashV1, hash);
        assert.equal(info.infoHashV2, null);
        // transmission-create 3.00 leaves empty files out of its torrents.
        const expected = realFiles(listed(shoal.get(`v1-${pieceLength}`)!.meta));
        const nonEmpty = expected.filter((f) => f.length > 0);
        assert.deepEqual(realFiles(fromInfo(info.files)), nonEmpty);
      }
    });
  });
}

test('`shoal create` on the command line reports the library’s info-hashes', async (t) => {
  const dir = await tempDir(t);
  const input = await writeFixture(dir, FIXTURES.find((f) => f.name === 'unicode')!);
  const output = join(dir, 'cli.torrent');
  const r = await runShoal(['create', input, '-o', output, '--hybrid', '--piece-length', '16384']);
  assert.equal(r.code, 0, r.stderr);
  const { metainfo } = await createTorrent(input, realFs, pool, {
    version: 'hybrid',
    pieceLength: 16 * KiB,
  });
  assert.match(r.stdout, new RegExp(`info-hash v1: ${hex(metainfo.infoHashV1)}`));
  assert.match(r.stdout, new RegExp(`info-hash v2: ${hex(metainfo.infoHashV2)}`));
  const info = await shoalInfo(output);
  assert.equal(info.infoHashV1, hex(metainfo.infoHashV1));
  assert.equal(info.infoHashV2, hex(metainfo.infoHashV2));
});
