import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Identity } from '../../src/crypto/identity.js';
import { parseMagnet } from '../../src/metainfo/magnet.js';
import type { Node } from '../../src/node/node.js';
import { OverlayService } from '../../src/node/overlay-service.js';
import { createRealRuntime } from '../../src/runtime/real.js';
import { SeededRandom } from '../../src/runtime/seeded-random.js';
import { Mux } from '../../src/secure/mux.js';
import { secureAccept, secureConnect } from '../../src/secure/secure-stream.js';
import { realTimers } from '../secure/helpers.js';
import { fixtureTorrent, startNode, whenDone } from '../support/nodes.js';
import { streamPair } from '../support/stream-pair.js';
import { tempDir } from '../support/tmp.js';

/**
 * Overlay services for real nodes, connected over in-memory streams with real Noise
 * handshakes (standing in for the node's secure connections, which come with issue 17), each
 * reachable at a made-up overlay address.
 */
function overlays(nodes: readonly Node[]): OverlayService[] {
  const random = new SeededRandom(77);
  const runtime = createRealRuntime();
  const services: OverlayService[] = [];
  const identities = nodes.map(() => Identity.generate(random));
  const dial = async (from: number, to: number) => {
    const [a, b] = streamPair();
    const [out, inc] = await Promise.all([
      secureConnect(a, {
        identity: identities[from]!,
        random,
        timers: realTimers,
        remote: identities[to]!.publicKey,
      }),
      secureAccept(b, { identity: identities[to]!, random, timers: realTimers }),
    ]);
    services[to]!.attach(identities[from]!.publicKey, new Mux(inc));
    return new Mux(out);
  };
  nodes.forEach((node, i) => {
    services.push(
      new OverlayService(runtime, {
        identity: identities[i]!,
        transport: {
          connect: (peer) =>
            dial(
              i,
              identities.findIndex((id) => id.publicKey.equals(peer.key)),
            ),
          connectAddress: async (address) => {
            const to = address.port - 40_000;
            return { key: identities[to]!.publicKey, mux: await dial(i, to) };
          },
        },
        advertise: () => [{ host: '127.0.0.1', port: 40_000 + i }],
        bitTorrentAddresses: () => [{ host: '127.0.0.1', port: node.port }],
        capable: () => false,
        search: { strategy: 'flood', timeoutMs: 2_000 },
      }),
    );
    node.useOverlay(services[i]!);
  });
  return services;
}

test('a node shares a complete torrent; another finds it by keywords and downloads it from the result', async (t) => {
  const dir = await tempDir(t);
  const torrent = await fixtureTorrent(dir, 'Field Recordings Vol 3', {
    'Field Recordings Vol 3.flac': 300_000,
    'cover.jpg': 20_000,
  });
  const nodes = await Promise.all([0, 1, 2, 3, 4].map(() => startNode(t)));
  const services = overlays(nodes);
  const seeded = await nodes[0]!.add(torrent, { downloadDir: dir });
  await whenDone(seeded);
  assert.equal(services[0]!.views().shared, 1, 'the complete torrent is shared');
  for (let i = 1; i < 5; i++)
    await services[i]!.joinAddresses([{ host: '127.0.0.1', port: 40_000 }]);
  const session = nodes[3]!.search('field recordings');
  const found = [];
  for await (const r of session) found.push(r);
  assert.equal(found.length, 1, 'one torrent found');
  const result = found[0]!;
  assert.equal(result.name, 'Field Recordings Vol 3');
  assert.equal(result.files, 2);
  assert.equal(result.size, 320_000);
  const out = await tempDir(t);
  const fetched = await nodes[3]!.addMagnet(parseMagnet(result.magnet), { downloadDir: out });
  await whenDone(fetched);
  assert.deepEqual(
    await readFile(join(out, 'Field Recordings Vol 3', 'Field Recordings Vol 3.flac')),
    await readFile(join(dir, 'Field Recordings Vol 3', 'Field Recordings Vol 3.flac')),
  );
  const views = nodes[3]!.overlayViews();
  assert.ok(views.active.length >= 1);
  assert.equal(views.role, 'leaf');
  // A removed torrent is no longer answered for.
  await nodes[0]!.remove(seeded.infoHashHex);
  assert.equal(services[0]!.views().shared, 0);
});

test('a node without an overlay says so', async (t) => {
  const node = await startNode(t);
  assert.throws(() => node.search('anything'), { code: 'OVERLAY_UNAVAILABLE' });
});
