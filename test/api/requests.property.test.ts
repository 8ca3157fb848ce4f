import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { authenticate, checkOrigin, hostOf } from '../../src/api/auth.js';
import { ApiError } from '../../src/api/errors.js';
import { parseTarget } from '../../src/api/http.js';
import { Router } from '../../src/api/router.js';
import { parseListQuery } from '../../src/api/rows.js';
import { createApiHandler } from '../../src/api/server.js';
import { EgressPolicy } from '../../src/runtime/egress.js';
import type {
  HttpServerRequest,
  HttpServerResponse,
  HttpStreamSink,
} from '../../src/runtime/http-server.js';
import { HttpBodyTooLargeError } from '../../src/runtime/http-server.js';
import { createRealRuntime } from '../../src/runtime/real.js';
import { FakeControl } from '../support/fake-control.js';
import { FUZZ_RUNS } from '../support/fuzz.js';
import { tempDir } from '../support/tmp.js';

const TOKEN = 'ab'.repeat(32);
const policy = { token: TOKEN, password: 'pw', loopbackOnly: true };

/** Text with the characters that matter to these parsers, often. */
const tricky = fc.string({
  unit: fc.oneof(
    fc.constantFrom(':', '/', '%', '?', '&', '=', ',', '[', ']', ' ', '.', '"', '\\', '\0'),
    fc.string({ minLength: 1, maxLength: 1, unit: 'grapheme' }),
  ),
  maxLength: 60,
});

test('header and target parsers throw nothing but ApiError', () => {
  fc.assert(
    fc.property(tricky, tricky, tricky, tricky, (auth, host, origin, target) => {
      const headers = { authorization: auth, host, origin };
      hostOf(host);
      for (const f of [
        () => authenticate({ headers, remoteAddress: '127.0.0.1' }, policy),
        () => authenticate({ headers: { 'x-shoal-token': auth }, remoteAddress: '' }, policy),
        () => checkOrigin({ headers, remoteAddress: '127.0.0.1' }, policy),
        () => parseTarget(target),
        () => parseTarget(`/${target}`),
      ]) {
        try {
          f();
        } catch (error) {
          if (!(error instanceof ApiError)) throw error;
        }
      }
    }),
    { numRuns: Math.min(FUZZ_RUNS, 50_000) },
  );
});

test('Basic credentials of any bytes are decoded without throwing anything but ApiError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
      const header = `Basic ${Buffer.from(bytes).toString('base64')}`;
      try {
        authenticate({ headers: { authorization: header }, remoteAddress: '' }, policy);
      } catch (error) {
        if (!(error instanceof ApiError) || error.status !== 401) throw error;
      }
    }),
    { numRuns: Math.min(FUZZ_RUNS, 50_000) },
  );
});

test('list queries throw nothing but a 400, and a valid query stays in bounds', () => {
  const key = fc.constantFrom('fields', 'offset', 'limit', 'sort', 'order', 'state', 'q', 'x');
  fc.assert(
    fc.property(fc.array(fc.tuple(key, tricky), { maxLength: 8 }), (pairs) => {
      const query = new URLSearchParams(pairs);
      try {
        const q = parseListQuery(query);
        assert.ok(q.limit >= 1 && q.limit <= 10_000 && q.offset >= 0);
      } catch (error) {
        if (!(error instanceof ApiError) || error.status !== 400) throw error;
      }
    }),
    { numRuns: Math.min(FUZZ_RUNS, 50_000) },
  );
});

test('the router matches only what its patterns say', () => {
  const router = new Router<string>()
    .add('GET', '/api/torrents/:id', 'one')
    .add('POST', '/api/torrents/:id/pause', 'pause');
  assert.deepEqual(router.match('GET', '/api/torrents/abc/'), {
    kind: 'found',
    handler: 'one',
    params: { id: 'abc' },
  });
  assert.equal(router.match('PUT', '/api/torrents/abc').kind, 'method-not-allowed');
  assert.equal(router.match('GET', '/api/torrents').kind, 'not-found');
  assert.equal(router.match('GET', '/api/torrents/%E0%A4%A').kind, 'not-found');
  fc.assert(
    fc.property(tricky, fc.constantFrom('GET', 'POST', 'PUT', 'X'), (path, method) => {
      const m = router.match(method, path);
      if (m.kind === 'found') assert.ok(path.split('/').filter(Boolean)[0] === 'api');
    }),
    { numRuns: Math.min(FUZZ_RUNS, 50_000) },
  );
});

/** A request and response in memory, to drive the whole handler without sockets. */
function fakeExchange(
  method: string,
  url: string,
  headers: Record<string, string>,
  body: Uint8Array,
): {
  req: HttpServerRequest;
  res: HttpServerResponse;
  result: () => number;
  headers: () => Readonly<Record<string, string>>;
} {
  let status = 0;
  let sent: Readonly<Record<string, string>> = {};
  const sink: HttpStreamSink = {
    write: () => true,
    buffered: () => 0,
    onClose: () => undefined,
    onDrain: () => undefined,
    end: () => undefined,
    destroy: () => undefined,
  };
  const req: HttpServerRequest = {
    method,
    url,
    headers,
    remoteAddress: '127.0.0.1',
    body: async (max) => {
      if (body.length > max) throw new HttpBodyTooLargeError(max);
      return Buffer.from(body);
    },
  };
  const res: HttpServerResponse = {
    get started() {
      return status !== 0;
    },
    send(s, h) {
      status = s;
      sent = h;
    },
    stream(s) {
      status = s;
      return sink;
    },
  };
  return { req, res, result: () => status, headers: () => sent };
}

test('any request to the handler gets an answer below 500 (no crash, no hang)', async (t) => {
  const webDir = await tempDir(t);
  await writeFile(join(webDir, 'index.html'), '<meta name="shoal-token" content="">');
  const control = FakeControl.withTorrents(5, 2);
  const id = [...control.torrents.keys()][0]!;
  const { handle, events } = await createApiHandler({
    runtime: createRealRuntime(new EgressPolicy('loopback')),
    control,
    settings: { enabled: true, host: '127.0.0.1', port: 0 },
    token: TOKEN,
    version: '0.1.0',
    webDir,
  });
  const probe = fakeExchange('POST', '/transmission/rpc', { host: '127.0.0.1' }, Buffer.from(''));
  await handle(probe.req, probe.res);
  const sessionId = probe.headers()['x-transmission-session-id']!;
  assert.equal(probe.result(), 409);
  const paths = fc.oneof(
    fc.constantFrom(
      '/api/torrents',
      `/api/torrents/${id}`,
      `/api/torrents/${id}/files`,
      `/api/torrents/${id.slice(0, 5)}/pause`,
      `/api/torrents/${id}/resume`,
      '/api/settings',
      '/api/library',
      '/api/session',
      '/transmission/rpc',
      '/metrics',
      '/',
    ),
    tricky.map((t) => `/api/${t}`),
    tricky,
  );
  const bodies = fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.json().map((j) => Buffer.from(j)),
    fc
      .record({
        method: fc.constantFrom('torrent-get', 'torrent-add', 'torrent-set', 'session-set', 'x'),
        arguments: fc.anything(),
      })
      .map((o) => Buffer.from(JSON.stringify(o))),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'BREW'),
      paths,
      fc.record(
        {
          authorization: fc.constantFrom(`Bearer ${TOKEN}`, 'Bearer x', 'Basic Og=='),
          'content-type': fc.constantFrom('application/json', 'application/x-bittorrent', 'a/b'),
          'x-transmission-session-id': fc.oneof(fc.constant(sessionId), tricky),
          origin: tricky,
        },
        { requiredKeys: [] },
      ),
      bodies,
      fc.option(tricky, { nil: undefined }),
      async (method, path, headers, body, query) => {
        const url = query === undefined ? path : `${path}?${query}`;
        const ex = fakeExchange(method, url, { host: '127.0.0.1:9091', ...headers }, body);
        await handle(ex.req, ex.res);
        const status = ex.result();
        assert.ok(status >= 200 && status < 500, `${method} ${url} → ${status}`);
      },
    ),
    { numRuns: Math.min(FUZZ_RUNS, 5000) },
  );
  events.close();
});
