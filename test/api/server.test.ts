import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiServer } from '../../src/api/server.js';
import { ApiConfigError, type ApiSettings } from '../../src/api/settings.js';
import { EgressPolicy } from '../../src/runtime/egress.js';
import { httpCall } from '../../src/runtime/http-server.js';
import { createRealRuntime } from '../../src/runtime/real.js';
import { FakeControl } from '../support/fake-control.js';
import { fixtureTorrent } from '../support/nodes.js';
import { tempDir } from '../support/tmp.js';

const TOKEN = 'ab'.repeat(32);
/** Whatever JSON the server sent (JSON.parse's own type). */
type Json = ReturnType<typeof JSON.parse>;
const egress = new EgressPolicy('loopback');

interface Started {
  readonly control: FakeControl;
  readonly base: string;
  readonly host: string;
  call(
    method: string,
    path: string,
    options?: { headers?: Record<string, string>; body?: string | Uint8Array; auth?: boolean },
  ): Promise<{ status: number; headers: Record<string, string>; json: Json; text: string }>;
}

async function start(
  t: { after(fn: () => unknown): void },
  settings: Partial<ApiSettings> = {},
  control = FakeControl.withTorrents(3, 2),
): Promise<Started> {
  const server = await ApiServer.start({
    runtime: createRealRuntime(egress),
    control,
    settings: { enabled: true, host: '127.0.0.1', port: 0, ...settings },
    token: TOKEN,
    version: '0.1.0',
    webDir: '/nonexistent',
    eventIntervalMs: 50,
  });
  t.after(() => server.close());
  const host = `127.0.0.1:${server.port}`;
  const base = `http://${host}`;
  return {
    control,
    base,
    host,
    async call(method, path, options = {}) {
      const res = await httpCall(egress, {
        method,
        url: `${base}${path}`,
        headers: {
          ...(options.auth !== false && { authorization: `Bearer ${TOKEN}` }),
          ...options.headers,
        },
        ...(options.body !== undefined && { body: options.body }),
        timeoutMs: 5000,
        maxBytes: 64 * 1024 * 1024,
      });
      const text = res.body.toString('utf8');
      let json: Json;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, headers: res.headers as Record<string, string>, json, text };
    },
  };
}

const firstId = (c: FakeControl) => [...c.torrents.keys()][0]!;

test('the API refuses requests without a valid credential, and takes token, header and Basic', async (t) => {
  const api = await start(t, { user: 'alice', password: 's3cret' });
  const none = await api.call('GET', '/api/torrents', { auth: false });
  assert.equal(none.status, 401);
  assert.equal(none.json.error.code, 'UNAUTHORIZED');
  assert.equal(none.headers['www-authenticate'], 'Basic realm="shoal"');
  const wrong = await api.call('GET', '/api/torrents', {
    auth: false,
    headers: { authorization: `Bearer ${'cd'.repeat(32)}` },
  });
  assert.equal(wrong.status, 401);
  const wrongHeader = await api.call('GET', '/api/torrents', {
    auth: false,
    headers: { 'x-shoal-token': 'nope' },
  });
  assert.equal(wrongHeader.status, 401);
  const header = await api.call('GET', '/api/torrents', {
    auth: false,
    headers: { 'x-shoal-token': TOKEN },
  });
  assert.equal(header.status, 200);
  const basic = (user: string, pass: string) => ({
    auth: false,
    headers: { authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` },
  });
  assert.equal((await api.call('GET', '/api/torrents', basic('alice', 's3cret'))).status, 200);
  assert.equal((await api.call('GET', '/api/torrents', basic('alice', 'wrong'))).status, 401);
  assert.equal((await api.call('GET', '/api/torrents', basic('bob', 's3cret'))).status, 401);
  assert.equal((await api.call('GET', '/api/torrents', basic('any', TOKEN))).status, 200);
  const scheme = await api.call('GET', '/api/torrents', {
    auth: false,
    headers: { authorization: 'Digest x' },
  });
  assert.equal(scheme.status, 401);
  // With a password, the Transmission RPC and /metrics need a credential too.
  assert.equal((await api.call('GET', '/metrics', { auth: false })).status, 401);
  const rpc = await api.call('POST', '/transmission/rpc', { auth: false, body: '{}' });
  assert.equal(rpc.status, 401);
  assert.equal(rpc.headers['www-authenticate'], 'Basic realm="shoal"');
});

test('cross-site browser requests and foreign Host headers are refused', async (t) => {
  const api = await start(t);
  const evil = await api.call('POST', `/api/torrents/${firstId(api.control)}/pause`, {
    headers: { origin: 'http://evil.example' },
  });
  assert.equal(evil.status, 403);
  assert.equal(evil.json.error.code, 'CROSS_ORIGIN');
  assert.deepEqual(api.control.calls, []);
  const site = await api.call('GET', '/api/torrents', {
    headers: { 'sec-fetch-site': 'cross-site' },
  });
  assert.equal(site.status, 403);
  const same = await api.call('GET', '/api/torrents', {
    headers: { origin: api.base, 'sec-fetch-site': 'same-origin' },
  });
  assert.equal(same.status, 200);
  // DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends its own name as Host.
  const rebound = await api.call('GET', '/', { headers: { host: 'evil.example:9091' } });
  assert.equal(rebound.status, 403);
  assert.equal(rebound.json.error.code, 'HOST_NOT_ALLOWED');
  const local = await api.call('GET', '/api', { headers: { host: `localhost:1234` } });
  assert.equal(local.status, 200);
});

test('the API will not listen beyond loopback without a password', async (t) => {
  await assert.rejects(
    ApiServer.start({
      runtime: createRealRuntime(egress),
      control: new FakeControl(),
      settings: { enabled: true, host: '0.0.0.0', port: 0 },
      token: TOKEN,
      version: '0.1.0',
    }),
    ApiConfigError,
  );
  const api = await start(t, { host: '0.0.0.0', password: 'pw' });
  // Off loopback any Host is accepted, the password being the guard.
  const res = await api.call('GET', '/api', { headers: { host: 'nas.local:9091' } });
  assert.equal(res.status, 200);
});

test('list: paging, field selection, sorting, filtering, search; bad queries are 400', async (t) => {
  const api = await start(t, {}, FakeControl.withTorrents(25, 5));
  const all = await api.call('GET', '/api/torrents');
  assert.equal(all.status, 200);
  assert.equal(all.json.total, 25);
  assert.equal(all.json.torrents.length, 25);
  assert.ok('eta' in all.json.torrents[0] && 'ratio' in all.json.torrents[0]);
  const page = await api.call('GET', '/api/torrents?offset=10&limit=5&fields=id,name&sort=name');
  assert.equal(page.json.offset, 10);
  assert.equal(page.json.torrents.length, 5);
  assert.deepEqual(Object.keys(page.json.torrents[0]), ['id', 'name']);
  const names = (
    await api.call('GET', '/api/torrents?fields=name&sort=name&order=desc')
  ).json.torrents.map((r: { name: string }) => r.name);
  assert.deepEqual(names, [...names].sort().reverse());
  const downloading = await api.call('GET', '/api/torrents?state=downloading&fields=state');
  assert.equal(downloading.json.total, 5);
  assert.ok(downloading.json.torrents.every((r: { state: string }) => r.state === 'downloading'));
  const search = await api.call('GET', '/api/torrents?q=DEBIAN&fields=name');
  assert.ok(search.json.total > 0);
  assert.ok(search.json.torrents.every((r: { name: string }) => r.name.includes('debian')));
  for (const bad of [
    'fields=id,nope',
    'limit=0',
    'limit=abc',
    'offset=-1',
    'sort=secret',
    'order=up',
    'state=flying',
  ]) {
    const res = await api.call('GET', `/api/torrents?${bad}`);
    assert.equal(res.status, 400, bad);
    assert.equal(res.json.error.code, 'BAD_QUERY', bad);
  }
});

test('add by magnet, upload and base64; duplicates are 409; bad sources are 400', async (t) => {
  const api = await start(t, {}, new FakeControl());
  const magnet = 'magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=hello';
  const added = await api.call('POST', '/api/torrents', { body: JSON.stringify({ magnet }) });
  assert.equal(added.status, 202);
  assert.equal(added.json.name, 'hello');
  assert.equal(added.json.state, 'metadata');
  const again = await api.call('POST', '/api/torrents', { body: JSON.stringify({ magnet }) });
  assert.equal(again.status, 409);
  assert.equal(again.json.error.code, 'TORRENT_EXISTS');
  const dir = await tempDir(t);
  const bytes = await fixtureTorrent(dir, 'upload', { 'a.bin': 40000 }, { version: 'v1' });
  const upload = await api.call('POST', '/api/torrents', {
    body: bytes,
    headers: { 'content-type': 'application/x-bittorrent' },
  });
  assert.equal(upload.status, 201);
  assert.equal(upload.json.name, 'upload');
  assert.equal(upload.json.size, 40000);
  const other = await fixtureTorrent(dir, 'other', { 'b.bin': 1000 }, { version: 'v2' });
  const b64 = await api.call('POST', '/api/torrents', {
    body: JSON.stringify({
      torrent: other.toString('base64'),
      paused: true,
      downloadDir: '/tmp/x',
    }),
  });
  assert.equal(b64.status, 201);
  assert.equal(b64.json.state, 'paused');
  assert.equal(b64.json.downloadDir, '/tmp/x');
  const cases: [string, string | Uint8Array, number, string][] = [
    ['{"magnet":"magnet:?xt=urn:btih:zz"}', '', 400, 'MAGNET_INVALID'],
    ['{"magnet":"x","url":"y"}', '', 400, 'BAD_SOURCE'],
    ['{}', '', 400, 'BAD_SOURCE'],
    ['{"torrent":"!!!"}', '', 400, 'BAD_FIELD'],
    ['{"torrent":"aGVsbG8="}', '', 400, 'METAINFO_INVALID'],
    ['{"magnet":5}', '', 400, 'BAD_FIELD'],
    ['{"url":"ftp://x/y.torrent"}', '', 400, 'BAD_SOURCE'],
    ['{"url":"http://example.com/a.torrent"}', '', 502, 'TORRENT_URL_FAILED'],
    [`{"magnet":"${magnet}x","downloadDir":"relative"}`, '', 400, 'BAD_FIELD'],
    [`{"magnet":"${magnet}","peers":["nope"]}`, '', 400, 'BAD_FIELD'],
    [`{"magnet":"${magnet}","trackers":["file:///etc"]}`, '', 400, 'BAD_FIELD'],
    ['not json', '', 400, 'BAD_JSON'],
    ['[1,2]', '', 400, 'BAD_JSON'],
    ['', 'text/plain', 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ];
  for (const [body, type, status, code] of cases) {
    const res = await api.call('POST', '/api/torrents', {
      body,
      ...(type !== '' && { headers: { 'content-type': type as string } }),
    });
    assert.equal(res.status, status, body);
    assert.equal(res.json.error.code, code, body);
  }
  const garbage = await api.call('POST', '/api/torrents', {
    body: Buffer.from('d4:infoi1ee'),
    headers: { 'content-type': 'application/x-bittorrent' },
  });
  assert.equal(garbage.status, 400);
  const huge = await api.call('POST', '/api/torrents', {
    body: Buffer.alloc(11 * 1024 * 1024),
    headers: { 'content-type': 'application/x-bittorrent' },
  });
  assert.equal(huge.status, 413);
  assert.equal(huge.json.error.code, 'BODY_TOO_LARGE');
});

test('add by URL fetches the .torrent through the runtime', async (t) => {
  const dir = await tempDir(t);
  const bytes = await fixtureTorrent(dir, 'from-url', { 'c.bin': 5000 }, { version: 'v1' });
  const { listenHttp } = await import('../../src/runtime/http-server.js');
  const files = await listenHttp({ host: '127.0.0.1', port: 0 }, (req, res) => {
    if (req.url === '/a.torrent') res.send(200, {}, bytes);
    else res.send(404, {}, 'no');
  });
  t.after(() => files.close());
  const api = await start(t, {}, new FakeControl());
  const url = `http://127.0.0.1:${files.address().port}`;
  const ok = await api.call('POST', '/api/torrents', {
    body: JSON.stringify({ url: `${url}/a.torrent` }),
  });
  assert.equal(ok.status, 201);
  assert.equal(ok.json.name, 'from-url');
  const missing = await api.call('POST', '/api/torrents', {
    body: JSON.stringify({ url: `${url}/b.torrent` }),
  });
  assert.equal(missing.status, 502);
  assert.match(missing.json.error.message, /HTTP 404/);
});

test('one torrent: detail, files, peers, trackers, pieces, pause, resume, priorities, remove', async (t) => {
  const api = await start(t);
  const id = firstId(api.control);
  const d = await api.call('GET', `/api/torrents/${id}`);
  assert.equal(d.status, 200);
  assert.equal(d.json.id, id);
  assert.equal(d.json.files.length, 2);
  assert.equal(typeof d.json.pieces, 'string');
  assert.equal((await api.call('GET', `/api/torrents/${id.slice(0, 6)}`)).json.id, id);
  assert.equal((await api.call('GET', `/api/torrents/${id}/files`)).json.files.length, 2);
  assert.equal((await api.call('GET', `/api/torrents/${id}/peers`)).json.peers.length, 5);
  assert.equal((await api.call('GET', `/api/torrents/${id}/trackers`)).json.trackers.length, 1);
  assert.equal((await api.call('GET', `/api/torrents/${id}/pieces`)).json.pieceCount, 16);
  assert.equal((await api.call('POST', `/api/torrents/${id}/pause`)).json.state, 'paused');
  assert.equal((await api.call('POST', `/api/torrents/${id}/resume`)).json.state, 'downloading');
  const set = await api.call('PUT', `/api/torrents/${id}/files`, {
    body: JSON.stringify({ files: [1], priority: 0 }),
  });
  assert.equal(set.status, 200);
  assert.deepEqual(
    set.json.files.map((f: { priority: number }) => f.priority),
    [1, 0],
  );
  const all = await api.call('PUT', `/api/torrents/${id}/files`, {
    body: JSON.stringify({ priorities: [7, 1] }),
  });
  assert.deepEqual(
    all.json.files.map((f: { priority: number }) => f.priority),
    [7, 1],
  );
  for (const body of [
    '{}',
    '{"files":[9],"priority":1}',
    '{"priorities":"x"}',
    '{"files":[0],"priority":-1}',
  ]) {
    const res = await api.call('PUT', `/api/torrents/${id}/files`, { body });
    assert.equal(res.status, 400, body);
  }
  assert.equal((await api.call('DELETE', `/api/torrents/${id}?deleteData=maybe`)).status, 400);
  const removed = await api.call('DELETE', `/api/torrents/${id}?deleteData=true`);
  assert.deepEqual(removed.json, { removed: id, deletedData: true });
  assert.ok(api.control.calls.includes(`remove ${id} true`));
  const gone = await api.call('GET', `/api/torrents/${id}`);
  assert.equal(gone.status, 404);
  assert.equal(gone.json.error.code, 'TORRENT_NOT_FOUND');
  const bad = await api.call('GET', '/api/torrents/xyz');
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.code, 'BAD_ID');
  const encoded = await api.call('GET', '/api/torrents/%E0%A4%A');
  assert.equal(encoded.status, 404);
});

test('an id prefix matching several torrents is 409', async (t) => {
  const control = FakeControl.withTorrents(400);
  const api = await start(t, {}, control);
  const ids = [...control.torrents.keys()];
  const shared = ids.find((a) => ids.some((b) => b !== a && b.slice(0, 4) === a.slice(0, 4)));
  assert.ok(shared, 'some two of 400 hashes share 4 hex digits');
  const res = await api.call('POST', `/api/torrents/${shared!.slice(0, 4)}/pause`);
  assert.equal(res.status, 409);
  assert.equal(res.json.error.code, 'AMBIGUOUS_ID');
});

test('settings, library, session; unknown routes and methods', async (t) => {
  const api = await start(t);
  const s = await api.call('GET', '/api/settings');
  assert.equal(s.json.uploadLimit, 0);
  const patched = await api.call('PATCH', '/api/settings', {
    body: JSON.stringify({ uploadLimit: 2_000_000, downloadDir: '/srv/dl' }),
  });
  assert.equal(patched.json.uploadLimit, 2_000_000);
  assert.equal(patched.json.downloadDir, '/srv/dl');
  for (const body of [
    '{"port":1}',
    '{"uploadLimit":-5}',
    '{"uploadLimit":"fast"}',
    '{"downloadDir":"x"}',
  ]) {
    assert.equal((await api.call('PATCH', '/api/settings', { body })).status, 400, body);
  }
  assert.equal((await api.call('GET', '/api/library')).json.torrents.length, 3);
  assert.equal((await api.call('GET', '/api/session')).json.torrents, 3);
  const nothing = await api.call('GET', '/api/nothing');
  assert.equal(nothing.status, 404);
  assert.equal(nothing.json.error.code, 'NO_ROUTE');
  const method = await api.call('DELETE', '/api/settings');
  assert.equal(method.status, 405);
  assert.match(method.headers.allow!, /GET/);
  const ui = await api.call('GET', '/');
  assert.equal(ui.status, 503);
  assert.equal(ui.json.error.code, 'UI_NOT_BUILT');
});

test('/metrics is Prometheus text; anonymous on loopback without a password', async (t) => {
  const api = await start(t);
  const res = await api.call('GET', '/metrics', { auth: false });
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type']!, /text\/plain; version=0\.0\.4/);
  assert.match(res.text, /^# HELP shoal_torrents_by_state /m);
  assert.match(res.text, /^shoal_torrents_by_state\{state="downloading"\} 2$/m);
  assert.match(res.text, /^shoal_peers 10$/m);
});

test('the event stream sends a snapshot, then only what changed', {
  timeout: 30_000,
}, async (t) => {
  const api = await start(t, {}, FakeControl.withTorrents(50, 10));
  const { request } = await import('node:http');
  const chunks: string[] = [];
  const done = new Promise<void>((resolve, reject) => {
    const req = request(
      `${api.base}/api/events`,
      { headers: { authorization: `Bearer ${TOKEN}` } },
      (res) => {
        assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          chunks.push(c);
          if (chunks.join('').split('event: delta').length > 2) {
            req.destroy();
            resolve();
          }
        });
      },
    );
    req.on('error', (e) => (e.message.includes('aborted') ? resolve() : reject(e)));
    req.end();
    const moving = setInterval(() => api.control.step(), 40);
    const giveUp = setTimeout(() => {
      req.destroy();
      reject(new Error(`no two deltas in 20 s; got: ${chunks.join('').slice(0, 400)}`));
    }, 20_000);
    t.after(() => {
      clearInterval(moving);
      clearTimeout(giveUp);
    });
  });
  await done;
  const events = chunks
    .join('')
    .split('\n\n')
    .filter((e) => e.startsWith('event:'))
    .map((e) => {
      const [head, data] = e.split('\n');
      return { type: head!.slice(7), data: JSON.parse(data!.slice(6)) };
    });
  assert.equal(events[0]!.type, 'snapshot');
  assert.equal(events[0]!.data.torrents.length, 50);
  const delta = events.find((e) => e.type === 'delta')!;
  // Only the 5 downloading torrents move; only their changing fields are sent.
  assert.ok(delta.data.changed.length <= 5);
  for (const row of delta.data.changed) {
    assert.ok(!('name' in row) && !('downloadDir' in row), JSON.stringify(row));
    assert.ok('id' in row);
  }
});

test('the web UI page carries the token only for a loopback browser asking by a loopback name', async (t) => {
  const { writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const { createApiHandler } = await import('../../src/api/server.js');
  const webDir = await tempDir(t);
  await writeFile(join(webDir, 'index.html'), '<meta name="shoal-token" content="">');
  await writeFile(join(webDir, 'app.js'), 'console.log(1)');
  const { handle, events } = await createApiHandler({
    runtime: createRealRuntime(egress),
    control: new FakeControl(),
    settings: { enabled: true, host: '0.0.0.0', port: 0, password: 'pw' },
    token: TOKEN,
    version: '0.1.0',
    webDir,
  });
  t.after(() => events.close());
  const page = async (remoteAddress: string, host: string, path = '/') => {
    let body = '';
    let headers: Readonly<Record<string, string>> = {};
    let status = 0;
    await handle(
      {
        method: 'GET',
        url: path,
        headers: { host },
        remoteAddress,
        body: async () => Buffer.alloc(0),
      },
      {
        started: false,
        send(s, h, b) {
          status = s;
          headers = h;
          body = Buffer.from(b).toString();
        },
        stream() {
          throw new Error('not a stream');
        },
      },
    );
    return { status, body, headers };
  };
  const local = await page('127.0.0.1', '127.0.0.1:9091');
  assert.equal(local.status, 200);
  assert.ok(local.body.includes(`content="${TOKEN}"`));
  assert.match(local.headers['content-security-policy']!, /script-src 'self'/);
  const remote = await page('192.0.2.7', 'nas.local:9091');
  assert.equal(remote.status, 200);
  assert.ok(!remote.body.includes(TOKEN));
  const byName = await page('127.0.0.1', 'nas.local:9091');
  assert.ok(!byName.body.includes(TOKEN), 'a non-loopback Host gets no token either');
  const script = await page('192.0.2.7', 'nas.local:9091', '/app.js');
  assert.match(script.headers['content-type']!, /text\/javascript/);
  assert.equal((await page('127.0.0.1', '127.0.0.1', '/nope.js')).status, 404);
});
