import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InlineHasher } from '../../src/crypto/inline-hasher.js';
import { createTorrent } from '../../src/metainfo/create.js';
import { parseTorrent } from '../../src/metainfo/parse.js';
import { defaultConfig } from '../../src/node/config.js';
import { Node } from '../../src/node/node.js';
import type { ByteStream } from '../../src/runtime/runtime.js';
import { PageStore } from '../../src/sim/memfs.js';
import { Network } from '../../src/sim/network.js';
import { createSimRuntime } from '../../src/sim/sim-runtime.js';
import { Simulator } from '../../src/sim/simulator.js';
import { rawHandshake } from '../support/raw-peer.js';

/**
 * A node with one peer, `peer` deciding what that peer does with each TCP connection (it never
 * gets past that), run for 10 virtual minutes: how often it was dialled over TCP and over uTP.
 */
async function dialsOfOnePeer(
  peer: (stream: ByteStream, infoHash: Uint8Array) => void,
): Promise<{ tcp: number; udpDatagrams: number }> {
  const sim = new Simulator(3);
  const net = new Network(sim, { udpLoss: 0 });
  const pages = new PageStore();
  const hasher = new InlineHasher();
  const link = { upBytesPerSecond: 1e6, downBytesPerSecond: 1e6 };

  const host = net.addHost(link);
  const runtime = createSimRuntime(net, host, pages);
  await runtime.fs.mkdir('/downloads');
  await runtime.fs.writeFileAtomic('/downloads/seed.bin', Buffer.alloc(100_000, 1));
  const { torrent } = await sim.runUntilSettled(
    createTorrent('/downloads/seed.bin', runtime.fs, hasher, { version: 'v1' }),
  );
  const infoHash = parseTorrent(torrent).infoHashV1!;

  const peerHost = net.addHost(link);
  const peerRuntime = createSimRuntime(net, peerHost, pages);
  let tcp = 0;
  await sim.runUntilSettled(
    peerRuntime.tcp.listen({ port: 6881 }, (stream) => {
      tcp++;
      peer(stream, infoHash);
    }),
  );
  let udpDatagrams = 0;
  const udp = await sim.runUntilSettled(peerRuntime.udp.bind({ port: 6881 }));
  udp.onMessage(() => udpDatagrams++);

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
    node.add(torrent, { persist: false, peers: [{ host: peerHost.publicIp, port: 6881 }] }),
  );
  await sim.run(sim.now + 10 * 60_000, () => false);
  await sim.runUntilSettled(node.stop());
  return { tcp, udpDatagrams };
}

test('a peer that keeps closing before its handshake is redialled less and less often', async () => {
  // A peer at its connection limit that accepts, then closes at once.
  const { tcp } = await dialsOfOnePeer((stream) => stream.destroy());
  // Every 10 s would be 60 dials; doubling waits (20, 40, 80, 160, 320 s…) give about 6.
  assert.ok(tcp >= 3, `dialled ${tcp} times: it must still be retried`);
  assert.ok(tcp <= 8, `dialled ${tcp} times in 10 minutes`);
});

test('a full peer that answers with its handshake and closes is backed off on the same transport', async () => {
  // What a full shoal torrent does: read the dialler's handshake, answer with its own, end.
  const { tcp, udpDatagrams } = await dialsOfOnePeer((stream, infoHash) => {
    let seen = 0;
    stream.onData((chunk) => {
      seen += chunk.length;
      if (seen < 68) return;
      stream.onData(() => {});
      stream.write(rawHandshake(infoHash, 0x42));
      stream.end();
    });
  });
  assert.ok(tcp >= 3, `dialled ${tcp} times: it must still be retried`);
  assert.ok(tcp <= 8, `dialled ${tcp} times in 10 minutes: its handshake is no success`);
  assert.equal(udpDatagrams, 0, 'a peer that answered over TCP is not tried over uTP');
});
