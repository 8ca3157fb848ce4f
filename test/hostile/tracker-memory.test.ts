/**
 * Hostile class: announces that make a tracker hold state — one per made-up info-hash, or
 * endless new peers. Bounds: a one-peer swarm costs at most 400 bytes (measured after a full
 * GC), the number of peers held is capped in the config (`maxPeers`, with `maxSwarms`) and
 * announces past the cap are refused with a clear reason, cheaply, without memory growth.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { type TestContext, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { EgressPolicy } from '../../src/runtime/egress.js';
import { createRealRuntime } from '../../src/runtime/real.js';
import { SeededRandom } from '../../src/runtime/seeded-random.js';
import {
  type AnnounceRequest,
  announceUrl,
  decodeAnnounceResponse,
} from '../../src/tracker/http-messages.js';
import { type RegistryOptions, SwarmRegistry } from '../../src/tracker/registry.js';
import {
  DEFAULT_TRACKER_OPTIONS,
  type TrackerOptions,
  TrackerServer,
} from '../../src/tracker/server.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const runtime = createRealRuntime(new EgressPolicy('loopback'));
const NOW = 1_700_000_000_000;

/** Live memory (JS heap and array buffers) after full collections. */
function liveBytes(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

const hashes = (n: number, salt: string) =>
  Array.from({ length: n }, (_, i) => createHash('sha1').update(`${salt}${i}`).digest());

function announce(infoHash: Buffer, peer = 1): AnnounceRequest {
  return {
    infoHash,
    peerId: Buffer.alloc(20, peer),
    port: 6881,
    uploaded: 0,
    downloaded: 0,
    left: 1,
    event: 'started',
    numWant: 50,
    compact: true,
    noPeerId: true,
  };
}

const hostOf = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

function registry(options: Partial<RegistryOptions & { maxPeers: number }>): SwarmRegistry {
  return new SwarmRegistry({ ...DEFAULT_TRACKER_OPTIONS, ...options }, new SeededRandom(1));
}

test('a swarm of one peer costs at most 400 bytes', (t) => {
  const N = 50_000;
  const infoHashes = hashes(N, 'swarm');
  const reg = registry({});
  const before = liveBytes();
  for (let i = 0; i < N; i++) reg.announce(announce(infoHashes[i]!), hostOf(i), NOW);
  const perSwarm = (liveBytes() - before) / N;
  assert.equal(reg.stats().swarms, N);
  t.diagnostic(`${perSwarm.toFixed(0)} bytes per one-peer swarm (${N} swarms)`);
  assert.ok(perSwarm <= 400, `${perSwarm.toFixed(0)} bytes per swarm`);
});

test('peers past the configured budget are refused cheaply, and memory stays flat', () => {
  const CAP = 10_000;
  const reg = registry({ maxPeers: CAP });
  const filling = hashes(CAP, 'fill');
  for (let i = 0; i < CAP; i++) reg.announce(announce(filling[i]!), hostOf(i), NOW);
  const extra = hashes(20_000, 'extra');
  const before = liveBytes();
  const started = performance.now();
  const refusals = new Set<string>();
  for (let i = 0; i < extra.length; i++) {
    const outcome = reg.announce(announce(extra[i]!), hostOf(CAP + i), NOW + i);
    if (!outcome.ok) refusals.add(outcome.reason);
  }
  const ms = performance.now() - started;
  const grown = liveBytes() - before;
  assert.equal(reg.stats().peers, CAP);
  assert.deepEqual([...refusals], [`tracker is full (${CAP} peers); try later`]);
  assert.ok(grown < 100_000, `${grown} bytes grown for 20,000 refused announces`);
  assert.ok(ms < 1000, `20,000 refused announces took ${ms.toFixed(0)} ms`);
  // Once the peers have timed out, there is room again.
  const later = NOW + (DEFAULT_TRACKER_OPTIONS.peerTimeoutSeconds + 60) * 1000;
  assert.equal(reg.announce(announce(extra[0]!), hostOf(0), later).ok, true);
  assert.equal(reg.stats().peers, 1);
});

async function startTracker(t: TestContext, options: Partial<TrackerOptions>) {
  const server = await TrackerServer.start(runtime, {
    httpPort: 0,
    host: '127.0.0.1',
    perIpRate: 0,
    ...options,
  });
  t.after(() => server.stop());
  return server;
}

test('a full tracker says so to an HTTP client, and the default budget is bounded', async (t) => {
  const tracker = await startTracker(t, { maxPeers: 5 } as Partial<TrackerOptions>);
  const infoHashes = hashes(8, 'http');
  const outcomes: string[] = [];
  for (const [i, infoHash] of infoHashes.entries()) {
    const url = announceUrl(
      `http://127.0.0.1:${tracker.ports.http}/announce`,
      announce(infoHash, i),
    );
    const reply = await runtime.http.get(url, { timeoutMs: 5000, maxBytes: 1 << 16 });
    outcomes.push(
      (() => {
        try {
          decodeAnnounceResponse(reply.body);
          return 'ok';
        } catch (e) {
          return (e as Error).message;
        }
      })(),
    );
  }
  assert.deepEqual(outcomes.slice(0, 5), ['ok', 'ok', 'ok', 'ok', 'ok']);
  for (const o of outcomes.slice(5)) assert.match(o, /tracker is full \(5 peers\)/);
  // Default budget: swarms × ~180 B + peers × ≤ 110 B stays under 1 GB.
  const d = DEFAULT_TRACKER_OPTIONS as Partial<TrackerOptions> & { maxPeers?: number };
  assert.ok(d.maxPeers !== undefined && d.maxSwarms! * 180 + d.maxPeers * 110 < 1e9);
});
