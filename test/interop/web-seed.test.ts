/**
 * Web seeds (BEP 19) against a real HTTP server: Python's `http.server`, taught single `Range`
 * requests (the standard library's answers whole files only before Python 3.14). A multi-file
 * hybrid torrent (padding files between its files) whose only source is the web seed
 * downloads completely and verified; a web seed that serves wrong bytes is dropped and the
 * download completes from a peer.
 */
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import {
  pseudoRandomBytes,
  requireTool,
  runShoal,
  SYSTEM_PYTHON,
  startProcess,
  startShoal,
  tempDir,
} from './helpers.js';

const FILES: Readonly<Record<string, number>> = {
  'a.bin': 300_000,
  'sub/b.bin': 500_001,
  'c.txt': 17,
};

/** `http.server` serving `root`, answering one-range `Range` requests with 206. */
const RANGED_SERVER = `
import functools, http.server, os, re, sys

class Ranged(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send_head(self):
        self.remaining = None
        path = self.translate_path(self.path)
        m = re.fullmatch(r'bytes=(\\d+)-(\\d*)', self.headers.get('Range', ''))
        if m is None or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        start = int(m.group(1))
        end = min(size - 1, int(m.group(2)) if m.group(2) else size - 1)
        if start >= size:
            self.send_error(416)
            return None
        f = open(path, 'rb')
        f.seek(start)
        self.send_response(206)
        self.send_header('Content-Type', 'application/octet-stream')
        self.send_header('Content-Range', f'bytes {start}-{end}/{size}')
        self.send_header('Content-Length', str(end - start + 1))
        self.end_headers()
        self.remaining = end - start + 1
        return f

    def copyfile(self, source, target):
        if self.remaining is None:
            return super().copyfile(source, target)
        target.write(source.read(self.remaining))

server = http.server.ThreadingHTTPServer(
    ('127.0.0.1', 0), functools.partial(Ranged, directory=sys.argv[1]))
print(server.server_address[1], flush=True)
server.serve_forever()
`;

async function setup(t: TestContext, liar: boolean) {
  const dir = await tempDir(t, 'shoal-webseed-');
  await mkdir(join(dir, 'media', 'sub'), { recursive: true });
  for (const [path, size] of Object.entries(FILES))
    await writeFile(join(dir, 'media', path), pseudoRandomBytes(path, size));
  // What the web seed serves: the content, or a copy with one byte of every 1000 changed.
  let served = dir;
  if (liar) {
    served = join(dir, 'liar');
    await cp(join(dir, 'media'), join(served, 'media'), { recursive: true });
    for (const path of Object.keys(FILES)) {
      const data = await readFile(join(served, 'media', path));
      for (let i = 0; i < data.length; i += 1000) data[i] = data[i]! ^ 0xff;
      await writeFile(join(served, 'media', path), data);
    }
  }
  const http = startProcess(t, 'python http.server', SYSTEM_PYTHON, ['-c', RANGED_SERVER, served]);
  const [port] = await http.waitForLine(/^\d+$/, 30_000);
  const torrent = join(dir, 'media.torrent');
  const created = await runShoal([
    ...['create', join(dir, 'media'), '--piece-length', '32768', '-o', torrent],
    ...['--web-seed', `http://127.0.0.1:${port}/`],
  ]);
  assert.equal(created.code, 0, created.stderr);
  return { dir, torrent };
}

async function assertContent(saveDir: string): Promise<void> {
  for (const [path, size] of Object.entries(FILES)) {
    const got = await readFile(join(saveDir, 'media', path));
    assert.ok(got.equals(pseudoRandomBytes(path, size)), `${path} differs`);
  }
}

test('a torrent whose only source is a web seed downloads completely and verified', async (t) => {
  if (!requireTool(t, 'python3', [SYSTEM_PYTHON, '--version'])) return;
  const { dir, torrent } = await setup(t, false);
  const out = join(dir, 'out');
  const leecher = startShoal(t, [
    ...['get', torrent, '-o', out, '--port', '0', '--host', '127.0.0.1'],
    ...['--no-dht', '--json', '--standalone', '--data-dir', join(dir, 'leech-data')],
  ]);
  const done = await leecher.waitForEvent('done', 60_000);
  assert.equal(await leecher.waitExit(30_000), 0);
  await assertContent(out);
  const total = Object.values(FILES).reduce((a, b) => a + b, 0);
  assert.ok((done.downloadedFromWebSeeds as number) >= total, 'every byte came from the web seed');
  assert.equal(done.downloadedFromPeers, 0);
  assert.equal(done.wasted, 0);
  const [seed] = done.webSeeds as { state: string; bytes: number }[];
  assert.equal(seed?.state, 'active');
});

test('a web seed that sends wrong bytes is dropped and peers finish the download', async (t) => {
  if (!requireTool(t, 'python3', [SYSTEM_PYTHON, '--version'])) return;
  const { dir, torrent } = await setup(t, true);
  const seeder = startShoal(t, [
    ...['share', join(dir, 'media'), '--torrent', torrent, '--standalone'],
    ...['--port', '0', '--host', '127.0.0.1', '--no-dht', '--json'],
    ...['--data-dir', join(dir, 'seed-data')],
  ]);
  const seeding = await seeder.waitForEvent('seeding', 30_000);
  const out = join(dir, 'out');
  const leecher = startShoal(t, [
    ...['get', torrent, '-o', out, '--port', '0', '--host', '127.0.0.1'],
    ...['--peer', `127.0.0.1:${seeding.port}`],
    ...['--no-dht', '--json', '--standalone', '--data-dir', join(dir, 'leech-data')],
  ]);
  const done = await leecher.waitForEvent('done', 60_000);
  assert.equal(await leecher.waitExit(30_000), 0);
  await assertContent(out);
  const [seed] = done.webSeeds as { state: string; error: string }[];
  assert.equal(seed?.state, 'dropped');
  assert.match(seed.error, /hash check/);
  const warnings = leecher.events().filter((e) => e.event === 'warning');
  assert.ok(
    warnings.some((w) => /web seed .* dropped/.test(String(w.message))),
    JSON.stringify(warnings),
  );
  assert.ok((done.downloadedFromPeers as number) > 0);
});
