import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { decode } from '../../src/codec/bencode.js';
import { EgressPolicy } from '../../src/runtime/egress.js';
import { createRealRuntime } from '../../src/runtime/real.js';
import {
  announceUrl,
  decodeAnnounceResponse,
  decodeScrapeResponse,
  scrapeUrl,
} from '../../src/tracker/http-messages.js';
import { type TrackerOptions, TrackerServer } from '../../src/tracker/server.js';
import { UdpTrackerClient } from '../../src/tracker/udp-client.js';
import { decodeUdpResponse, encodeUdpRequest } from '../../src/tracker/udp-messages.js';
import { fixtureTorrent, startNode, whenDone } from '../support/nodes.js';
import { tempDir } from '../support/tmp.js';

const runtime = createRealRuntime(new EgressPolicy('loopback'));
const HASH = Buffer.alloc(20, 0xab);

async function startTracker(
  t: TestContext,
  options: Partial<TrackerOptions> = {},
): Promise<TrackerServer> {
  const server = await TrackerServer.start(runtime, {
    httpPort: 0,
    udpPort: 0,
    host: '127.0.0.1',
    ...options,
  });
  t.after(() => server.stop());
  return server;
}

async function httpAnnounce(
  port: number,
  peer: number,
  left: number,
  event: 'started' | 'completed' | 'stopped' | 'none',
) {
  const url = announceUrl(`http://127.0.0.1:${port}/announce`, {
    infoHash: HASH,
    peerId: Buffer.alloc(20, peer),
    port: 10000 + peer,
    uploaded: 0,
    downloaded: 0,
    left,
    event,
    numWant: 50,
    compact: true,
    noPeerId: true,
  });
  return decodeAnnounceResponse(
    (await runtime.http.get(url, { timeoutMs: 5000, maxBytes: 1 << 20 })).body,
  );
}

test('scrape counts follow peers joining, finishing and leaving (HTTP and UDP agree)', async (t) => {
  const tracker = await startTracker(t);
  const http = tracker.ports.http!;
  const udp = await UdpTrackerClient.open(runtime, { firstTimeoutMs: 500 });
  t.after(() => udp.close());
  const scrapeHttp = async () => {
    const res = await runtime.http.get(scrapeUrl(`http://127.0.0.1:${http}/announce`, [HASH])!, {
      timeoutMs: 5000,
      maxBytes: 1 << 16,
    });
    return decodeScrapeResponse(res.body).get(HASH.toString('hex'));
  };
  await httpAnnounce(http, 1, 0, 'started'); // a seeder
  const joined = await httpAnnounce(http, 2, 100, 'started'); // a leecher
  assert.deepEqual(
    joined.peers,
    [{ host: '127.0.0.1', port: 10001 }],
    'the leecher learns of the seeder',
  );
  assert.deepEqual(await scrapeHttp(), { complete: 1, downloaded: 0, incomplete: 1 });
  await httpAnnounce(http, 2, 0, 'completed');
  assert.deepEqual(await scrapeHttp(), { complete: 2, downloaded: 1, incomplete: 0 });
  assert.deepEqual(await udp.scrape('127.0.0.1', tracker.ports.udp!, [HASH]), [
    { complete: 2, downloaded: 1, incomplete: 0 },
  ]);
  await httpAnnounce(http, 1, 0, 'stopped');
  assert.deepEqual(await scrapeHttp(), { complete: 1, downloaded: 1, incomplete: 0 });
  const viaUdp = await udp.announce(
    '127.0.0.1',
    tracker.ports.udp!,
    {
      infoHash: HASH,
      peerId: Buffer.alloc(20, 3),
      port: 10003,
      uploaded: 0,
      downloaded: 0,
      left: 5,
      event: 'started',
      numWant: 10,
      compact: true,
      noPeerId: true,
    },
    1,
  );
  assert.deepEqual(viaUdp.peers, [{ host: '127.0.0.1', port: 10002 }]);
  assert.deepEqual(await scrapeHttp(), { complete: 1, downloaded: 1, incomplete: 1 });
  const stats = JSON.parse(
    (
      await runtime.http.get(`http://127.0.0.1:${http}/stats`, {
        timeoutMs: 5000,
        maxBytes: 1 << 16,
      })
    ).body.toString(),
  );
  assert.equal(stats.swarms, 1);
  assert.equal(stats.peers, 2);
});

test('hostile requests get an error reply and the tracker keeps serving', async (t) => {
  const tracker = await startTracker(t, { perIpRate: 0 });
  const port = tracker.ports.http!;
  const get = async (path: string) =>
    runtime.http.get(`http://127.0.0.1:${port}${path}`, { timeoutMs: 5000, maxBytes: 1 << 16 });
  for (const q of [
    'info_hash=short&peer_id=x&port=1',
    `info_hash=${'%00'.repeat(20)}&peer_id=${'a'.repeat(20)}&port=0`,
    'numwant=99999999999999999999',
  ]) {
    const reply = decode((await get(`/announce?${q}`)).body) as Map<string, Uint8Array>;
    assert.ok(reply.get('failure reason'), q);
  }
  assert.equal((await get('/nothing')).status, 404);
  // A spoofed (or stale) UDP connection id is refused.
  const socket = createSocket('udp4');
  t.after(() => socket.close());
  const reply = new Promise<Buffer>((resolve) => socket.once('message', resolve));
  socket.send(
    encodeUdpRequest({
      action: 'scrape',
      connectionId: 12345n,
      transactionId: 77,
      infoHashes: [HASH],
    }),
    tracker.ports.udp!,
    '127.0.0.1',
  );
  const decoded = decodeUdpResponse(await reply);
  assert.equal(decoded.action, 'error');
  socket.send(Buffer.alloc(5000), tracker.ports.udp!, '127.0.0.1'); // oversized: ignored
  assert.equal((await httpAnnounce(port, 9, 0, 'started')).complete, 1, 'still serving');
});

test('a flood from one address is rate-limited while others are answered', async (t) => {
  const tracker = await startTracker(t, { perIpRate: 5, perIpBurst: 5 });
  const port = tracker.ports.http!;
  const replies = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      httpAnnounce(port, 1, 0, i === 0 ? 'started' : 'none').catch((e: Error) => e),
    ),
  );
  assert.ok(
    replies.some((r) => r instanceof Error && /too many requests/.test(r.message)),
    'some were refused',
  );
  assert.ok(tracker.stats().rateLimited! > 0);
});

test('two shoal nodes find each other through shoal trackers, over HTTP and over UDP', async (t) => {
  const tracker = await startTracker(t, { perIpRate: 0 });
  const dir = await tempDir(t);
  for (const url of [
    `http://127.0.0.1:${tracker.ports.http}/announce`,
    `udp://127.0.0.1:${tracker.ports.udp}`,
  ]) {
    const name = url.startsWith('udp') ? 'u' : 'h';
    const torrent = await fixtureTorrent(
      dir,
      name,
      { 'f.bin': 200_000 },
      { pieceLength: 16384, trackers: [url] },
    );
    const seeder = await startNode(t);
    await seeder.add(torrent, { downloadDir: dir });
    const leecher = await startNode(t);
    const getting = await leecher.add(torrent, { downloadDir: join(dir, 'out') });
    await whenDone(getting);
    const status = leecher.trackerStatus(getting.infoHashHex);
    assert.equal(status[0]?.url, url);
    assert.ok(status[0]?.lastAnnounce !== undefined, 'announced successfully');
    assert.equal(status[0]?.error, undefined);
    assert.ok(status[0]!.peersReceived >= 1);
  }
});
