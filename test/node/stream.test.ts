import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { parseTorrent } from '../../src/metainfo/parse.js';
import { listenHttp } from '../../src/runtime/http-server.js';
import { fixtureTorrent, startNode, whenDone } from '../support/nodes.js';
import { fixtureBytes, tempDir } from '../support/tmp.js';

const FILES = { 'intro.txt': 1000, 'movie.mkv': 3 * 1024 * 1024 + 17 };

/** A seeding node and a fresh one connected to it, both with the test torrent. */
async function pair(t: import('node:test').TestContext, uploadLimit = 0) {
  const dir = await tempDir(t);
  const bytes = await fixtureTorrent(dir, 'show', FILES, { pieceLength: 64 * 1024 });
  const seeder = await startNode(t, { uploadLimit });
  await seeder.add(bytes, { downloadDir: dir, persist: false });
  const viewer = await startNode(t);
  const torrent = await viewer.add(bytes, {
    downloadDir: await tempDir(t),
    persist: false,
    peers: [{ host: '127.0.0.1', port: seeder.port }],
    files: [{ path: 'intro.txt' }],
  });
  return { viewer, torrent, meta: parseTorrent(bytes) };
}

test('createReadStream reads a range of a file while it downloads, verified bytes only', async (t) => {
  const { torrent } = await pair(t, 2 * 1024 * 1024);
  const movie = fixtureBytes(FILES['movie.mkv'], 'movie.mkv');
  // Only intro.txt was selected; reading the movie makes its pieces wanted.
  const chunks: Buffer[] = [];
  for await (const chunk of torrent.createReadStream('movie.mkv', {
    start: 2_000_000,
    end: 2_999_999,
  }))
    chunks.push(chunk as Buffer);
  assert.ok(Buffer.concat(chunks).equals(movie.subarray(2_000_000, 3_000_000)));
  assert.equal(torrent.readers().length, 0, 'a finished stream closes its reader');
  // By number (real files, in the torrent's order: intro.txt, movie.mkv) and the whole file.
  const whole: Buffer[] = [];
  for await (const chunk of torrent.createReadStream(1)) whole.push(chunk as Buffer);
  assert.ok(Buffer.concat(whole).equals(movie));
  await whenDone(torrent);
  assert.throws(() => torrent.createReader('nope.mkv'), /no file "nope.mkv"/);
  assert.throws(() => torrent.createReader(1, { start: 0, end: FILES['movie.mkv'] }), /not within/);
});

test('the stream server answers ranges, and a viewer that hangs up drops its reader', async (t) => {
  const { viewer, torrent } = await pair(t, 256 * 1024);
  const streams = viewer.createStreamServer();
  const server = await listenHttp({ host: '127.0.0.1', port: 0 }, (req, res) =>
    streams.handle(req, res, req.url),
  );
  t.after(() => server.close());
  const base = `http://127.0.0.1:${server.address().port}/stream/${torrent.infoHashHex}`;
  const get = (path: string, range?: string) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>(
      (resolve, reject) => {
        const req = request(`${base}/${path}`, { headers: range ? { range } : {} }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts) }),
          );
        });
        req.on('error', reject);
        req.end();
      },
    );
  const movie = fixtureBytes(FILES['movie.mkv'], 'movie.mkv');
  const part = await get('movie.mkv', 'bytes=1048576-1114111');
  assert.equal(part.status, 206, part.body.toString());
  assert.equal(part.headers['content-type'], 'video/x-matroska');
  assert.equal(part.headers['content-range'], `bytes 1048576-1114111/${movie.length}`);
  assert.ok(part.body.equals(movie.subarray(1048576, 1114112)));
  assert.equal((await get('1', 'bytes=-10')).body.length, 10, 'a file by number');
  assert.equal((await get('missing.mkv')).status, 404);
  // A viewer reading the whole file hangs up after its first bytes: its reader goes away.
  await new Promise<void>((resolve, reject) => {
    const req = request(`${base}/movie.mkv`, (res) => {
      res.once('data', () => {
        assert.equal(torrent.readers().length, 1);
        req.destroy();
        resolve();
      });
    });
    req.on('error', (e) => (req.destroyed ? undefined : reject(e)));
    req.end();
  });
  for (let i = 0; i < 100 && torrent.readers().length > 0; i++)
    await new Promise((r) => setTimeout(r, 20));
  assert.equal(torrent.readers().length, 0);
});
