import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InlineHasher } from '../../src/crypto/inline-hasher.js';
import { createTorrent } from '../../src/metainfo/create.js';
import { defaultConfig } from '../../src/node/config.js';
import { Node } from '../../src/node/node.js';
import { PageStore } from '../../src/sim/memfs.js';
import { Network } from '../../src/sim/network.js';
import { createSimRuntime } from '../../src/sim/sim-runtime.js';
import { Simulator } from '../../src/sim/simulator.js';

test('a peer that keeps closing before its handshake is redialled less and less often', async () => {
  const sim = new Simulator(3);
  const net = new Network(sim, { udpLoss: 0 });
  const pages = new PageStore();
  const hasher = new InlineHasher();
  const link = { upBytesPerSecond: 1e6, downBytesPerSecond: 1e6 };

  // A peer at its connection limit: accepts, then closes at once.
  const fullHost = net.addHost(link);
  let dials = 0;
  await sim.runUntilSettled(
    createSimRuntime(net, fullHost, pages).tcp.listen({ port: 6881 }, (stream) => {
      dials++;
      stream.destroy();
    }),
  );

  const host = net.addHost(link);
  const runtime = createSimRuntime(net, host, pages);
  await runtime.fs.mkdir('/downloads');
  await runtime.fs.writeFileAtomic('/downloads/seed.bin', Buffer.alloc(100_000, 1));
  const { torrent } = await sim.runUntilSettled(
    createTorrent('/downloads/seed.bin', runtime.fs, hasher, { version: 'v1' }),
  );
  const config = {
    ...defaultConfig({}),
    dataDir: '/var/lib/shoal',
    downloadDir: '/elsewhere',
    port: 6881,
    host: '0.0.0.0',
    dht: false,
    dhtBootstrap: [],
    lsd: false,
    hashWorkers: 1,
  };
  const node = await sim.runUntilSettled(Node.start(runtime, config, { hasher }));
  await sim.runUntilSettled(
    node.add(torrent, { persist: false, peers: [{ host: fullHost.publicIp, port: 6881 }] }),
  );
  const start = sim.now;
  await sim.run(start + 10 * 60_000, () => false);
  // Every 10 s would be 60 dials; doubling waits (20, 40, 80, 160, 320 s…) give about 6.
  assert.ok(dials >= 3, `dialled ${dials} times: it must still be retried`);
  assert.ok(dials <= 8, `dialled ${dials} times in 10 minutes`);
  await sim.runUntilSettled(node.stop());
});
