import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EgressDeniedError, EgressPolicy } from '../../src/runtime/egress.js';
import { createRealRuntime } from '../../src/runtime/real.js';

test('the loopback policy allows loopback and allowed test networks only', () => {
  const p = new EgressPolicy('loopback', ['10.77.0.0/16', 'fd00:77::/64']);
  for (const ok of [
    '127.0.0.1',
    '127.9.8.7',
    '::1',
    '[::1]',
    'localhost',
    '::ffff:127.0.0.1',
    '10.77.3.4',
    'fd00:77::5',
  ]) {
    assert.equal(p.isAllowed(ok), true, ok);
  }
  for (const bad of [
    '8.8.8.8',
    '10.78.0.1',
    '192.168.1.1',
    '::2',
    'router.bittorrent.com',
    '239.192.152.143',
    'fd00:78::1',
  ]) {
    assert.equal(p.isAllowed(bad), false, bad);
  }
  assert.throws(
    () => p.assertAllowed('67.215.246.10', 6881, 'UDP send'),
    (e: unknown) => e instanceof EgressDeniedError && e.code === 'EGRESS_DENIED',
  );
});

test('the policy is read from the environment', () => {
  assert.equal(EgressPolicy.fromEnv({}).mode, 'open');
  const p = EgressPolicy.fromEnv({
    SHOAL_EGRESS: 'loopback',
    SHOAL_EGRESS_ALLOW: '10.1.0.0/16, 10.2.0.1',
  });
  assert.equal(p.isAllowed('10.1.2.3'), true);
  assert.equal(p.isAllowed('10.2.0.1'), true);
  assert.equal(p.isAllowed('10.2.0.2'), false);
  assert.throws(
    () => EgressPolicy.fromEnv({ SHOAL_EGRESS: 'sometimes' }),
    /must be "open" or "loopback"/,
  );
});

test('this test suite runs under the loopback policy', () => {
  assert.equal(process.env.SHOAL_EGRESS, 'loopback', 'npm test must set SHOAL_EGRESS=loopback');
  assert.equal(EgressPolicy.fromEnv().mode, 'loopback');
});

test('the real runtime refuses to send UDP or connect TCP off-machine, and works on loopback', async () => {
  const rt = createRealRuntime(new EgressPolicy('loopback'));
  const a = await rt.udp.bind({ host: '127.0.0.1' });
  const b = await rt.udp.bind({ host: '127.0.0.1' });
  try {
    const got = new Promise<string>((resolve) => b.onMessage((data) => resolve(data.toString())));
    a.send(Buffer.from('hi'), b.address().port, '127.0.0.1');
    assert.equal(await got, 'hi');
    assert.throws(() => a.send(Buffer.from('x'), 6881, '67.215.246.10'), EgressDeniedError);
    await assert.rejects(rt.tcp.connect('1.1.1.1', 80), EgressDeniedError);
    await assert.rejects(rt.tcp.connect('router.bittorrent.com', 6881), EgressDeniedError);
  } finally {
    await a.close();
    await b.close();
  }
});

test('real TCP streams carry bytes both ways on loopback', async () => {
  const rt = createRealRuntime(new EgressPolicy('loopback'));
  const server = await rt.tcp.listen({ host: '127.0.0.1' }, (s) =>
    s.onData((d) => s.write(Buffer.concat([d, Buffer.from('!')]))),
  );
  try {
    const c = await rt.tcp.connect('127.0.0.1', server.address().port, { timeoutMs: 2000 });
    const reply = new Promise<string>((resolve) => c.onData((d) => resolve(d.toString())));
    c.write(Buffer.from('ping'));
    assert.equal(await reply, 'ping!');
    const closed = new Promise<void>((resolve) => c.onClose(() => resolve()));
    c.destroy();
    await closed;
  } finally {
    await server.close();
  }
});
