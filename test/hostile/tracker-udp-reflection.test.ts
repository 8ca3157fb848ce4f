/**
 * Hostile class: UDP packets with a forged source address, sent so that the tracker's replies
 * hit a victim (reflection and amplification). A source proves its address only by echoing a
 * connection id issued to it. Bounds: to a source that has not, no reply is larger than the
 * packet that caused it (whatever the packet: malformed, unknown action, wrong protocol id,
 * stale connection id); the per-address rate limit runs before any reply, so a flood gets at
 * most the burst answered; a proven source still gets its error messages whole.
 */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import fc from 'fast-check';
import { EgressPolicy } from '../../src/runtime/egress.js';
import { createRealRuntime } from '../../src/runtime/real.js';
import type { UdpSocket } from '../../src/runtime/runtime.js';
import { type TrackerOptions, TrackerServer } from '../../src/tracker/server.js';
import {
  decodeUdpResponse,
  encodeUdpRequest,
  UDP_PROTOCOL_ID,
} from '../../src/tracker/udp-messages.js';

const runtime = createRealRuntime(new EgressPolicy('loopback'));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function setup(t: TestContext, options: Partial<TrackerOptions>) {
  const tracker = await TrackerServer.start(runtime, { udpPort: 0, host: '127.0.0.1', ...options });
  t.after(() => tracker.stop());
  const socket = await runtime.udp.bind({ port: 0, host: '127.0.0.1' });
  t.after(() => socket.close());
  const replies: Buffer[] = [];
  socket.onMessage((data) => replies.push(Buffer.from(data)));
  return { port: tracker.ports.udp!, socket, replies };
}

/** Sends each packet and waits for a reply (or its absence) before the next. */
async function exchange(
  socket: UdpSocket,
  replies: Buffer[],
  port: number,
  packets: readonly Buffer[],
): Promise<{ sent: number; got: number; worst: string | undefined }> {
  let sent = 0;
  let got = 0;
  let worst: string | undefined;
  for (const p of packets) {
    const before = replies.length;
    socket.send(p, port, '127.0.0.1');
    for (let waited = 0; waited < 40 && replies.length === before; waited += 2) await sleep(2);
    sent += p.length;
    for (const r of replies.slice(before)) {
      got += r.length;
      if (r.length > p.length && worst === undefined)
        worst = `${p.length}-byte packet ${p.subarray(0, 16).toString('hex')}… got ${r.length} bytes`;
    }
  }
  return { sent, got, worst };
}

const header = (connectionId: bigint, action: number, transactionId: number, extra = 0) => {
  const b = Buffer.alloc(16 + extra);
  b.writeBigUInt64BE(connectionId, 0);
  b.writeUInt32BE(action, 8);
  b.writeUInt32BE(transactionId, 12);
  return b;
};

test('no reply to an unproven source is larger than its packet', async (t) => {
  const { port, socket, replies } = await setup(t, { perIpRate: 0 });
  const crafted = [
    header(0x1234n, 0, 1), // connect with a wrong protocol id
    header(UDP_PROTOCOL_ID, 7, 2), // unknown action
    header(0x1234n, 1, 3), // announce, too short
    header(0x1234n, 1, 4, 82), // announce with a made-up connection id
    header(0x1234n, 2, 5, 20), // scrape of one hash with a made-up connection id
    header(0x1234n, 2, 6), // scrape of nothing
    header(0x1234n, 9, 7, 100),
  ];
  const random = fc.sample(fc.uint8Array({ minLength: 16, maxLength: 120 }), {
    numRuns: 200,
    seed: 14,
  });
  const packets = [...crafted, ...random.map((b) => Buffer.from(b))];
  const r = await exchange(socket, replies, port, packets);
  t.diagnostic(`${packets.length} packets, ${r.sent} bytes sent, ${r.got} bytes of replies`);
  assert.equal(r.worst, undefined, r.worst);
  assert.ok(r.got <= r.sent);
  assert.ok(replies.length > 0, 'errors are still reported where they fit');
});

test('a flood is rate-limited before anything is answered', async (t) => {
  const { port, socket, replies } = await setup(t, { perIpRate: 10, perIpBurst: 20 });
  const started = performance.now();
  for (let i = 0; i < 500; i++) socket.send(header(0x1234n, 7, i), port, '127.0.0.1');
  await sleep(300);
  const seconds = (performance.now() - started) / 1000;
  const allowed = 20 + Math.ceil(10 * seconds) + 1;
  assert.ok(replies.length <= allowed, `${replies.length} replies to 500 malformed packets`);
});

test('a proven source gets whole error messages', async (t) => {
  const { port, socket, replies } = await setup(t, { perIpRate: 0 });
  socket.send(encodeUdpRequest({ action: 'connect', transactionId: 1 }), port, '127.0.0.1');
  for (let i = 0; i < 100 && replies.length === 0; i++) await sleep(5);
  const connect = decodeUdpResponse(replies.shift()!);
  assert.equal(connect.action, 'connect');
  const connectionId = connect.action === 'connect' ? connect.connectionId : 0n;
  const tooShort = header(connectionId, 1, 2, 10); // an announce of 26 bytes
  socket.send(tooShort, port, '127.0.0.1');
  for (let i = 0; i < 100 && replies.length === 0; i++) await sleep(5);
  const reply = replies.shift()!;
  const error = decodeUdpResponse(reply);
  assert.equal(error.action, 'error');
  assert.match(error.action === 'error' ? error.message : '', /announce shorter than 98 bytes$/);
  assert.ok(reply.length > tooShort.length, 'longer than the packet: the source is proven');
});
