import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { NodeAdapter } from '../../src/api/node-control.js';
import { fixtureTorrent, startNode, whenDone } from '../support/nodes.js';
import { tempDir } from '../support/tmp.js';

test('a seeder that reaches its ratio stops seeding, says why, remembers it, and resumes with the limit lifted', async (t) => {
  const dir = await tempDir(t);
  const torrent = await fixtureTorrent(dir, 'content', { 'a.bin': 300_000 });
  const seeder = await startNode(t, { seedRatioLimit: 1 });
  const seeded = await seeder.add(torrent, { downloadDir: dir });
  const finished = new Promise<string>((resolve) =>
    seeder.once('finished', (_t, reached) => resolve(reached.message)),
  );
  const leecher = await startNode(t);
  const leech = await leecher.add(torrent, {
    downloadDir: join(dir, 'out'),
    peers: [{ host: '127.0.0.1', port: seeder.port }],
  });
  await whenDone(leech);
  assert.equal(await finished, 'seeding ratio 1 reached');
  const s = seeded.stats();
  assert.equal(s.state, 'paused');
  assert.equal(s.finished, 'seeding ratio 1 reached');
  assert.ok(s.uploaded >= s.totalLength);
  // The library entry is rewritten right after (atomically): `shoal start` keeps it stopped.
  const entryPath = join(seeder.config.dataDir, 'torrents', `${seeded.infoHashHex}.json`);
  let entry = JSON.parse(await readFile(entryPath, 'utf8'));
  for (let i = 0; i < 40 && !entry.paused; i++) {
    await new Promise((r) => setTimeout(r, 50));
    entry = JSON.parse(await readFile(entryPath, 'utf8'));
  }
  assert.equal(entry.paused, true);
  assert.equal(entry.finished.limit, 'ratio');

  // The API shows it; a resume seeds again, that torrent's ratio limit now off.
  const api = new NodeAdapter(seeder);
  assert.equal(api.summary(seeded.infoHashHex)?.finished, 'seeding ratio 1 reached');
  await api.resume(seeded.infoHashHex);
  assert.equal(seeded.stats().state, 'seeding');
  assert.equal(seeded.stats().finished, undefined);
  assert.deepEqual(api.detail(seeded.infoHashHex)?.seedLimits, {
    ratio: 0,
    seedTimeMinutes: null,
    idleMinutes: null,
  });
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(seeded.stats().state, 'seeding', 'it does not stop again');
});

test('per-torrent limits through the API replace the node settings; settings change live', async (t) => {
  const dir = await tempDir(t);
  const torrent = await fixtureTorrent(dir, 'content', { 'a.bin': 50_000 });
  const node = await startNode(t, { seedIdleLimitMinutes: 30 });
  const api = new NodeAdapter(node);
  const added = await api.add(
    { kind: 'torrent', bytes: torrent },
    { downloadDir: dir, seedLimits: { ratio: 3 } },
  );
  assert.deepEqual(api.detail(added.id)?.seedLimits, {
    ratio: 3,
    seedTimeMinutes: null,
    idleMinutes: null,
  });
  assert.deepEqual(node.get(added.id)?.seedLimits.effective(), {
    ratio: 3,
    seedTimeMinutes: 0,
    idleMinutes: 30,
  });
  const settings = await api.updateSettings({ seedTimeLimitMinutes: 90, seedIdleLimitMinutes: 0 });
  assert.equal(settings.seedTimeLimitMinutes, 90);
  assert.deepEqual(node.get(added.id)?.seedLimits.effective(), {
    ratio: 3,
    seedTimeMinutes: 90,
    idleMinutes: 0,
  });
  await api.setSeedLimits(added.id, { ratio: null, seedTimeMinutes: 0, idleMinutes: 5 });
  assert.deepEqual(node.get(added.id)?.seedLimits.effective(), {
    ratio: 0,
    seedTimeMinutes: 0,
    idleMinutes: 5,
  });
});
