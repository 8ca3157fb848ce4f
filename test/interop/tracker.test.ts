/**
 * Acceptance: trackers, shoal's and a real one, with real clients.
 *
 * (a) aria2, Transmission and libtorrent announce to `shoal tracker` over HTTP and over UDP, and
 * a download between two of those real clients completes with the shoal tracker as their only
 * way to find each other; a shoal seeder is found by them through it too. (b) shoal announces
 * to opentracker (the Debian package) over HTTP and over UDP and finds a real client through it.
 *
 * Every torrent here is the v1 torrent of the shared transfer fixture (same info dictionary, so
 * the same info-hash) with the tracker under test as its only announce URL. Nobody is given a
 * peer address: no `--peer`, no connect_peer, DHT, LSD and PEX off everywhere, so the tracker
 * is the only way the peers can learn of each other. The leecher starts only once the tracker
 * knows the seed (its scrape counts one seeder), so the leecher's first announce finds it.
 * Each test checks that every client announced: the tracker's counters and scrape, and the
 * clients' own reports (libtorrent's tracker alerts, Transmission's trackerStats, shoal's
 * `trackers` progress field).
 *
 * Transmission refuses peers on 127.0.0.0/8, so its tests run in a network namespace of their
 * own: the tracker on 10.201.0.1, libtorrent on 10.201.0.2 and Transmission on 10.201.0.3.
 * The other tests run on 127.0.0.1, the shoal seeder's among them: shoal sends its announces
 * from sockets not bound to its `--host`, so in a namespace a tracker on another of its
 * addresses would see them come from its own address and hand that out for shoal.
 *
 * aria2 sends UDP tracker requests from its DHT socket and so only with DHT on (aria2 #1491:
 * "UDP tracker support … is only enabled when DHT is enabled"). Its UDP test turns the DHT on
 * with a fresh state file and no entry point: the DHT knows nobody, so the tracker is still
 * the only way to find the seed, and nothing is sent beyond loopback.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { type BDict, decode } from '../../src/codec/bencode.js';
import {
  assertSameContent,
  copyContent,
  createNetns,
  fileScope,
  type LibtorrentPeer,
  makeTransferFixture,
  type Netns,
  netnsProbe,
  type Proc,
  percentEncode,
  requireTool,
  run,
  runShoal,
  SYSTEM_PYTHON,
  shoalInfo,
  shoalSeed,
  startAria2,
  startLibtorrent,
  startOpentracker,
  startShoal,
  startTransmission,
  type TransferFixture,
  tempDir,
  torrentOf,
  waitUntil,
} from './helpers.js';

const HOST = '127.0.0.1';
const ARIA2 = ['aria2c', '--version'];
const SEEDING = 6;
const STOPPED = 0;

const scope = fileScope();
let fixture: Promise<TransferFixture> | undefined;
const getFixture = () => {
  fixture ??= makeTransferFixture(scope, ['v1']);
  return fixture;
};

/** The fixture's v1 info-hash (hex). */
function infoHashOf(fx: TransferFixture): string {
  const v1 = fx.infoHashes.v1?.v1;
  assert.ok(v1, 'the fixture has a v1 torrent');
  return v1;
}

/**
 * A v1 torrent of the fixture's content whose only tracker is `url`: the same info dictionary
 * as the fixture's v1 torrent, so the same info-hash.
 */
async function torrentFor(t: TestContext, fx: TransferFixture, url: string): Promise<string> {
  const dir = await tempDir(t, 'shoal-tracker-torrent-');
  const out = join(dir, `${fx.name}.torrent`);
  const r = await runShoal([
    'create',
    fx.content,
    '-o',
    out,
    '--v1',
    '--piece-length',
    String(fx.pieceLength),
    '--tracker',
    url,
  ]);
  if (r.code !== 0) throw new Error(`shoal create --tracker failed (${r.code}): ${r.stderr}`);
  const info = await shoalInfo(out);
  assert.equal(info.infoHashV1, infoHashOf(fx), 'same info-hash as the fixture torrent');
  return out;
}

// ---------------------------------------------------------------- talking to trackers

/** Reads an HTTP URL, from inside `netns` when given (through Python there). */
async function httpGet(url: string, netns?: Netns): Promise<Buffer> {
  if (netns === undefined) {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status}`);
    return Buffer.from(await res.arrayBuffer());
  }
  const script =
    'import sys, urllib.request\n' +
    'opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))\n' +
    'sys.stdout.write(opener.open(sys.argv[1], timeout=5).read().hex())\n';
  const r = await run('ip', ['netns', 'exec', netns.name, SYSTEM_PYTHON, '-c', script, url]);
  if (r.code !== 0) throw new Error(`GET ${url} in ${netns.name} failed (${r.code}): ${r.stderr}`);
  return Buffer.from(r.stdout.trim(), 'hex');
}

interface ScrapeCounts {
  complete: number;
  downloaded: number;
  incomplete: number;
}

/** BEP 48 scrape of one info-hash over HTTP. */
async function scrape(base: string, infoHash: string, netns?: Netns): Promise<ScrapeCounts> {
  const body = await httpGet(
    `${base}/scrape?info_hash=${percentEncode(Buffer.from(infoHash, 'hex'))}`,
    netns,
  );
  const files = (decode(body) as BDict).get('files');
  assert.ok(files instanceof Map && files.size === 1, `scrape reply: ${body.toString('latin1')}`);
  const counts = [...files.values()][0] as BDict;
  return {
    complete: Number(counts.get('complete')),
    downloaded: Number(counts.get('downloaded')),
    incomplete: Number(counts.get('incomplete')),
  };
}

/** A `shoal tracker` process with HTTP and UDP on ports of its own. */
interface ShoalTracker {
  readonly proc: Proc;
  readonly httpUrl: string;
  readonly udpUrl: string;
  stats(): Promise<Record<string, number>>;
  scrape(infoHash: string): Promise<ScrapeCounts>;
  /** Waits until the tracker counts `seeders` seeders of `infoHash`. */
  waitForSeeders(infoHash: string, seeders: number, timeoutMs: number): Promise<void>;
}

async function startShoalTracker(
  t: TestContext,
  options: { host?: string; netns?: Netns } = {},
): Promise<ShoalTracker> {
  const host = options.host ?? HOST;
  const args = ['tracker', '--http-port', '0', '--udp-port', '0', '--host', host, '--json'];
  // --interval 10: should a first announce come back empty, the next is not 30 minutes away.
  const proc = startShoal(t, [...args, '--interval', '10'], {
    ...(options.netns && { netns: options.netns }),
    name: 'shoal tracker',
  });
  const listening = await proc.waitForEvent('listening', 15_000);
  const base = `http://${host}:${listening.http as number}`;
  const self: ShoalTracker = {
    proc,
    httpUrl: `${base}/announce`,
    udpUrl: `udp://${host}:${listening.udp as number}/announce`,
    stats: async () => JSON.parse((await httpGet(`${base}/stats`, options.netns)).toString()),
    scrape: (infoHash) => scrape(base, infoHash, options.netns),
    waitForSeeders: async (infoHash, seeders, timeoutMs) => {
      let last: ScrapeCounts | undefined;
      await waitUntil(
        `the shoal tracker to count ${seeders} seeder(s)`,
        async () => {
          last = await self.scrape(infoHash);
          return last.complete >= seeders ? true : undefined;
        },
        timeoutMs,
        {
          intervalMs: 200,
          abort: () =>
            proc.exitCode !== undefined ? `shoal tracker exited with ${proc.exitCode}` : undefined,
          detail: () => `last scrape: ${JSON.stringify(last)}\n${proc.tail()}`,
        },
      );
    },
  };
  return self;
}

/** libtorrent's tracker replies so far (`tracker_reply_alert`s, with the peers each gave). */
function libtorrentReplies(lt: LibtorrentPeer): Record<string, unknown>[] {
  return lt.proc.events().filter((e) => e.event === 'tracker' && e.type === 'tracker_reply_alert');
}

/** Waits for libtorrent's first successful announce. */
async function waitLibtorrentAnnounced(lt: LibtorrentPeer, timeoutMs: number): Promise<void> {
  await waitUntil(
    `${lt.proc.name} to get a tracker reply`,
    () => (libtorrentReplies(lt).length > 0 ? true : undefined),
    timeoutMs,
    {
      abort: () =>
        lt.proc.exitCode !== undefined
          ? `${lt.proc.name} exited with ${lt.proc.exitCode}`
          : undefined,
      detail: () => lt.proc.tail(),
    },
  );
}

/**
 * A libtorrent seed of the fixture whose only way to be found is the tracker in `torrent`:
 * resolves once that tracker has answered its first announce.
 */
async function libtorrentSeedViaTracker(
  t: TestContext,
  fx: TransferFixture,
  torrent: string,
  where: { host: string; netns?: Netns },
): Promise<LibtorrentPeer> {
  const seedDir = await tempDir(t, 'shoal-trk-lt-seed-');
  await copyContent(fx, seedDir);
  const lt = await startLibtorrent(t, { mode: 'seed', torrent, savePath: seedDir, ...where });
  await waitLibtorrentAnnounced(lt, 20_000);
  return lt;
}

/** Fails unless libtorrent's tracker alerts name `url` and it got `minPeers`+ peers from it. */
function assertLibtorrentAnnounced(lt: LibtorrentPeer, url: string, minPeers: number): void {
  const replies = libtorrentReplies(lt);
  assert.ok(replies.length > 0, `libtorrent got no tracker reply\n${lt.proc.tail()}`);
  assert.ok(
    replies.every((r) => r.url === url),
    `libtorrent announced to ${replies.map((r) => r.url).join(', ')}, not only ${url}`,
  );
  const peers = Math.max(...replies.map((r) => Number(r.peers)));
  assert.ok(peers >= minPeers, `libtorrent got ${peers} peers from ${url}, wanted ${minPeers}`);
}

/** The latest `trackers` field of a shoal process's progress lines. */
function shoalTrackers(proc: Proc): Record<string, unknown>[] {
  const progress = proc.events().filter((e) => e.event === 'progress' && Array.isArray(e.trackers));
  return (progress.at(-1)?.trackers as Record<string, unknown>[] | undefined) ?? [];
}

/** Transmission's view of its one tracker for torrent `id`. */
async function transmissionTracker(
  tr: Awaited<ReturnType<typeof startTransmission>>,
  id: number,
): Promise<Record<string, unknown>> {
  const args = await tr.rpc('torrent-get', { ids: [id], fields: ['trackerStats'] });
  const list = (args.torrents as { trackerStats: Record<string, unknown>[] }[])[0]?.trackerStats;
  assert.ok(list && list.length === 1, `transmission trackerStats: ${JSON.stringify(list)}`);
  return list[0]!;
}

const tool = {
  libtorrent: (t: TestContext) => requireTool(t, 'libtorrent'),
  aria2: (t: TestContext) => requireTool(t, 'aria2c', ARIA2),
  transmission: (t: TestContext) =>
    requireTool(t, 'transmission-daemon', ['transmission-daemon', '--version']) &&
    requireTool(t, 'netns', netnsProbe),
  opentracker: (t: TestContext) => requireTool(t, 'opentracker'),
};

// ---------------------------------------------------------------- (a) real clients, shoal tracker

for (const protocol of ['HTTP', 'UDP'] as const) {
  test(`aria2 downloads from libtorrent, found only through shoal tracker over ${protocol}`, {
    timeout: 90_000,
  }, async (t) => {
    if (!tool.libtorrent(t) || !tool.aria2(t)) return;
    const fx = await getFixture();
    const hash = infoHashOf(fx);
    const tracker = await startShoalTracker(t);
    const url = protocol === 'HTTP' ? tracker.httpUrl : tracker.udpUrl;
    const torrent = await torrentFor(t, fx, url);

    const lt = await libtorrentSeedViaTracker(t, fx, torrent, { host: HOST });
    await tracker.waitForSeeders(hash, 1, 10_000);
    const before = await tracker.stats();

    const saveDir = await tempDir(t, 'shoal-trk-aria2-get-');
    const started = performance.now();
    const aria2 = await startAria2(t, {
      mode: 'leech',
      torrent,
      dir: saveDir,
      timeoutSeconds: 60,
      ...(protocol === 'UDP' && {
        udpTrackers: { stateDir: await tempDir(t, 'shoal-trk-aria2-dht-') },
      }),
    });
    const code = await aria2.proc.waitExit(70_000);
    const seconds = (performance.now() - started) / 1000;
    assert.equal(code, 0, `aria2 did not finish\n${aria2.proc.tail()}\n${lt.proc.tail()}`);
    await assertSameContent(fx, saveDir);

    const after = await tracker.stats();
    const counts = await tracker.scrape(hash);
    assertLibtorrentAnnounced(lt, url, 0);
    assert.ok(
      after.announces! > before.announces!,
      `aria2 never announced: ${JSON.stringify(after)}`,
    );
    if (protocol === 'HTTP') assert.equal(after.udpPackets, 0, 'nobody used UDP');
    else assert.ok(after.udpPackets! > before.udpPackets!, 'aria2 announced over UDP');
    t.diagnostic(`aria2 fetched from libtorrent in ${seconds.toFixed(1)} s`);
    t.diagnostic(`tracker stats ${JSON.stringify(after)}; scrape ${JSON.stringify(counts)}`);
  });
}

test('Transmission downloads from libtorrent, found only through shoal tracker over UDP', {
  timeout: 90_000,
}, async (t) => {
  if (!tool.libtorrent(t) || !tool.transmission(t)) return;
  const fx = await getFixture();
  const hash = infoHashOf(fx);
  const netns = await createNetns(t, 'shoal-trk', 3);
  const [trackerHost, ltHost, trHost] = netns.addresses as [string, string, string];
  const tracker = await startShoalTracker(t, { host: trackerHost, netns });
  const torrent = await torrentFor(t, fx, tracker.udpUrl);

  const lt = await libtorrentSeedViaTracker(t, fx, torrent, { host: ltHost, netns });
  await tracker.waitForSeeders(hash, 1, 10_000);
  const before = await tracker.stats();

  const tr = await startTransmission(t, netns, trHost);
  const saveDir = await tempDir(t, 'shoal-trk-tr-get-');
  const started = performance.now();
  const id = await tr.add(torrent, saveDir);
  // Who Transmission is connected to, as seen while it downloads: once done, the two seeds may
  // already have parted.
  const seen = new Set<string>();
  await tr.waitFor(
    id,
    'to download everything',
    (s) => {
      for (const p of s.peers) seen.add(p.address);
      return s.percentDone === 1 && s.leftUntilDone === 0;
    },
    70_000,
  );
  const seconds = (performance.now() - started) / 1000;
  const trTracker = await transmissionTracker(tr, id);
  await tr.rpc('torrent-stop', { ids: [id] });
  await tr.waitFor(id, 'to stop', (s) => s.status === STOPPED, 10_000);
  await assertSameContent(fx, saveDir);

  const after = await tracker.stats();
  assertLibtorrentAnnounced(lt, tracker.udpUrl, 0);
  assert.equal(trTracker.lastAnnounceSucceeded, true, JSON.stringify(trTracker));
  // Its last announce may already be the one saying it completed, and a seed is given no seeds:
  // then the tracker counts it as the second seed.
  assert.ok(
    Number(trTracker.lastAnnouncePeerCount) >= 1 || Number(trTracker.seederCount) >= 2,
    JSON.stringify(trTracker),
  );
  assert.ok(after.announces! > before.announces!, `Transmission never announced`);
  assert.ok(after.udpPackets! >= 4, `two clients connect + announce over UDP: ${after.udpPackets}`);
  assert.ok(seen.has(ltHost), `Transmission's peers: ${JSON.stringify([...seen])}`);
  t.diagnostic(`Transmission fetched from libtorrent in ${seconds.toFixed(1)} s`);
  t.diagnostic(`Transmission tracker: ${trTracker.announce} ${trTracker.lastAnnounceResult}`);
  t.diagnostic(`tracker stats ${JSON.stringify(after)}`);
});

test('libtorrent downloads from Transmission, found only through shoal tracker over HTTP', {
  timeout: 90_000,
}, async (t) => {
  if (!tool.libtorrent(t) || !tool.transmission(t)) return;
  const fx = await getFixture();
  const hash = infoHashOf(fx);
  const netns = await createNetns(t, 'shoal-trk', 3);
  const [trackerHost, ltHost, trHost] = netns.addresses as [string, string, string];
  const tracker = await startShoalTracker(t, { host: trackerHost, netns });
  const torrent = await torrentFor(t, fx, tracker.httpUrl);

  const tr = await startTransmission(t, netns, trHost);
  const seedDir = await tempDir(t, 'shoal-trk-tr-seed-');
  await copyContent(fx, seedDir);
  const id = await tr.add(torrent, seedDir);
  await tr.waitFor(
    id,
    'to check its data and seed',
    (s) => s.status === SEEDING && s.percentDone === 1,
    30_000,
  );
  await tracker.waitForSeeders(hash, 1, 20_000);
  const trTracker = await transmissionTracker(tr, id);

  const saveDir = await tempDir(t, 'shoal-trk-lt-get-');
  const started = performance.now();
  const lt = await startLibtorrent(t, {
    mode: 'leech',
    torrent,
    savePath: saveDir,
    host: ltHost,
    netns,
    timeoutSeconds: 60,
  });
  const code = await lt.proc.waitExit(70_000);
  const seconds = (performance.now() - started) / 1000;
  assert.equal(code, 0, `libtorrent did not finish\n${lt.proc.tail()}\n${tr.proc.tail()}`);
  await assertSameContent(fx, saveDir);

  const after = await tracker.stats();
  assertLibtorrentAnnounced(lt, tracker.httpUrl, 1);
  assert.equal(trTracker.lastAnnounceSucceeded, true, JSON.stringify(trTracker));
  assert.equal(after.udpPackets, 0, 'nobody used UDP');
  t.diagnostic(`libtorrent fetched from Transmission in ${seconds.toFixed(1)} s`);
  t.diagnostic(`Transmission tracker: ${trTracker.announce} ${trTracker.lastAnnounceResult}`);
  t.diagnostic(`tracker stats ${JSON.stringify(after)}`);
});

/**
 * A shoal seeder of the fixture (its own torrent has no tracker: `--tracker URL` adds it),
 * once the tracker counts it as a seeder.
 */
async function shoalSeedVia(
  t: TestContext,
  fx: TransferFixture,
  tracker: ShoalTracker,
  url: string,
): Promise<Proc> {
  const seed = await shoalSeed(t, fx, torrentOf(fx, 'v1'), {
    host: HOST,
    args: ['--tracker', url, '--no-dht', '--no-pex'],
  });
  await tracker.waitForSeeders(infoHashOf(fx), 1, 20_000);
  return seed.proc;
}

test('aria2 finds a shoal seeder through shoal tracker over HTTP', {
  timeout: 90_000,
}, async (t) => {
  if (!tool.aria2(t)) return;
  const fx = await getFixture();
  const tracker = await startShoalTracker(t);
  const torrent = await torrentFor(t, fx, tracker.httpUrl);
  const seed = await shoalSeedVia(t, fx, tracker, tracker.httpUrl);
  const before = await tracker.stats();

  const saveDir = await tempDir(t, 'shoal-trk-aria2-get-');
  const started = performance.now();
  const aria2 = await startAria2(t, { mode: 'leech', torrent, dir: saveDir, timeoutSeconds: 60 });
  const code = await aria2.proc.waitExit(70_000);
  const seconds = (performance.now() - started) / 1000;
  assert.equal(code, 0, `aria2 did not finish\n${aria2.proc.tail()}\n${seed.tail()}`);
  await assertSameContent(fx, saveDir);
  const after = await tracker.stats();
  assert.ok(after.announces! > before.announces!, 'aria2 never announced');
  assert.ok(seed.exitCode === undefined, `shoal share ended early\n${seed.tail()}`);
  const status = shoalTrackers(seed);
  t.diagnostic(`aria2 fetched from shoal in ${seconds.toFixed(1)} s`);
  t.diagnostic(`shoal's trackers: ${JSON.stringify(status)}`);
  t.diagnostic(`tracker stats ${JSON.stringify(after)}`);
});

test('libtorrent finds a shoal seeder through shoal tracker over UDP', {
  timeout: 90_000,
}, async (t) => {
  if (!tool.libtorrent(t)) return;
  const fx = await getFixture();
  const tracker = await startShoalTracker(t);
  const torrent = await torrentFor(t, fx, tracker.udpUrl);
  const seed = await shoalSeedVia(t, fx, tracker, tracker.udpUrl);

  const saveDir = await tempDir(t, 'shoal-trk-lt-get-');
  const started = performance.now();
  const lt = await startLibtorrent(t, {
    mode: 'leech',
    torrent,
    savePath: saveDir,
    host: HOST,
    timeoutSeconds: 60,
  });
  const code = await lt.proc.waitExit(70_000);
  const seconds = (performance.now() - started) / 1000;
  assert.equal(code, 0, `libtorrent did not finish\n${lt.proc.tail()}\n${seed.tail()}`);
  await assertSameContent(fx, saveDir);
  assertLibtorrentAnnounced(lt, tracker.udpUrl, 1);
  const after = await tracker.stats();
  assert.ok(after.udpPackets! >= 4, `shoal and libtorrent connect + announce: ${after.udpPackets}`);
  assert.ok(seed.exitCode === undefined, `shoal share ended early\n${seed.tail()}`);
  t.diagnostic(`libtorrent fetched from shoal in ${seconds.toFixed(1)} s`);
  t.diagnostic(`shoal's trackers: ${JSON.stringify(shoalTrackers(seed))}`);
  t.diagnostic(`tracker stats ${JSON.stringify(after)}`);
});

// ---------------------------------------------------------------- (b) shoal, opentracker

for (const protocol of ['HTTP', 'UDP'] as const) {
  test(`shoal finds a libtorrent seed through opentracker over ${protocol}`, {
    timeout: 90_000,
  }, async (t) => {
    if (!tool.libtorrent(t) || !tool.opentracker(t)) return;
    const fx = await getFixture();
    const hash = infoHashOf(fx);
    const ot = await startOpentracker(t, { whitelist: [hash], host: HOST });
    const url = protocol === 'HTTP' ? ot.httpUrl : ot.udpUrl;
    const torrent = await torrentFor(t, fx, url);

    const lt = await libtorrentSeedViaTracker(t, fx, torrent, { host: HOST });
    const before = await ot.stats();
    assert.equal(
      before.seeds,
      1,
      `opentracker knows the libtorrent seed: ${JSON.stringify(before)}`,
    );

    // shoal gets the fixture's own torrent, which names no tracker: only --tracker does. It
    // keeps seeding once done (--seed) so that a progress line reports its tracker's status.
    const saveDir = await tempDir(t, 'shoal-ot-get-');
    const dataDir = await tempDir(t, 'shoal-ot-get-data-');
    const started = performance.now();
    const get = startShoal(t, [
      'get',
      torrentOf(fx, 'v1'),
      '-o',
      saveDir,
      '--port',
      '0',
      '--host',
      HOST,
      '--data-dir',
      dataDir,
      '--tracker',
      url,
      '--no-dht',
      '--no-pex',
      '--seed',
      '--json',
    ]);
    const done = await get.waitForEvent('done', 60_000);
    const seconds = (performance.now() - started) / 1000;
    assert.equal(done.piecesHave, done.pieceCount, get.tail());
    const status = await waitUntil(
      `shoal get to report ${url} as working`,
      () => shoalTrackers(get).find((s) => s.url === url && s.state === 'working'),
      10_000,
      { detail: () => get.tail() },
    );
    await get.stop();
    await assertSameContent(fx, saveDir);

    const after = await ot.stats();
    const announced =
      protocol === 'HTTP'
        ? after.tcpAnnounces - before.tcpAnnounces
        : after.udpAnnounces - before.udpAnnounces;
    assert.ok(announced >= 1, `shoal never announced over ${protocol}: ${JSON.stringify(after)}`);
    assert.ok(
      Number(status.peersReceived) >= 1,
      `shoal's tracker status: ${JSON.stringify(status)}`,
    );
    assertLibtorrentAnnounced(lt, url, 0);
    t.diagnostic(`shoal fetched from libtorrent via opentracker in ${seconds.toFixed(1)} s`);
    t.diagnostic(`shoal's tracker status: ${JSON.stringify(status)}`);
    t.diagnostic(
      `opentracker stats before ${JSON.stringify(before)} after ${JSON.stringify(after)}`,
    );
    const warnings = get
      .events()
      .filter((e) => e.event === 'warning')
      .map((e) => e.message);
    if (warnings.length > 0) t.diagnostic(`shoal warnings: ${warnings.join('; ')}`);
  });
}
