import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ledbat, RttEstimator, TARGET_DELAY_US } from '../../src/transport/utp/ledbat.js';

const MSS = 1000;

/** Feeds `n` acks of one packet each with the one-way delay `base + queueUs`. */
function feed(l: Ledbat, base: number, queueUs: number, n: number, nowMs = 0) {
  for (let i = 0; i < n; i++) {
    l.delaySample((base + queueUs) >>> 0, nowMs, 0);
    l.onAck(MSS, l.cwnd, MSS);
  }
}

test('below target the window grows about a packet per window of acks; above it shrinks', () => {
  const l = new Ledbat(MSS, 1 << 30);
  l.slowStart = false;
  l.delaySample(5_000, 0, 0); // the base
  l.cwnd = 20 * MSS;
  feed(l, 5_000, 0, 20);
  assert.ok(l.cwnd > 20.9 * MSS && l.cwnd < 21.1 * MSS, `grew to ${l.cwnd}`);
  const before = l.cwnd;
  // A queue twice the target (the first samples still meet the filter's older minimum).
  feed(l, 5_000, 2 * TARGET_DELAY_US, 30);
  assert.ok(l.cwnd < before - 0.9 * MSS, `shrank to ${l.cwnd}`);
  const steady = l.cwnd;
  feed(l, 5_000, TARGET_DELAY_US, 50); // at the target: no change
  assert.ok(Math.abs(l.cwnd - steady) < 1, 'steady at target');
});

test('above target the window shrinks by W·(delay/target − 1) per window of acks, at most half', () => {
  const shrunk = (queueOverTarget: number) => {
    const l = new Ledbat(MSS, 1 << 30);
    l.slowStart = false;
    l.delaySample(5_000, 0, 0);
    for (let i = 0; i < 4; i++) l.delaySample(5_000 + queueOverTarget * TARGET_DELAY_US, 0, 0);
    l.cwnd = 40 * MSS;
    for (let i = 0; i < 40; i++) l.onAck(MSS, l.cwnd, MSS); // one window
    return l.cwnd / MSS;
  };
  const quarter = shrunk(1.25);
  assert.ok(quarter > 30 && quarter < 32.5, `a quarter over target: 40 → ${quarter} packets`);
  assert.equal(shrunk(3), 20, 'three times the target: halved, no more');
});

test('the base delay is the minimum of the last ten minutes; older minima age out', () => {
  const l = new Ledbat(MSS, 1 << 30);
  l.delaySample(1_000_000, 0, 0);
  l.delaySample(1_050_000, 1_000, 0);
  assert.equal(l.queueingDelayUs, 0, 'min of the recent samples minus the base');
  for (let i = 0; i < 4; i++) l.delaySample(1_050_000, 2_000 + i, 0);
  assert.equal(l.queueingDelayUs, 50_000);
  // The path gets 30 ms slower for good: after ten minutes the old base is forgotten.
  for (let minute = 1; minute <= 11; minute++) l.delaySample(1_030_000, minute * 60_000, 0);
  for (let i = 0; i < 4; i++) l.delaySample(1_030_000, 11 * 60_000 + i, 0);
  assert.equal(l.queueingDelayUs, 0);
});

test('clock differences wrap: a base near 2^32 and samples past zero still make sense', () => {
  const l = new Ledbat(MSS, 1 << 30);
  l.delaySample(0xffff_fff0, 0, 0);
  for (let i = 0; i < 4; i++) l.delaySample(20_000 - 16, 1 + i, 0); // 20 ms later, wrapped
  assert.equal(l.queueingDelayUs, 20_000);
});

test('the queueing delay never exceeds the round-trip time', () => {
  const l = new Ledbat(MSS, 1 << 30);
  l.delaySample(0, 0, 0);
  for (let i = 0; i < 4; i++) l.delaySample(400_000, 1 + i, 50_000);
  assert.equal(l.queueingDelayUs, 50_000);
});

test('loss halves, a timeout drops to one packet, and the window stays within bounds', () => {
  const l = new Ledbat(MSS, 64 * MSS);
  l.cwnd = 40 * MSS;
  l.onLoss(MSS);
  assert.equal(l.cwnd, 20 * MSS);
  l.onTimeout(MSS);
  assert.equal(l.cwnd, MSS);
  assert.equal(l.slowStart, true);
  l.delaySample(1, 0, 0);
  for (let i = 0; i < 9; i++) l.onAck(MSS, l.cwnd, MSS);
  assert.equal(l.cwnd, 10 * MSS, 'slow start up to half the window that timed out');
  l.onAck(MSS, l.cwnd, MSS);
  assert.equal(l.slowStart, false, 'then linear growth');
  for (let i = 0; i < 5000; i++) l.onAck(MSS, l.cwnd, MSS);
  assert.equal(l.cwnd, 64 * MSS, 'capped');
  l.cwnd = 2 * MSS;
  l.onLoss(MSS);
  assert.equal(l.cwnd, 2 * MSS, 'never below two packets on loss');
});

test('an application-limited sender does not bank window', () => {
  const l = new Ledbat(MSS, 1 << 30);
  l.slowStart = false;
  l.delaySample(1, 0, 0);
  l.cwnd = 10 * MSS;
  for (let i = 0; i < 100; i++) l.onAck(MSS, 2 * MSS, MSS); // only two packets ever in flight
  assert.equal(l.cwnd, 10 * MSS);
});

test('RTT and timeout follow BEP 29, with a 500 ms floor', () => {
  const r = new RttEstimator();
  assert.equal(r.rtoMs, 1000, 'before any sample');
  r.sample(100);
  assert.equal(r.rttMs, 100);
  assert.equal(r.rttVarMs, 50);
  assert.equal(r.rtoMs, 500, 'rtt + 4·var = 300 < 500');
  r.sample(900);
  assert.equal(r.rttMs, 100 + 800 / 8);
  assert.equal(r.rttVarMs, 50 + (800 - 50) / 4);
  assert.equal(r.rtoMs, r.rttMs + 4 * r.rttVarMs);
});
