/**
 * Acceptance (BEP 11): a shoal leecher connected only to the seeder learns the other leechers
 * through PEX, one of them a real client. A shoal seeder (upload-limited, so the swarm lasts)
 * has a libtorrent leecher connected; then an in-process shoal leecher that knows only the
 * seeder joins, and must end up connected to libtorrent, which it can only have heard of from
 * the seeder's ut_pex message.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { startNode } from '../support/nodes.js';
import {
  fileScope,
  makeTransferFixture,
  requireTool,
  startLibtorrent,
  tempDir,
  torrentOf,
  waitUntil,
} from './helpers.js';

const scope = fileScope();

test('PEX: a shoal leecher learns of a libtorrent leecher from the seeder', {
  timeout: 90_000,
}, async (t) => {
  if (!requireTool(t, 'libtorrent')) return;
  const fx = await makeTransferFixture(scope, ['v1']);
  const torrent = torrentOf(fx, 'v1');
  const seeder = await startNode(t, { host: '127.0.0.1', uploadLimit: 150_000 });
  const seeding = await seeder.add(await readFile(torrent), { downloadDir: `${fx.root}/content` });
  const seedPort = seeder.port;
  const lt = await startLibtorrent(t, {
    mode: 'leech',
    torrent,
    savePath: await tempDir(t),
    host: '127.0.0.2',
    peers: [`127.0.0.1:${seedPort}`],
  });
  // The shoal leecher joins once libtorrent is in the swarm, so the seeder's first PEX message
  // (sent at once; later ones come a minute apart, as BEP 11 asks) already names it.
  await waitUntil(
    'libtorrent to join the seeder',
    () => seeding.peerAddresses().some((a) => a.startsWith('127.0.0.2:')) || undefined,
    30_000,
  );
  const leecher = await startNode(t, { host: '127.0.0.3' });
  const getting = await leecher.add(await readFile(torrent), {
    downloadDir: join(await tempDir(t), 'out'),
    peers: [{ host: '127.0.0.1', port: seedPort }],
  });
  const libtorrentAt = `127.0.0.2:${lt.port}`;
  const warnings: string[] = [];
  getting.on('warning', (w) => warnings.push(w));
  await waitUntil(
    'shoal to meet libtorrent via PEX',
    () => getting.peerAddresses().includes(libtorrentAt) || undefined,
    30_000,
    {
      detail: () =>
        `seeder sees ${seeding.peerAddresses()}; leecher sees ${getting.peerAddresses()}; libtorrent at ${libtorrentAt}; warnings: ${warnings.join(' | ')}`,
    },
  );
  assert.ok(getting.peerAddresses().includes(libtorrentAt));
});
