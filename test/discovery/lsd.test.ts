import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeLsdAnnounce, encodeLsdAnnounce } from '../../src/discovery/lsd.js';
import { fixtureTorrent } from '../support/nodes.js';
import { tempDir } from '../support/tmp.js';

const CLI = fileURLToPath(new URL('../../src/bin/shoal.js', import.meta.url));

test('LSD announces round-trip and foreign packets are ignored', () => {
  const hash = 'ab'.repeat(20);
  const a = decodeLsdAnnounce(
    encodeLsdAnnounce({ port: 6881, infoHashes: [hash, 'cd'.repeat(20)], cookie: 'me' }),
  );
  assert.deepEqual(a, { port: 6881, infoHashes: [hash, 'cd'.repeat(20)], cookie: 'me' });
  assert.equal(decodeLsdAnnounce(Buffer.from('M-SEARCH * HTTP/1.1\r\n\r\n')), undefined);
  assert.equal(
    decodeLsdAnnounce(Buffer.from('BT-SEARCH * HTTP/1.1\r\nPort: 0\r\nInfohash: x\r\n\r\n')),
    undefined,
  );
});

/** Why namespaces cannot be made here, or undefined when they can. */
function namespaceProblem(): string | undefined {
  try {
    if (process.getuid?.() !== 0) return 'needs root for network namespaces';
    execFileSync('ip', ['netns', 'list']);
    return undefined;
  } catch {
    return 'the ip command (iproute2) is missing';
  }
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'ignore' });
}

/** Two hosts, 10.78.0.1 and 10.78.0.2, in their own namespaces on one bridge in a third. */
function lan(t: TestContext): { a: string; b: string } {
  const tag = `shoal-lsd-${process.pid}`;
  const [a, b, br] = [`${tag}-a`, `${tag}-b`, `${tag}-br`];
  t.after(() => {
    for (const ns of [a, b, br]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // already gone
      }
    }
  });
  for (const ns of [a, b, br]) ip('netns', 'add', ns);
  ip('-n', br, 'link', 'add', 'br0', 'type', 'bridge');
  ip('-n', br, 'link', 'set', 'br0', 'up');
  [
    [a, 'va', '10.78.0.1'],
    [b, 'vb', '10.78.0.2'],
  ].forEach(([ns, dev, addr]) => {
    ip('-n', br, 'link', 'add', `${dev}-br`, 'type', 'veth', 'peer', 'name', dev!);
    ip('-n', br, 'link', 'set', dev!, 'netns', ns!);
    ip('-n', br, 'link', 'set', `${dev}-br`, 'master', 'br0', 'up');
    ip('-n', ns!, 'link', 'set', 'lo', 'up');
    ip('-n', ns!, 'addr', 'add', `${addr}/24`, 'dev', dev!);
    ip('-n', ns!, 'link', 'set', dev!, 'up');
    ip('-n', ns!, 'route', 'add', '224.0.0.0/4', 'dev', dev!);
  });
  return { a, b };
}

test('LSD: two nodes in separate namespaces on one bridge find each other with no tracker and no DHT', async (t) => {
  const problem = namespaceProblem();
  if (problem) {
    if (process.env.CI) assert.fail(`LSD test cannot run in CI: ${problem}`);
    t.skip(problem);
    return;
  }
  const { a, b } = lan(t);
  const dir = await tempDir(t);
  const torrent = await fixtureTorrent(
    dir,
    'shared',
    { 'doc.pdf': 300_000 },
    { pieceLength: 16384 },
  );
  const torrentPath = join(dir, 'shared.torrent');
  await writeFile(torrentPath, torrent);
  const env = {
    ...process.env,
    SHOAL_EGRESS: 'loopback',
    SHOAL_EGRESS_ALLOW: '10.78.0.0/24,239.192.152.143/32',
  };
  const common = ['--lsd', '--no-dht', '--no-pex', '--port', '0', '--json'];
  const seeder = spawn(
    'ip',
    [
      'netns',
      'exec',
      a,
      process.execPath,
      CLI,
      'share',
      join(dir, 'shared'),
      '--torrent',
      torrentPath,
      '--host',
      '10.78.0.1',
      '--data-dir',
      join(dir, 'da'),
      ...common,
    ],
    { env, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.after(() => void seeder.kill('SIGKILL'));
  await new Promise<void>((resolve) =>
    createInterface({ input: seeder.stdout! }).on(
      'line',
      (l) => l.includes('"seeding"') && resolve(),
    ),
  );
  const leecher = spawn(
    'ip',
    [
      'netns',
      'exec',
      b,
      process.execPath,
      CLI,
      'get',
      torrentPath,
      '-o',
      join(dir, 'out'),
      '--host',
      '10.78.0.2',
      '--data-dir',
      join(dir, 'db'),
      ...common,
    ],
    { env, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.after(() => void leecher.kill('SIGKILL'));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => {
      leecher.kill('SIGKILL');
      resolve(-1);
    }, 45_000);
    leecher.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  assert.equal(code, 0, 'the leecher finished');
  assert.deepEqual(
    await readFile(join(dir, 'out', 'shared', 'doc.pdf')),
    await readFile(join(dir, 'shared', 'doc.pdf')),
  );
});
