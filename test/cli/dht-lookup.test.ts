import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Dht } from '../../src/dht/dht.js';
import { EgressPolicy } from '../../src/runtime/egress.js';
import { createRealRuntime } from '../../src/runtime/real.js';
import { tempDir } from '../support/tmp.js';

const CLI = fileURLToPath(new URL('../../src/bin/shoal.js', import.meta.url));
const runtime = createRealRuntime(new EgressPolicy('loopback'));
const LOOKUP_HOST = '127.0.6.100';

test('shoal dht lookup finds peers as a read-only visitor: in no routing table, no state saved', async (t) => {
  const nodes: Dht[] = [];
  t.after(() => Promise.all(nodes.map((d) => d.stop())));
  for (let i = 0; i < 6; i++) {
    const bootstrap = i === 0 ? [] : [{ host: '127.0.6.1', port: nodes[0]!.port }];
    nodes.push(
      await Dht.start(runtime, {
        host: `127.0.6.${i + 1}`,
        port: 0,
        bootstrap,
        queryTimeoutMs: 1000,
      }),
    );
  }
  await Promise.all(nodes.map((d) => d.bootstrap()));
  const infoHash = Buffer.alloc(20, 0xab);
  await nodes[3]!.announce(infoHash, 7777);

  const dataDir = join(await tempDir(t), 'data');
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      CLI,
      'dht',
      'lookup',
      infoHash.toString('hex'),
      '--bootstrap',
      `127.0.6.1:${nodes[0]!.port}`,
      '--host',
      LOOKUP_HOST,
      '--data-dir',
      dataDir,
      '--json',
    ],
    { env: { ...process.env, SHOAL_EGRESS: 'loopback' } },
  );
  const r = JSON.parse(stdout) as { peers: string[] };
  assert.ok(r.peers.includes('127.0.6.4:7777'), `found the announcer: ${r.peers.join(', ')}`);
  for (const d of nodes) {
    const hosts = d.table.all().map((e) => e.host);
    assert.ok(!hosts.includes(LOOKUP_HOST), 'the visitor is in no routing table');
  }
  const written = await readdir(dataDir).catch(() => []);
  assert.deepEqual(written, [], 'nothing written to the data folder');
});
