import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConnectionManager } from '../../src/net/connection-manager.js';
import { ConnectionRefusedError } from '../../src/net/errors.js';
import { ManualClock } from '../../src/runtime/manual-clock.js';
import type { ByteStream } from '../../src/runtime/runtime.js';

/** A stream from `host` that records whether it was destroyed and can be closed by the test. */
function streamFrom(host: string): ByteStream & { destroyed: boolean; close(): void } {
  let onClose: (e?: Error) => void = () => {};
  const s = {
    remoteAddress: host,
    remotePort: 40000,
    localAddress: '127.0.0.1',
    localPort: 6881,
    destroyed: false,
    write: () => true,
    writev: () => true,
    onData: () => {},
    onDrain: () => {},
    onClose: (h: (e?: Error) => void) => {
      onClose = h;
    },
    pause: () => {},
    resume: () => {},
    end: () => {},
    destroy: () => {
      if (s.destroyed) return;
      s.destroyed = true;
      onClose();
    },
    close: () => s.destroy(),
  };
  return s;
}

const limits = {
  maxConnections: 50,
  maxPerIp: 4,
  maxHalfOpen: 3,
  maxPendingInbound: 10,
  maxPendingInboundPerIp: 2,
  pendingTimeoutMs: 10_000,
};

test('one address gets at most maxPerIp connections; others still get in; a closed one frees a slot', () => {
  const clock = new ManualClock();
  const m = new ConnectionManager(clock, clock, limits);
  const held = [];
  for (let i = 0; i < 10; i++) {
    const s = streamFrom('10.0.0.1');
    const admitted = m.accept(s, 'tcp');
    if (admitted) {
      m.established(admitted);
      held.push(s);
    } else assert.equal(s.destroyed, true, 'a refused stream is closed');
  }
  assert.equal(held.length, limits.maxPerIp);
  assert.equal(m.counters.refused['per-ip-limit'], 10 - limits.maxPerIp);
  // An honest address is not locked out.
  assert.ok(m.accept(streamFrom('10.0.0.2'), 'tcp'));
  // Dialling out to the full address is refused too.
  assert.throws(() => m.beginDial('10.0.0.1', 6881), ConnectionRefusedError);
  held[0]!.close();
  assert.ok(m.accept(streamFrom('10.0.0.1'), 'tcp'), 'a slot freed by a close is reusable');
});

test('unidentified connections are bounded per address and time out', () => {
  const clock = new ManualClock();
  const m = new ConnectionManager(clock, clock, limits);
  const a = [streamFrom('10.0.0.1'), streamFrom('10.0.0.1'), streamFrom('10.0.0.1')];
  const admitted = a.map((s) => m.accept(s, 'tcp'));
  assert.equal(admitted.filter(Boolean).length, limits.maxPendingInboundPerIp);
  assert.equal(m.counters.refused['pending-limit'], 1);
  // Another address still gets pending slots.
  const b = streamFrom('10.0.0.2');
  assert.ok(m.accept(b, 'tcp'));
  clock.advance(limits.pendingTimeoutMs + 1);
  assert.ok(a[0]!.destroyed && a[1]!.destroyed && b.destroyed, 'silent connections are closed');
  assert.equal(m.counters.pendingTimeouts, 3);
  assert.equal(m.size, 0);
});

test('at most maxHalfOpen dials are in flight; a settled one frees its slot; failures back off', () => {
  const clock = new ManualClock();
  const m = new ConnectionManager(clock, clock, limits);
  const permits = [1, 2, 3].map((i) => m.beginDial(`10.0.1.${i}`, 6881));
  assert.throws(
    () => m.beginDial('10.0.1.9', 6881),
    (e: unknown) => e instanceof ConnectionRefusedError && e.reason === 'half-open-limit',
  );
  permits[0]!.failed();
  permits[1]!.connected(streamFrom('10.0.1.2'), 'tcp');
  const p = m.beginDial('10.0.1.9', 6881);
  p.failed();
  // The failed address waits before it is dialled again, doubling with each failure.
  assert.throws(
    () => m.beginDial('10.0.1.1', 6881),
    (e: unknown) => e instanceof ConnectionRefusedError && e.reason === 'backoff',
  );
  const wait = m.retryAt('10.0.1.1', 6881) - clock.now();
  assert.ok(wait >= 20_000, `backed off ${wait} ms`);
  clock.advance(wait);
  m.beginDial('10.0.1.1', 6881).failed();
  assert.ok(m.retryAt('10.0.1.1', 6881) - clock.now() >= 2 * wait, 'the wait doubles');
});

test('a banned address is refused both ways and its connections are closed', () => {
  const clock = new ManualClock();
  const m = new ConnectionManager(clock, clock, limits);
  const s = streamFrom('10.0.0.7');
  const admitted = m.accept(s, 'tcp');
  assert.ok(admitted);
  m.ban('10.0.0.7');
  assert.equal(s.destroyed, true);
  assert.equal(m.accept(streamFrom('10.0.0.7'), 'tcp'), undefined);
  assert.equal(m.accept(streamFrom('::ffff:10.0.0.7'), 'tcp'), undefined, 'mapped IPv4 too');
  assert.throws(() => m.beginDial('10.0.0.7', 1), ConnectionRefusedError);
});

test('allowRedial: an address we closed on purpose may be dialled again at once', () => {
  const clock = new ManualClock();
  const m = new ConnectionManager(clock, clock, limits);
  m.beginDial('10.0.2.1', 6881).connected(streamFrom('10.0.2.1'), 'tcp').destroy();
  assert.throws(
    () => m.beginDial('10.0.2.1', 6881),
    (e: unknown) => e instanceof ConnectionRefusedError && e.reason === 'backoff',
  );
  m.allowRedial('10.0.2.1', 6881);
  assert.ok(m.beginDial('10.0.2.1', 6881));
});
