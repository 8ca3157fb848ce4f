import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeCompactPeers, encodeCompactPeers, ipv6Bytes } from '../../src/codec/compact.js';
import {
  announceUrl,
  decodeAnnounceResponse,
  encodeAnnounceResponse,
  parseAnnounceQuery,
  scrapeUrl,
  TrackerFailure,
  TrackerProtocolError,
} from '../../src/tracker/http-messages.js';
import { HttpRequestError, HttpRequestReader } from '../../src/tracker/http-request.js';
import {
  decodeUdpRequest,
  decodeUdpResponse,
  encodeUdpRequest,
  encodeUdpResponse,
  TrackerPacketError,
} from '../../src/tracker/udp-messages.js';
import { assertDecoderSafe, expectOnly, FUZZ_RUNS, mutated } from '../support/fuzz.js';

const LIMITS = { maxNumWant: 200, defaultNumWant: 50 };
const hash = Buffer.from('0123456789abcdef0123456789abcdef01234567', 'hex');
const peerId = Buffer.from('-SH0010-abcdefghijkl');

test('compact peers: 6 bytes per IPv4 peer, 18 per IPv6 peer (BEP 23, BEP 7)', () => {
  const v4 = encodeCompactPeers(
    [
      { host: '10.0.0.1', port: 6881 },
      { host: '::1', port: 1 },
    ],
    4,
  );
  assert.equal(v4.toString('hex'), '0a0000011ae1');
  const v6 = encodeCompactPeers([{ host: '2001:db8::1', port: 51413 }], 6);
  assert.equal(v6.length, 18);
  assert.deepEqual(decodeCompactPeers(v6, 6), [{ host: '2001:db8::1', port: 51413 }]);
  assert.deepEqual(decodeCompactPeers(Buffer.concat([v4, Buffer.from('0102')]), 4), [
    { host: '10.0.0.1', port: 6881 },
  ]);
  assert.equal(ipv6Bytes('::ffff:1.2.3.4').toString('hex'), '00000000000000000000ffff01020304');
});

test('UDP packets have the BEP 15 layout and round-trip', () => {
  const connect = encodeUdpRequest({ action: 'connect', transactionId: 0xdeadbeef });
  assert.equal(connect.toString('hex'), '0000041727101980' + '00000000' + 'deadbeef');
  const announce = {
    action: 'announce' as const,
    connectionId: 0x1122334455667788n,
    transactionId: 7,
    infoHash: hash,
    peerId,
    downloaded: 1,
    left: 2 ** 40 + 5,
    uploaded: 3,
    event: 'started' as const,
    ip: 0,
    key: 9,
    numWant: -1,
    port: 6881,
  };
  const bytes = encodeUdpRequest(announce);
  assert.equal(bytes.length, 98);
  assert.equal(bytes.readUInt32BE(80), 2, 'started is event 2');
  assert.deepEqual(decodeUdpRequest(bytes), announce);
  const reply = {
    action: 'announce' as const,
    transactionId: 7,
    interval: 1800,
    leechers: 3,
    seeders: 4,
    peers: [{ host: '127.0.0.1', port: 6881 }],
  };
  const encoded = encodeUdpResponse(reply);
  assert.equal(encoded.length, 26);
  assert.deepEqual(decodeUdpResponse(encoded), reply);
  const scrape = {
    action: 'scrape' as const,
    transactionId: 1,
    files: [{ seeders: 1, completed: 2, leechers: 3 }],
  };
  assert.deepEqual(decodeUdpResponse(encodeUdpResponse(scrape)), scrape);
  assert.deepEqual(
    decodeUdpResponse(encodeUdpResponse({ action: 'error', transactionId: 5, message: 'nope' })),
    {
      action: 'error',
      transactionId: 5,
      message: 'nope',
    },
  );
  assert.throws(() => decodeUdpRequest(Buffer.alloc(10)), TrackerPacketError);
  assert.throws(
    () =>
      decodeUdpRequest(Buffer.concat([Buffer.alloc(8), Buffer.from('0000000100000001', 'hex')])),
    /shorter than 98/,
  );
});

test('HTTP announce URLs and queries round-trip binary info-hashes', () => {
  const url = announceUrl('http://127.0.0.1:1/announce?passkey=x', {
    infoHash: hash,
    peerId,
    port: 6881,
    uploaded: 1,
    downloaded: 2,
    left: 3,
    event: 'completed',
    numWant: 30,
    compact: true,
    noPeerId: true,
    key: 'abc',
    ip: '100.128.0.1',
  });
  assert.match(url, /^http:\/\/127\.0\.0\.1:1\/announce\?passkey=x&info_hash=%01%23Eg%89%AB%CD%EF/);
  const parsed = parseAnnounceQuery(url.slice(url.indexOf('?') + 1), LIMITS);
  assert.deepEqual(Buffer.from(parsed.infoHash), hash);
  assert.equal(parsed.event, 'completed');
  assert.equal(parsed.numWant, 30);
  assert.equal(parsed.key, 'abc');
  assert.equal(parsed.ip, '100.128.0.1', 'the external address a router told us');
  assert.equal(
    scrapeUrl('http://t/x/announce.php?k=1', [hash]),
    'http://t/x/scrape.php?k=1&info_hash=%01%23Eg%89%AB%CD%EF%01%23Eg%89%AB%CD%EF%01%23Eg',
  );
  assert.equal(scrapeUrl('http://t/announce/x', []), undefined);
});

test('bad announces are refused with a reason', () => {
  const base = `info_hash=${'%00'.repeat(20)}&peer_id=${'a'.repeat(20)}&port=1&left=0`;
  assert.equal(
    parseAnnounceQuery(`${base}&numwant=99999`, LIMITS).numWant,
    200,
    'numwant is capped',
  );
  const bad: [string, RegExp][] = [
    [
      `info_hash=${'%00'.repeat(19)}&peer_id=${'a'.repeat(20)}&port=1`,
      /info_hash must be 20 bytes/,
    ],
    [`peer_id=${'a'.repeat(20)}&port=1`, /missing info_hash/],
    [base.replace('port=1', 'port=0'), /port must not be 0/],
    [base.replace('port=1', 'port=70000'), /port out of range/],
    [`${base}&event=explode`, /unknown event/],
    [`${base}&numwant=lots`, /numwant must be a number/],
    [`${base}&x=%zz`, /percent-encoding/],
    [Array.from({ length: 100 }, (_, i) => `k${i}=1`).join('&'), /too many/],
  ];
  for (const [q, why] of bad)
    assert.throws(
      () => parseAnnounceQuery(q, LIMITS),
      (e: unknown) => e instanceof TrackerProtocolError && why.test(e.message),
      q,
    );
});

test('announce replies: compact and dictionary forms, failures and warnings', () => {
  const r = {
    interval: 900,
    minInterval: 60,
    complete: 2,
    incomplete: 1,
    peers: [
      { host: '127.0.0.2', port: 7 },
      { host: '::1', port: 8 },
    ],
  };
  assert.deepEqual(decodeAnnounceResponse(encodeAnnounceResponse(r, true)), r);
  assert.deepEqual(decodeAnnounceResponse(encodeAnnounceResponse(r, false)).peers, r.peers);
  assert.throws(
    () => decodeAnnounceResponse(Buffer.from('d14:failure reason6:no waye')),
    TrackerFailure,
  );
  assert.equal(
    decodeAnnounceResponse(Buffer.from('d8:intervali5e15:warning message3:hmm5:peers0:e')).warning,
    'hmm',
  );
  // Keys out of order, as some trackers write them, are accepted in replies.
  assert.equal(
    decodeAnnounceResponse(Buffer.from('d8:intervali60e5:peers0:8:completei1ee')).complete,
    1,
  );
  assert.throws(() => decodeAnnounceResponse(Buffer.from('<html>')), TrackerProtocolError);
});

test('the HTTP request reader handles pipelining and refuses abuse', () => {
  const r = new HttpRequestReader();
  const got = r.push(
    Buffer.from('GET /announce?a=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /stats HTTP/1.0\r\n\r\nGET /x'),
  );
  assert.deepEqual(got.requests, [
    { method: 'GET', path: '/announce', query: 'a=1', keepAlive: true },
    { method: 'GET', path: '/stats', query: '', keepAlive: false },
  ]);
  assert.equal(got.error, undefined);
  assert.equal(r.pending, true, 'the start of a third request is held');
  const first = (bytes: string | Buffer) => new HttpRequestReader().push(Buffer.from(bytes)).error;
  const e = first('POST / HTTP/1.1\r\n\r\n');
  assert.ok(e instanceof HttpRequestError && e.status === 405);
  assert.match(String(first(Buffer.alloc(9000, 0x41))?.message), /too large/);
  assert.match(String(first('hello\r\n\r\n')?.message), /malformed/);
  // Requests completed before an error are still returned; nothing is read after it.
  const broken = new HttpRequestReader();
  const mixed = broken.push(
    Buffer.from('GET /a HTTP/1.1\r\n\r\nBAD\r\n\r\nGET /b HTTP/1.1\r\n\r\n'),
  );
  assert.deepEqual(
    mixed.requests.map((q) => q.path),
    ['/a'],
  );
  assert.equal(mixed.error?.status, 400);
  assert.deepEqual(broken.push(Buffer.from('GET /c HTTP/1.1\r\n\r\n')).requests, []);
});

test('fuzz: the UDP tracker decoders and the HTTP announce parser never throw anything unexpected', () => {
  const sample = encodeUdpRequest({
    action: 'announce',
    connectionId: 1n,
    transactionId: 2,
    infoHash: hash,
    peerId,
    downloaded: 0,
    left: 0,
    uploaded: 0,
    event: 'none',
    ip: 0,
    key: 0,
    numWant: 5,
    port: 1,
  });
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 120 }), mutated(sample)), (bytes) => {
      const b = Buffer.from(bytes);
      for (const decodeIt of [
        () => decodeUdpRequest(b),
        () => decodeUdpResponse(b),
        () => decodeUdpResponse(b, 6),
      ]) {
        try {
          decodeIt();
        } catch (error) {
          expectOnly(error, TrackerPacketError);
        }
      }
    }),
    { numRuns: FUZZ_RUNS },
  );
  const query = `info_hash=${'%41'.repeat(20)}&peer_id=${'b'.repeat(20)}&port=6881&uploaded=0&downloaded=0&left=5&event=started&numwant=10&compact=1`;
  assertDecoderSafe(
    fc.oneof(
      fc.string({ maxLength: 200 }),
      mutated(Buffer.from(query)).map((b) => Buffer.from(b).toString('latin1')),
    ),
    (q) => parseAnnounceQuery(q, LIMITS),
    TrackerProtocolError,
  );
});
