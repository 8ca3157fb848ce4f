/**
 * Hostile class: HTTP connections that hold a tracker's connection slots without ever finishing
 * a request (slowloris: a byte now and then), from one address or from many. Bounds: a request
 * head that has not arrived whole by its deadline is cut off however often bytes trickle in;
 * one address holds at most `maxHttpConnectionsPerIp`; and with 4,200 slow connections held
 * from 200 addresses (more than the 4,096 slots), every honest announce still succeeds.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { type TestContext, test } from 'node:test';
import { EgressPolicy } from '../../src/runtime/egress.js';
import { createRealRuntime } from '../../src/runtime/real.js';
import type { ByteStream } from '../../src/runtime/runtime.js';
import { announceUrl, decodeAnnounceResponse } from '../../src/tracker/http-messages.js';
import {
  DEFAULT_TRACKER_OPTIONS,
  type TrackerOptions,
  TrackerServer,
} from '../../src/tracker/server.js';

const runtime = createRealRuntime(new EgressPolicy('loopback'));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function startTracker(t: TestContext, options: Partial<TrackerOptions> = {}) {
  const server = await TrackerServer.start(runtime, {
    httpPort: 0,
    host: '127.0.0.1',
    perIpRate: 0,
    ...options,
  });
  t.after(() => server.stop());
  return server;
}

/** One honest announce on a fresh connection; resolves to its latency in ms. */
async function honestAnnounce(port: number, peer: number): Promise<number> {
  const url = announceUrl(`http://127.0.0.1:${port}/announce`, {
    infoHash: Buffer.alloc(20, 0xcd),
    peerId: Buffer.alloc(20, peer & 255),
    port: 20000 + peer,
    uploaded: 0,
    downloaded: 0,
    left: 1,
    event: 'started',
    numWant: 10,
    compact: true,
    noPeerId: true,
  });
  const started = performance.now();
  const reply = await runtime.http.get(url, {
    timeoutMs: 5000,
    maxBytes: 1 << 16,
    headers: { connection: 'close' },
  });
  assert.equal(reply.status, 200);
  decodeAnnounceResponse(reply.body); // throws on a failure reason
  return performance.now() - started;
}

/** The start of a request, never finished. */
const HEAD_START = Buffer.from('GET /announce?info_hash=');

test('a byte every 200 ms does not keep a request head open past its deadline', async (t) => {
  const tracker = await startTracker(t, { httpHeadTimeoutMs: 1000 });
  const stream = await runtime.tcp.connect('127.0.0.1', tracker.ports.http!);
  t.after(() => stream.destroy());
  let closedAt: number | undefined;
  stream.onClose(() => {
    closedAt = performance.now();
  });
  const start = performance.now();
  stream.write(HEAD_START);
  while (closedAt === undefined && performance.now() - start < 4000) {
    stream.write(Buffer.from('a'));
    await sleep(200);
  }
  assert.ok(closedAt !== undefined, 'still open after 4 s of trickling');
  assert.ok(closedAt - start < 1800, `closed after ${Math.round(closedAt - start)} ms`);
  const byDefault = (DEFAULT_TRACKER_OPTIONS as Partial<TrackerOptions>).httpHeadTimeoutMs;
  assert.ok(byDefault !== undefined && byDefault <= 10_000, 'the default deadline is ≤ 10 s');
});

test('one address holds at most maxHttpConnectionsPerIp connections', async (t) => {
  const tracker = await startTracker(t, { maxHttpConnectionsPerIp: 32 });
  const port = tracker.ports.http!;
  const streams = await Promise.all(
    Array.from({ length: 100 }, () =>
      runtime.tcp.connect('127.0.0.1', port, { localAddress: '127.0.3.1' }),
    ),
  );
  t.after(() => {
    for (const s of streams) s.destroy();
  });
  const closed = new Set<ByteStream>();
  for (const s of streams) {
    s.onClose(() => closed.add(s));
    s.write(HEAD_START);
  }
  await sleep(300);
  // Those the tracker kept are the ones it has not closed.
  const kept = streams.filter((s) => !closed.has(s)).length;
  assert.ok(kept <= 32, `${kept} of 100 connections from one address kept open`);
  assert.ok((await honestAnnounce(port, 1)) < 5000);
  const byDefault = (DEFAULT_TRACKER_OPTIONS as Partial<TrackerOptions>).maxHttpConnectionsPerIp;
  assert.ok(byDefault !== undefined && byDefault <= 64, 'a per-address cap by default');
});

/** The soft limit on open files, from /proc (Linux), or undefined. */
function openFileLimit(): number | undefined {
  try {
    const m = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

test('honest announces succeed while 4,200 slow connections from 200 addresses are held', async (t) => {
  const ATTACKERS = 200;
  const PER_ATTACKER = 21;
  const TOTAL = ATTACKERS * PER_ATTACKER; // 4,200: more than the 4,096 slots
  const limit = openFileLimit();
  if (limit !== undefined && limit < 2 * TOTAL + 1000) {
    t.skip(`needs ${2 * TOTAL + 1000} open files, the limit is ${limit} (ulimit -n)`);
    return;
  }
  const tracker = await startTracker(t);
  const port = tracker.ports.http!;
  const open = new Set<ByteStream>();
  let stopping = false;
  let reconnects = 0;
  const MAX_RECONNECTS = 20_000;

  // Each attacker connection sends the start of a head, then a byte a second; when the tracker
  // drops one, the attacker opens another 100 ms later (within a bounded budget).
  const attack = async (address: string): Promise<void> => {
    let s: ByteStream;
    try {
      s = await runtime.tcp.connect('127.0.0.1', port, { localAddress: address, timeoutMs: 5000 });
    } catch {
      return;
    }
    open.add(s);
    s.onClose(() => {
      open.delete(s);
      if (!stopping && reconnects++ < MAX_RECONNECTS) void sleep(100).then(() => attack(address));
    });
    s.write(HEAD_START);
  };
  const addresses = Array.from({ length: ATTACKERS }, (_, i) => `127.0.2.${i + 1}`);
  const connecting = performance.now();
  await Promise.all(
    addresses.flatMap((a) => Array.from({ length: PER_ATTACKER }, () => attack(a))),
  );
  const connectMs = performance.now() - connecting;
  const trickle = setInterval(() => {
    for (const s of open) s.write(Buffer.from('a'));
  }, 1000);
  t.after(() => {
    stopping = true;
    clearInterval(trickle);
    for (const s of open) s.destroy();
  });
  await sleep(500);

  const latencies: number[] = [];
  const heldDuring: number[] = [];
  for (let i = 0; i < 20; i++) {
    heldDuring.push(tracker.stats().httpConnections ?? Number.NaN);
    latencies.push(await honestAnnounce(port, i));
    await sleep(50);
  }
  latencies.sort((a, b) => a - b);
  const p50 = latencies[10]!;
  const max = latencies[latencies.length - 1]!;
  t.diagnostic(
    `slow connections held by the tracker: ${Math.min(...heldDuring)}–${Math.max(...heldDuring)} ` +
      `(attacker side ${open.size}, opened in ${connectMs.toFixed(0)} ms, ${reconnects} ` +
      `reconnects); honest announce p50 ` +
      `${p50.toFixed(1)} ms, max ${max.toFixed(1)} ms`,
  );
  assert.ok(open.size >= 4000, 'the attack holds the slots');
  assert.ok(max < 2000, `honest announces took up to ${max.toFixed(0)} ms`);
});
