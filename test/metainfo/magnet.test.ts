import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MagnetError } from '../../src/metainfo/errors.js';
import { formatMagnet, parseMagnet } from '../../src/metainfo/magnet.js';

const HEX = 'c12fe1c06bba254a9dc9f519b335aa7c1367a88a';

test('parses hex and base32 btih to the same hash', () => {
  const hex = parseMagnet(`magnet:?xt=urn:btih:${HEX}`);
  const b32 = parseMagnet('magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK');
  assert.equal(hex.infoHashV1?.toString('hex'), HEX);
  assert.deepEqual(b32.infoHashV1, hex.infoHashV1);
  assert.equal(
    formatMagnet(hex, { base32: true }),
    'magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK',
  );
});

test('parses v2 btmh, names, trackers, web seeds, peers and select-only', () => {
  const v2 = 'a'.repeat(64);
  const m = parseMagnet(
    `magnet:?xt=urn:btih:${HEX}&xt=urn:btmh:1220${v2}&dn=My+File%20%C3%A9&tr=udp%3A%2F%2F127.0.0.1%3A6969&tr.1=http://127.0.0.1/a?x=1` +
      '&ws=http%3A%2F%2F127.0.0.1%2Ff&x.pe=127.0.0.1:6881&x.pe=[::1]:51413&so=0,2,4-6&foo=bar',
  );
  assert.equal(m.infoHashV2?.toString('hex'), v2);
  assert.equal(m.name, 'My File é');
  assert.deepEqual(m.trackers, ['udp://127.0.0.1:6969', 'http://127.0.0.1/a?x=1']);
  assert.deepEqual(m.webSeeds, ['http://127.0.0.1/f']);
  assert.deepEqual(m.peers, [
    { host: '127.0.0.1', port: 6881 },
    { host: '::1', port: 51413 },
  ]);
  assert.deepEqual(m.selectOnly, [
    { first: 0, last: 0 },
    { first: 2, last: 2 },
    { first: 4, last: 6 },
  ]);
  assert.deepEqual(parseMagnet(formatMagnet(m)), m);
});

test('rejects broken magnets with MagnetError', () => {
  for (const bad of [
    'http://x',
    'magnet:?dn=x',
    'magnet:?xt=urn:btih:1234',
    `magnet:?xt=urn:btmh:1120${'a'.repeat(64)}`,
    `magnet:?xt=urn:btih:${HEX}&x.pe=nope`,
    `magnet:?xt=urn:btih:${HEX}&x.pe=1.2.3.4:0`,
    `magnet:?xt=urn:btih:${HEX}&so=5-1`,
    `magnet:?xt=urn:btih:${HEX}&dn=%E0%A4%A`,
  ]) {
    assert.throws(() => parseMagnet(bad), MagnetError, bad);
  }
});
