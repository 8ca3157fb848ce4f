import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasCode } from '../../src/errors.js';
import { parseMagnet } from '../../src/metainfo/magnet.js';
import { EgressPolicy } from '../../src/runtime/egress.js';
import { createRealRuntime } from '../../src/runtime/real.js';
import {
  fetchMetadata,
  MetadataError,
  type MetadataProgress,
} from '../../src/swarm/metadata-fetcher.js';
import { startFakeMetadataPeer } from '../support/metadata-peers.js';
import { plainDial, startNode } from '../support/nodes.js';

const runtime = createRealRuntime(new EgressPolicy('loopback'));
const infoHashV1 = Buffer.alloc(20, 0x33);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('aborting stops the fetch at once and closes its connections', async (t) => {
  const silent = await Promise.all(
    [1, 2, 3].map((i) => startFakeMetadataPeer(t, 'silent', `127.0.23.${i}`, 1000)),
  );
  const abort = new AbortController();
  const fetching = fetchMetadata(runtime, {
    infoHashV1,
    peers: silent,
    peerId: Buffer.alloc(20, 1),
    dial: plainDial(runtime),
    signal: abort.signal,
  });
  await sleep(300);
  assert.equal(silent.filter((s) => s.open() > 0).length, 3, 'all three are being asked');
  const at = Date.now();
  abort.abort();
  await assert.rejects(fetching, (e: Error) => hasCode(e, 'STOPPED'));
  assert.ok(Date.now() - at < 100);
  await sleep(100);
  assert.equal(
    silent.reduce((n, s) => n + s.open(), 0),
    0,
    'no connection left open',
  );
});

test('with nobody to ask it says so at once and again while it waits, then gives up', async () => {
  const events: MetadataProgress[] = [];
  await assert.rejects(
    fetchMetadata(runtime, {
      infoHashV1,
      peers: () => [],
      peerId: Buffer.alloc(20, 1),
      dial: plainDial(runtime),
      timeoutMs: 1200,
      limits: { waitingReportMs: 500 },
      onProgress: (p) => events.push(p),
    }),
    (e: Error) => e instanceof MetadataError && /no peers found in 1 s/.test(e.message),
  );
  const waiting = events.filter((e) => e.event === 'waiting');
  assert.ok(waiting.length >= 2, `${waiting.length} waiting reports`);
  assert.equal(waiting[0]!.elapsedMs < 100, true, 'the first at once');
  assert.equal(waiting[0]!.known, 0);
});

test('a peer that times out is tried again, a few times, then named in the error', async (t) => {
  const mute = await startFakeMetadataPeer(t, 'mute', '127.0.23.10', 1000);
  const events: MetadataProgress[] = [];
  await assert.rejects(
    fetchMetadata(runtime, {
      infoHashV1,
      peers: [mute],
      peerId: Buffer.alloc(20, 1),
      dial: plainDial(runtime),
      timeoutMs: 3000,
      limits: { pieceTimeoutMs: 200, retryAfterMs: 100, attemptsPerPeer: 3 },
      onProgress: (p) => events.push(p),
    }),
    (e: Error) =>
      e instanceof MetadataError &&
      e.message.includes(`127.0.23.10:${mute.port}: sent no metadata piece for 0.2 s`),
  );
  assert.equal(mute.connections(), 3);
  assert.equal(events.filter((e) => e.event === 'failed').length, 3);
});

test('stopping the node, or the caller’s signal, ends addMagnet promptly', async (t) => {
  const silent = await startFakeMetadataPeer(t, 'silent', '127.0.23.20', 1000);
  const link = parseMagnet(
    `magnet:?xt=urn:btih:${infoHashV1.toString('hex')}&x.pe=127.0.23.20:${silent.port}`,
  );
  const node = await startNode(t);
  const events: MetadataProgress[] = [];
  node.on('metadata', (_hash, p) => events.push(p));
  const adding = node.addMagnet(link);
  await sleep(200);
  assert.equal(events[0]?.event, 'asking', 'progress is reported as metadata events');
  const at = Date.now();
  await node.stop();
  await assert.rejects(adding, (e: Error) => hasCode(e, 'STOPPED'));
  assert.ok(Date.now() - at < 1000, `stopped after ${Date.now() - at} ms`);

  const other = await startNode(t);
  const abort = new AbortController();
  const adding2 = other.addMagnet(link, { signal: abort.signal });
  await sleep(100);
  abort.abort();
  await assert.rejects(adding2, (e: Error) => hasCode(e, 'STOPPED'));
});
