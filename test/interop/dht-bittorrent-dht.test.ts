/**
 * Acceptance: nodes of the npm `bittorrent-dht` package (v11) and shoal's DHT nodes work
 * together both ways, for get_peers / announce_peer (BEP 5) and for BEP 44 put / get of
 * immutable and mutable items.
 *
 * Each test builds a mixed private DHT on loopback: 16 shoal nodes in this process on
 * 127.0.N.1…16 and 6 `bittorrent-dht` nodes on 127.0.N.101…106 bootstrapped from two shoal
 * nodes only (never its default public routers). What one implementation announces or stores
 * must be found by a node of the other one that joins afterwards — a shoal node bootstrapped
 * from a `bittorrent-dht` node only, or a `bittorrent-dht` node bootstrapped from a shoal node
 * only — and the announces and puts must have been taken by nodes of the other implementation
 * (which checks its replies, tokens and signatures), not just by nodes of the same kind.
 * `bittorrent-dht` leaves ed25519 to its user; node:crypto signs and verifies here.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { type TestContext, test } from 'node:test';
import type DHT from 'bittorrent-dht';
import { decode, encode } from '../../src/codec/bencode.js';
import {
  immutableTarget,
  keysFromSeed,
  mutableTarget,
  verifyMutable,
} from '../../src/dht/bep44.js';
import { Dht } from '../../src/dht/dht.js';
import { distance } from '../../src/dht/node-id.js';
import { EgressPolicy } from '../../src/runtime/egress.js';
import { createRealRuntime } from '../../src/runtime/real.js';
import {
  addressOf,
  btAnnounce,
  btGet,
  btLookup,
  btPut,
  ed25519Signer,
  startBittorrentDht,
  startShoalDht,
  whenAnnounced,
} from './dht-helpers.js';

const runtime = createRealRuntime(new EgressPolicy('loopback'));
const SHOAL_NODES = 16;
const BT_NODES = 6;

interface Mixed {
  subnet: number;
  shoal: Dht[];
  bt: DHT[];
  /** A shoal node that joins now, bootstrapped from a `bittorrent-dht` node only. */
  freshShoal(index: number): Promise<Dht>;
  /** A `bittorrent-dht` node that joins now, bootstrapped from a shoal node only. */
  freshBt(index: number): Promise<DHT>;
}

/**
 * Builds the mixed network on 127.0.`subnet`.x; `beforeBt` runs once the shoal nodes are up
 * and before any `bittorrent-dht` node exists (what it stores is held by shoal nodes only).
 */
async function mixedNetwork(
  t: TestContext,
  subnet: number,
  beforeBt?: (shoal: Dht[]) => Promise<void>,
): Promise<Mixed> {
  const started = performance.now();
  const shoal = await startShoalDht(t, subnet, SHOAL_NODES);
  await beforeBt?.(shoal);
  const bootstrap = [addressOf(shoal[0]!), addressOf(shoal[7]!)];
  const bt: DHT[] = [];
  for (let i = 0; i < BT_NODES; i++) {
    bt.push(await startBittorrentDht(t, `127.0.${subnet}.${101 + i}`, bootstrap));
  }
  // Let every shoal node look itself up again, now that the bittorrent-dht nodes are there.
  await Promise.all(shoal.map((d) => d.bootstrap()));
  const btKnown = shoal.reduce(
    (n, d) => n + d.table.all().filter((c) => /\.1\d\d$/.test(c.host)).length,
    0,
  );
  assert.ok(btKnown > 0, 'shoal nodes have bittorrent-dht nodes in their tables');
  assert.ok(
    bt.every((d) => d.nodes.count() >= 4),
    `bittorrent-dht tables: ${bt.map((d) => d.nodes.count())}`,
  );
  t.diagnostic(
    `mixed DHT up in ${Math.round(performance.now() - started)} ms: shoal tables hold ` +
      `${btKnown} bittorrent-dht contacts in all; bittorrent-dht tables ${bt.map((d) => d.nodes.count())}`,
  );
  return {
    subnet,
    shoal,
    bt,
    freshShoal: async (index) => {
      const d = await Dht.start(runtime, {
        host: `127.0.${subnet}.${200 + index}`,
        port: 0,
        bootstrap: [bittorrentDhtAddressAsContact(bt[index % bt.length]!)],
        queryTimeoutMs: 1000,
      });
      t.after(() => d.stop());
      assert.ok((await d.bootstrap()) >= 4, 'a shoal node joins through a bittorrent-dht node');
      return d;
    },
    freshBt: (index) =>
      startBittorrentDht(t, `127.0.${subnet}.${150 + index}`, [
        addressOf(shoal[(index * 5 + 3) % shoal.length]!),
      ]),
  };
}

function bittorrentDhtAddressAsContact(d: DHT): { host: string; port: number } {
  const a = d.address();
  return { host: a.address, port: a.port };
}

/** How many of `bt` hold an item with this target. */
const btHolders = (bt: readonly DHT[], target: Buffer) =>
  bt.filter((d) => Object.hasOwn(d.toJSON().values, target.toString('hex'))).length;

const hash = (label: string) => createHash('sha1').update(label).digest();

/**
 * The first `make(n)` (n = 0, 1, …) whose target has both a shoal node and a `bittorrent-dht`
 * node among the three nodes of the network closest to it, so that an announce or put there
 * surely reaches nodes of both kinds (shoal stores at its 8 closest, `bittorrent-dht` at 20).
 */
function nearBoth<T extends { target: Buffer }>(net: Mixed, make: (n: number) => T): T {
  const ids = [
    ...net.shoal.map((d) => ({ id: d.id, kind: 'shoal' })),
    ...net.bt.map((d) => ({ id: d.nodeId, kind: 'bt' })),
  ];
  for (let n = 0; n < 1000; n++) {
    const made = make(n);
    const top3 = ids
      .map((x) => ({ ...x, d: distance(x.id, made.target) }))
      .sort((p, q) => Buffer.compare(p.d, q.d))
      .slice(0, 3);
    if (top3.some((x) => x.kind === 'shoal') && top3.some((x) => x.kind === 'bt')) return made;
  }
  throw new Error('no target near both kinds of node');
}

test('bittorrent-dht announces; shoal finds it with get_peers', { timeout: 60_000 }, async (t) => {
  const net = await mixedNetwork(t, 80);
  const infoHash = hash('bt-announces');
  const explicitHost = bittorrentDhtAddressAsContact(net.bt[2]!).host;
  const impliedHost = bittorrentDhtAddressAsContact(net.bt[3]!).host;
  const taken = whenAnnounced(net.shoal, infoHash, explicitHost, 10_000);
  await btAnnounce(net.bt[2]!, infoHash, 6001);
  // Port 0: bittorrent-dht sends implied_port=1, so the peer is its UDP address.
  await btAnnounce(net.bt[3]!, infoHash, 0);
  const seen = await taken;
  assert.equal(seen.port, 6001, 'a shoal node stored the announce');

  const asker = await net.freshShoal(0);
  const found = await asker.getPeers(infoHash);
  const peers = found.peers.map((p) => `${p.host}:${p.port}`);
  assert.ok(peers.includes(`${explicitHost}:6001`), `found ${peers}`);
  assert.ok(
    peers.includes(`${impliedHost}:${net.bt[3]!.address().port}`),
    `implied port: found ${peers}`,
  );
  t.diagnostic(`shoal lookup: ${found.hops} hops, ${found.queried} queries, ${found.ms} ms`);
});

test('shoal announces; bittorrent-dht finds it with lookup', { timeout: 60_000 }, async (t) => {
  const net = await mixedNetwork(t, 81);
  const { target: infoHash } = nearBoth(net, (n) => ({ target: hash(`shoal-announces ${n}`) }));
  const stored: string[] = [];
  for (const d of net.bt) {
    d.on('announce', (peer, h) => {
      if (h.equals(infoHash)) stored.push(`${peer.host}:${peer.port}`);
    });
  }
  const explicit = net.shoal[4]!;
  const implied = net.shoal[9]!;
  await explicit.announce(infoHash, 7001);
  await implied.announce(infoHash, 7002, { impliedPort: true });
  assert.ok(
    stored.includes(`${explicit.options.host}:7001`),
    `bittorrent-dht nodes stored the announce: ${stored}`,
  );

  const asker = await net.freshBt(0);
  const found = await btLookup(asker, infoHash);
  const peers = found.peers.map((p) => `${p.host}:${p.port}`);
  assert.ok(peers.includes(`${explicit.options.host}:7001`), `found ${peers}`);
  assert.ok(peers.includes(`${implied.options.host}:${implied.port}`), `implied: found ${peers}`);
  t.diagnostic(`bittorrent-dht lookup visited ${found.visited} nodes`);
});

test('BEP 44 immutable items: put by either, got by the other', { timeout: 60_000 }, async (t) => {
  const net = await mixedNetwork(t, 82);

  // shoal puts, bittorrent-dht gets.
  const { text } = nearBoth(net, (n) => {
    const text = `immutable, put by shoal #${n}`;
    return { text, target: immutableTarget(encode(text)) };
  });
  const fromShoal = await net.shoal[2]!.putImmutable(text);
  assert.ok(fromShoal.stored >= 4, `shoal stored at ${fromShoal.stored} nodes`);
  const btStored = btHolders(net.bt, fromShoal.target);
  const btGetter = await net.freshBt(0);
  const got = await btGet(btGetter, fromShoal.target);
  assert.ok(got, 'bittorrent-dht found the item shoal put');
  assert.equal(Buffer.from(got.v as Buffer).toString(), text);

  // A dictionary value too: the target is the hash of its bencoding on both sides.
  const dict = await net.shoal[3]!.putImmutable({ n: 42, s: 'dict put by shoal' });
  const gotDict = await btGet(btGetter, dict.target);
  assert.ok(gotDict, 'bittorrent-dht found the dictionary item');
  const dv = gotDict.v as Record<string, unknown>;
  assert.equal(dv.n, 42);
  assert.equal(Buffer.from(dv.s as Buffer).toString(), 'dict put by shoal');

  // bittorrent-dht puts, shoal gets.
  const value = Buffer.from('immutable, put by bittorrent-dht');
  const shoalHoldersBefore = net.shoal.reduce((n, d) => n + d.stats().storedItems, 0);
  const fromBt = await btPut(net.bt[1]!, { v: value });
  const shoalStored = net.shoal.reduce((n, d) => n + d.stats().storedItems, 0) - shoalHoldersBefore;
  assert.ok(shoalStored >= 1, 'shoal nodes took the put from bittorrent-dht');
  const shoalGetter = await net.freshShoal(0);
  const item = await shoalGetter.getItem(fromBt.target);
  assert.ok(item, 'shoal found the item bittorrent-dht put');
  assert.equal(Buffer.from(decode(item.v) as Uint8Array).toString(), value.toString());
  t.diagnostic(
    `shoal's item taken by ${btStored} bittorrent-dht nodes; bittorrent-dht's by ` +
      `${shoalStored} shoal nodes (${fromBt.stored} nodes in all)`,
  );
  assert.ok(btStored >= 1, 'bittorrent-dht nodes took the put from shoal');
});

test('BEP 44 mutable items: signed, put and updated by either, got by the other', {
  timeout: 60_000,
}, async (t) => {
  const net = await mixedNetwork(t, 83);

  // shoal puts (seq 0, salted); bittorrent-dht gets and checks the signature.
  const a = keysFromSeed(Buffer.alloc(32, 0xa1));
  const { salt: saltA } = nearBoth(net, (n) => {
    const salt = Buffer.from(`shoal-salt-${n}`);
    return { salt, target: mutableTarget(a.publicKey, salt) };
  });
  const putA = await net.shoal[6]!.putMutable(a, 'mutable, put by shoal', { salt: saltA });
  assert.equal(putA.seq, 0);
  const targetA = mutableTarget(a.publicKey, saltA);
  assert.ok(btHolders(net.bt, targetA) >= 1, 'bittorrent-dht nodes took the put from shoal');
  const btGetter = await net.freshBt(0);
  const gotA = await btGet(btGetter, targetA, saltA);
  assert.ok(gotA, 'bittorrent-dht found (and verified) the item shoal signed');
  assert.equal(Buffer.from(gotA.v as Buffer).toString(), 'mutable, put by shoal');
  assert.equal(gotA.seq, 0);
  assert.ok(gotA.k?.equals(a.publicKey));

  // bittorrent-dht puts (seq 5, salted, signed with node:crypto); shoal gets and verifies.
  const bSeed = Buffer.alloc(32, 0xb2);
  const b = keysFromSeed(bSeed);
  const saltB = Buffer.from('bt-salt');
  const before = net.shoal.reduce((n, d) => n + d.stats().storedItems, 0);
  const putB = await btPut(net.bt[4]!, {
    k: b.publicKey,
    salt: saltB,
    seq: 5,
    v: Buffer.from('mutable, put by bittorrent-dht'),
    sign: ed25519Signer(bSeed),
  });
  const targetB = mutableTarget(b.publicKey, saltB);
  assert.ok(putB.target.equals(targetB), 'both sides compute the same target');
  assert.ok(
    net.shoal.reduce((n, d) => n + d.stats().storedItems, 0) > before,
    'shoal nodes took (and verified) the put from bittorrent-dht',
  );
  const shoalGetter = await net.freshShoal(0);
  const gotB = await shoalGetter.getItem(targetB, saltB);
  assert.ok(gotB, 'shoal found the item bittorrent-dht signed');
  assert.equal(gotB.seq, 5);
  assert.ok(verifyMutable(gotB));
  assert.equal(
    Buffer.from(decode(gotB.v) as Uint8Array).toString(),
    'mutable, put by bittorrent-dht',
  );

  // Updates cross over: shoal bumps bittorrent-dht's item (it reads seq 5, writes 6) …
  const upB = await net.shoal[11]!.putMutable(b, 'updated by shoal', { salt: saltB });
  assert.equal(upB.seq, 6);
  const btGetter2 = await net.freshBt(1);
  const gotB2 = await btGet(btGetter2, targetB, saltB);
  assert.equal(gotB2?.seq, 6);
  assert.equal(Buffer.from(gotB2!.v as Buffer).toString(), 'updated by shoal');

  // … and bittorrent-dht bumps shoal's item to seq 7.
  await btPut(net.bt[5]!, {
    k: a.publicKey,
    salt: saltA,
    seq: 7,
    v: Buffer.from('updated by bittorrent-dht'),
    sign: ed25519Signer(Buffer.alloc(32, 0xa1)),
  });
  const shoalGetter2 = await net.freshShoal(1);
  const gotA2 = await shoalGetter2.getItem(targetA, saltA);
  assert.equal(gotA2?.seq, 7);
  assert.equal(Buffer.from(decode(gotA2!.v) as Uint8Array).toString(), 'updated by bittorrent-dht');

  // A put with an older sequence number does not win: nodes that hold seq 7 refuse it (302),
  // and readers on both sides keep taking the highest sequence number they are given.
  await btPut(net.bt[0]!, {
    k: a.publicKey,
    salt: saltA,
    seq: 3,
    v: Buffer.from('stale'),
    sign: ed25519Signer(Buffer.alloc(32, 0xa1)),
  }).catch(() => undefined);
  assert.equal((await (await net.freshShoal(2)).getItem(targetA, saltA))?.seq, 7);
  assert.equal((await btGet(await net.freshBt(2), targetA, saltA))?.seq, 7);
});

test('BEP 44 items near the 1000-byte limit held only by shoal nodes reach bittorrent-dht', {
  timeout: 60_000,
}, async (t) => {
  // Stored before any bittorrent-dht node joins, so only shoal nodes hold them.
  const text = 'immutable '.padEnd(990, '~');
  const value = 'mutable '.padEnd(990, '~');
  const seed = Buffer.alloc(32, 0xc3);
  const keys = keysFromSeed(seed);
  const salt = Buffer.from('big');
  const put: { immutable?: Buffer; mutable?: Buffer } = {};
  const net = await mixedNetwork(t, 84, async (shoal) => {
    put.immutable = (await shoal[1]!.putImmutable(text)).target;
    put.mutable = (await shoal[2]!.putMutable(keys, value, { salt, seq: 9 })).target;
  });
  const immutable = put.immutable!;
  const mutable = put.mutable!;
  assert.equal(btHolders(net.bt, immutable) + btHolders(net.bt, mutable), 0);

  const got = await btGet(await net.freshBt(0), immutable);
  assert.equal(got && Buffer.from(got.v as Buffer).toString(), text);
  const mgot = await btGet(await net.freshBt(1), mutable, salt);
  assert.equal(mgot?.seq, 9);
  assert.equal(Buffer.from(mgot!.v as Buffer).toString(), value);
  // A fresh shoal node (which the holders have not verified either) gets both too.
  const fresh = await net.freshShoal(0);
  assert.equal((await fresh.getItem(immutable))?.v.length, encode(text).length);
  assert.equal((await fresh.getItem(mutable, salt))?.seq, 9);
});
