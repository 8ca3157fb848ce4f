/**
 * What a new user sees when nothing works: a refused DHT router, a named peer that refuses, a
 * torrent with no peers. `shoal get` says each on stderr (no `--json`), once per change, and
 * keeps saying what it tries.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fixtureTorrent } from '../support/nodes.js';
import { tempDir } from '../support/tmp.js';

const CLI = fileURLToPath(new URL('../../src/bin/shoal.js', import.meta.url));

/** A loopback TCP port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/**
 * `shoal get` of a fresh fixture torrent named `name` with `args`, killed when the test ends;
 * `stderr()` is everything it has said there so far.
 */
async function startGet(t: TestContext, name: string, args: readonly string[]) {
  const dir = await tempDir(t);
  const torrentPath = join(dir, `${name}.torrent`);
  await writeFile(torrentPath, await fixtureTorrent(dir, name, { 'a.bin': 40_000 }));
  const child = spawn(
    process.execPath,
    [
      CLI,
      'get',
      torrentPath,
      ...['-o', join(dir, 'out'), '--data-dir', join(dir, 'data'), '--standalone'],
      ...['--port', '0', '--host', '127.0.0.1', '--no-utp'],
      ...args,
    ],
    { env: { ...process.env, SHOAL_EGRESS: 'loopback' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    stderr += s;
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, exited, stderr: () => stderr };
}

test('get says on stderr that a DHT router and a named peer are refused and that no peer was found', async (t) => {
  const peerPort = await closedPort();
  const { child, exited, stderr } = await startGet(t, 'lonely', [
    ...['--peer', `127.0.0.1:${peerPort}`, '--dht-bootstrap', '192.0.2.1:6881'],
  ]);
  const wanted = [
    new RegExp(
      `^peer 127\\.0\\.0\\.1:${peerPort}: connection refused; trying again in \\d+s \\(attempt 1\\)$`,
      'm',
    ),
    /^DHT: .*refuses UDP send to 192\.0\.2\.1:6881.*; trying again later$/m,
    /^lonely: no peers yet; looking through the DHT \(not joined yet\), 1 named peer$/m,
  ];
  for (let waited = 0; !wanted.every((re) => re.test(stderr())); waited += 100) {
    assert.ok(waited < 20_000, `all three said within 20 s:\n${stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // A few more seconds of the same trouble: nothing is said again.
  await new Promise((r) => setTimeout(r, 3000));
  for (const re of wanted) {
    const count = stderr()
      .split('\n')
      .filter((l) => re.test(l)).length;
    assert.equal(count, 1, `said once: ${re}\n${stderr()}`);
  }
  child.kill('SIGINT');
  assert.equal(await exited, 130);
});

test('get says when a named peer closes at the handshake, and that it may require encryption', async (t) => {
  // Accepts, then hangs up at once, as a client that requires encryption does to plaintext.
  const peer = createServer((socket) => socket.destroy());
  await new Promise<void>((r) => peer.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => peer.close(r)));
  const { port } = peer.address() as { port: number };
  const { stderr } = await startGet(t, 'shy', [
    ...['--no-dht', '--peer', `127.0.0.1:${port}`, '--encryption', 'disable'],
  ]);
  const wanted = new RegExp(
    `^peer 127\\.0\\.0\\.1:${port}: it closed the connection at our plaintext handshake: it may ` +
      'require encryption, which --encryption disable turns off; trying again in \\d+s \\(attempt 1\\)$',
    'm',
  );
  for (let waited = 0; !wanted.test(stderr()); waited += 100) {
    assert.ok(waited < 20_000, `said within 20 s:\n${stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
});
