import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiServer } from '../../src/api/server.js';
import type { ApiSettings } from '../../src/api/settings.js';
import { StreamServer } from '../../src/node/stream-server.js';
import { EgressPolicy } from '../../src/runtime/egress.js';
import { httpCall } from '../../src/runtime/http-server.js';
import { createRealRuntime } from '../../src/runtime/real.js';
import { FakeControl } from '../support/fake-control.js';

const egress = new EgressPolicy('loopback');

async function start(t: { after(fn: () => unknown): void }, settings: Partial<ApiSettings> = {}) {
  const server = await ApiServer.start({
    runtime: createRealRuntime(egress),
    control: FakeControl.withTorrents(1, 1),
    settings: { enabled: true, host: '127.0.0.1', port: 0, ...settings },
    token: 'cd'.repeat(32),
    version: '0.1.0',
    webDir: '/nonexistent',
    streams: new StreamServer({ torrent: () => undefined }),
  });
  t.after(() => server.close());
  return (path: string, headers: Record<string, string> = {}) =>
    httpCall(egress, {
      method: 'GET',
      url: `http://127.0.0.1:${server.port}${path}`,
      headers,
      timeoutMs: 5000,
      maxBytes: 1 << 20,
    });
}

test('the daemon serves streams to players without a token while it has no password', async (t) => {
  const get = await start(t);
  const missing = await get('/stream/00112233445566778899aabbccddeeff00112233/a.mkv');
  assert.equal(missing.status, 404, 'no credential needed, and no such torrent');
  const script = await get('/watch.js');
  assert.equal(script.status, 200);
  assert.match(script.headers['content-type']!, /javascript/);
  const crossSite = await get('/watch.js', { 'sec-fetch-site': 'cross-site' });
  assert.equal(crossSite.status, 403, 'another site may not embed the streams');
});

test('with a password the daemon asks players for it', async (t) => {
  const get = await start(t, { password: 'secret' });
  assert.equal((await get('/watch.js')).status, 401);
  const basic = `Basic ${Buffer.from('viewer:secret').toString('base64')}`;
  assert.equal((await get('/watch.js', { authorization: basic })).status, 200);
});
