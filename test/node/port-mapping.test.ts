/**
 * A node with NAT-PMP on: a gateway of the test's own on a loopback address (port 5351, as
 * NAT-PMP has no other) maps the node's ports to other external ports and reports a public
 * address; the node then announces that address and port to its tracker, takes a BEP 42 DHT
 * id for it, and removes both mappings when it stops. The real-router version of this is
 * test/interop/port-mapping.test.ts (miniupnpd in network namespaces).
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { idMatchesIp } from '../../src/dht/node-id.js';
import type { PortMappingStatus } from '../../src/net/nat/port-mapper.js';
import { fixtureTorrent, startNode } from '../support/nodes.js';
import { tempDir } from '../support/tmp.js';

const GATEWAY = '127.77.0.1';
const EXTERNAL = [100, 128, 0, 1];
const SHIFT = 1000;

/** A NAT-PMP gateway: external port = internal + 1000, lifetimes as asked; logs every request. */
async function fakeGateway(t: TestContext): Promise<string[] | undefined> {
  const socket = createSocket('udp4');
  const log: string[] = [];
  socket.on('message', (req, from) => {
    const op = req[1]!;
    if (op === 0) {
      socket.send(Buffer.from([0, 128, 0, 0, 0, 0, 0, 1, ...EXTERNAL]), from.port, from.address);
      return;
    }
    const internal = req.readUInt16BE(4);
    const lifetime = req.readUInt32BE(8);
    log.push(`${op === 1 ? 'udp' : 'tcp'} ${internal} ${lifetime}`);
    const out = Buffer.alloc(16);
    out[1] = 128 + op;
    out.writeUInt16BE(internal, 8);
    out.writeUInt16BE(lifetime === 0 ? 0 : internal + SHIFT, 10);
    out.writeUInt32BE(lifetime, 12);
    socket.send(out, from.port, from.address);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(5351, GATEWAY, resolve);
    });
  } catch (error) {
    t.skip(`cannot bind ${GATEWAY}:5351 (${(error as Error).message})`);
    return undefined;
  }
  t.after(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return log;
}

test('NAT-PMP on: the external address and port are announced, the DHT id follows, mappings go on stop', async (t) => {
  const log = await fakeGateway(t);
  if (!log) return;
  const announces: URLSearchParams[] = [];
  const tracker = createServer((req, res) => {
    announces.push(new URL(req.url ?? '/', 'http://x').searchParams);
    res.end('d8:intervali1800e5:peers0:e');
  });
  tracker.listen(0, '127.0.0.1');
  await once(tracker, 'listening');
  t.after(() => new Promise<void>((resolve) => tracker.close(() => resolve())));
  const trackerUrl = `http://127.0.0.1:${(tracker.address() as AddressInfo).port}/announce`;

  const node = await startNode(t, {
    natPmp: true,
    natGateway: GATEWAY,
    dht: true,
    dhtBootstrap: [],
  });
  const statuses: PortMappingStatus[] = [];
  node.on('portMapping', (s) => statuses.push(s));
  const mapped =
    node.portMapping?.state === 'mapped'
      ? node.portMapping
      : await new Promise<PortMappingStatus>((resolve) =>
          node.on('portMapping', (s) => s.state !== 'mapping' && resolve(s)),
        );
  assert.equal(mapped.state, 'mapped', JSON.stringify(mapped));
  assert.equal(mapped.method, 'nat-pmp');
  assert.equal(node.externalAddress, '100.128.0.1');
  assert.equal(node.announcedPort, node.port + SHIFT);
  assert.deepEqual(
    [...log].sort(),
    [`tcp ${node.port} 3600`, `udp ${node.dhtNode!.port} 3600`].sort(),
    'the TCP port and the UDP socket are both mapped, for an hour',
  );
  assert.ok(idMatchesIp(node.dhtNode!.id, '100.128.0.1'), 'a BEP 42 id for the router address');

  const dir = await tempDir(t);
  const torrent = await fixtureTorrent(dir, 'file', { 'a.bin': 40_000 });
  await node.add(torrent, { downloadDir: dir, trackers: [trackerUrl] });
  for (let i = 0; i < 100 && announces.length === 0; i++)
    await new Promise((r) => setTimeout(r, 50));
  assert.equal(announces[0]?.get('ip'), '100.128.0.1', 'the external address is announced');
  assert.equal(announces[0]?.get('port'), String(node.port + SHIFT), 'with the external port');

  const [tcpPort, udpPort] = [node.port, node.dhtNode!.port];
  log.length = 0;
  await node.stop();
  assert.deepEqual(
    [...log].sort(),
    [`tcp ${tcpPort} 0`, `udp ${udpPort} 0`].sort(),
    'both mappings deleted on stop',
  );
  assert.equal(statuses.at(-1)?.state, 'stopped');
});
