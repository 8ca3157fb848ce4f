import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { encode } from '../../src/codec/bencode.js';
import {
  decodeAnnounceResponse,
  decodeScrapeResponse,
  encodeAnnounceResponse,
  encodeScrapeResponse,
  TrackerFailure,
  TrackerProtocolError,
} from '../../src/tracker/http-messages.js';
import { type HttpRequest, HttpRequestReader } from '../../src/tracker/http-request.js';
import {
  decodeUdpResponse,
  encodeUdpResponse,
  TrackerPacketError,
  type UdpResponse,
} from '../../src/tracker/udp-messages.js';
import { assertDecoderSafe, FUZZ_RUNS, mutated } from '../support/fuzz.js';

const count = fc.nat({ max: 0xffffffff });
const v4Peer = fc.record({ host: fc.ipV4(), port: fc.integer({ min: 1, max: 65535 }) });
const v6Peer = fc.record({
  host: fc
    .array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 })
    .map((g) => g.map((x) => x.toString(16)).join(':')),
  port: fc.integer({ min: 1, max: 65535 }),
});

/** Announce replies as trackers write them: compact (with peers6) or dictionary peers. */
const announceReply = fc.oneof(
  fc
    .record({
      interval: fc.integer({ min: 1, max: 1e6 }),
      complete: count,
      incomplete: count,
      peers: fc.array(fc.oneof(v4Peer, v6Peer), { maxLength: 6 }),
      compact: fc.boolean(),
    })
    .map((r) => encodeAnnounceResponse(r, r.compact)),
  fc.string({ maxLength: 40 }).map((reason) => encode({ 'failure reason': reason })),
  fc.constant(
    encode({
      interval: 900,
      'min interval': 60,
      'warning message': 'slow down',
      'tracker id': 'abc',
      peers: [
        { ip: '10.0.0.1', port: 1, 'peer id': 'x'.repeat(20) },
        { ip: 'bad', port: 0 },
      ],
      peers6: Buffer.alloc(18, 1),
    }),
  ),
);

const scrapeReply = fc
  .array(
    fc.tuple(
      fc.uint8Array({ minLength: 20, maxLength: 20 }),
      fc.record({ complete: count, downloaded: count, incomplete: count }),
    ),
    { maxLength: 4 },
  )
  .map((files) => new Map(files.map(([h, c]) => [Buffer.from(h).toString('hex'), c])));

const udpReply: fc.Arbitrary<UdpResponse> = fc.oneof(
  fc.record({
    action: fc.constant('connect' as const),
    transactionId: count,
    connectionId: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  }),
  fc.record({
    action: fc.constant('announce' as const),
    transactionId: count,
    interval: count,
    leechers: count,
    seeders: count,
    peers: fc.array(v4Peer, { maxLength: 6 }),
  }),
  fc.record({
    action: fc.constant('scrape' as const),
    transactionId: count,
    files: fc.array(fc.record({ seeders: count, completed: count, leechers: count }), {
      maxLength: 5,
    }),
  }),
  fc.record({
    action: fc.constant('error' as const),
    transactionId: count,
    message: fc.string({ maxLength: 40 }),
  }),
);

const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((b) => Buffer.from(b));
/** Mutations of valid samples (a fixed pool of 64, so the cost goes into decoding). */
const mutatedOf = (valid: fc.Arbitrary<Uint8Array>) =>
  fc
    .constantFrom(...fc.sample(valid, { numRuns: 64, seed: 14 }))
    .chain((v) => mutated(v))
    .map((b) => Buffer.from(b));

test('fuzz: the HTTP announce reply decoder throws only its own errors', () => {
  assertDecoderSafe(
    fc.oneof(bytes(200), mutatedOf(announceReply)),
    (b) => decodeAnnounceResponse(b),
    TrackerProtocolError,
    TrackerFailure,
  );
});

test('fuzz: the HTTP scrape reply decoder throws only its own errors', () => {
  assertDecoderSafe(
    fc.oneof(bytes(200), mutatedOf(scrapeReply.map((m) => encodeScrapeResponse(m)))),
    (b) => decodeScrapeResponse(b),
    TrackerProtocolError,
    TrackerFailure,
  );
});

test('fuzz: the UDP reply decoder throws only its own errors, for either family', () => {
  assertDecoderSafe(
    fc.tuple(
      fc.oneof(bytes(120), mutatedOf(udpReply.map((r) => encodeUdpResponse(r)))),
      fc.constantFrom(4 as const, 6 as const),
    ),
    ([b, family]) => decodeUdpResponse(b, family),
    TrackerPacketError,
  );
});

/** A deep copy with ordinary objects (fast-check makes records without a prototype). */
function plain(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof Map) return new Map([...v].map(([k, x]) => [k, plain(x)]));
  if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array))
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

test('tracker replies round-trip through their encoders and decoders', () => {
  const runs = Math.min(FUZZ_RUNS, 20_000);
  fc.assert(
    fc.property(udpReply, (r) => {
      const back = decodeUdpResponse(encodeUdpResponse(r));
      if (r.action === 'error') assert.equal(back.action === 'error' && back.message, r.message);
      else assert.deepEqual(plain(back), plain(r));
    }),
    { numRuns: runs },
  );
  fc.assert(
    fc.property(scrapeReply, (m) => {
      assert.deepEqual(plain(decodeScrapeResponse(encodeScrapeResponse(m))), plain(m));
    }),
    { numRuns: runs },
  );
});

/** Everything a reader makes of `chunks`: requests, the error that ended it, and what it holds. */
function readAll(chunks: readonly Buffer[]) {
  const reader = new HttpRequestReader();
  const requests: HttpRequest[] = [];
  let error: string | undefined;
  for (const c of chunks) {
    const r = reader.push(c);
    requests.push(...r.requests);
    if (r.error) error ??= `${r.error.status} ${r.error.message}`;
  }
  return { requests, error, pending: reader.pending };
}

/** Pipelined requests as clients send them, some with the head split over many headers. */
const requestStream = fc
  .array(
    fc.record({
      path: fc.constantFrom('/announce', '/scrape', '/stats', '/x'),
      query: fc.string({ unit: 'binary-ascii', maxLength: 30 }).map(encodeURIComponent),
      minor: fc.constantFrom('0', '1'),
      connection: fc.constantFrom('', 'Connection: close\r\n', 'Connection: keep-alive\r\n'),
      padding: fc.nat({ max: 3 }),
    }),
    { minLength: 1, maxLength: 4 },
  )
  .map((reqs) =>
    Buffer.from(
      reqs
        .map(
          (r) =>
            `GET ${r.path}?${r.query} HTTP/1.${r.minor}\r\nHost: t\r\n${r.connection}` +
            `${'X-Pad: yes\r\n'.repeat(r.padding)}\r\n`,
        )
        .join(''),
      'latin1',
    ),
  );

/** `input` cut at `cuts` (positions taken modulo its length). */
function split(input: Buffer, cuts: readonly number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => (input.length === 0 ? 0 : c % input.length)))].sort(
    (a, b) => a - b,
  );
  const out: Buffer[] = [];
  let from = 0;
  for (const c of at) {
    out.push(input.subarray(from, c));
    from = c;
  }
  out.push(input.subarray(from));
  return out;
}

test('fuzz: the HTTP request reader never throws and any split gives the same result', () => {
  // Heads near the 8 KiB limit, ended or not.
  const nearLimit: Buffer[] = [];
  for (let n = 8180; n <= 8200; n++)
    for (const end of ['', '\r\n\r\n', '\r\n'])
      nearLimit.push(Buffer.from(`GET /${'a'.repeat(n - 16)} HTTP/1.1${end}`));
  const inputs = fc.oneof(
    bytes(300),
    fc.constantFrom(...fc.sample(requestStream, { numRuns: 256, seed: 14 })),
    mutatedOf(requestStream),
    fc.constantFrom(...nearLimit),
  );
  fc.assert(
    fc.property(inputs, fc.array(fc.nat(), { maxLength: 8 }), (input, cuts) => {
      const whole = readAll([input]);
      assert.deepEqual(readAll(split(input, cuts)), whole);
    }),
    { numRuns: FUZZ_RUNS },
  );
});

test('the HTTP request reader gives the same result cut at every single point', () => {
  const samples = [
    'GET /announce?a=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /stats HTTP/1.0\r\n\r\nGET /par',
    'GET / HTTP/1.1\r\n\r\nBAD\r\n\r\nGET / HTTP/1.1\r\n\r\n',
    `GET /${'b'.repeat(8180)} HTTP/1.1\r\n\r\n`,
    `GET /${'b'.repeat(8176)} HTTP/1.1\r\n\r\n`,
  ].map((s) => Buffer.from(s));
  for (const input of samples) {
    const whole = readAll([input]);
    for (let at = 0; at <= input.length; at++)
      assert.deepEqual(readAll([input.subarray(0, at), input.subarray(at)]), whole, `cut at ${at}`);
  }
});
