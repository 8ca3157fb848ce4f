/**
 * Acceptance: libtorrent 2.0 (python3-libtorrent) and shoal find each other through a private
 * mainline DHT made of shoal nodes, and move a torrent given only as a bare magnet link
 * (`magnet:?xt=urn:btih:…`: no trackers, no peers).
 *
 * Each test starts 16 shoal DHT nodes in this process on 127.0.N.1…16 (a /24 of its own), then:
 * - a shoal seeder (`shoal share --dht-bootstrap`, no tracker) announces itself to the DHT, and
 *   libtorrent, whose DHT is bootstrapped from those shoal nodes only, adds the bare magnet,
 *   finds the seeder, fetches the metadata and the content;
 * - libtorrent seeds and announces itself to the DHT, and `shoal get <magnet> --dht-bootstrap`
 *   finds it and downloads.
 * Downloaded files must match the source (SHA-256). libtorrent never reaches the public DHT:
 * its only bootstrap nodes are the shoal nodes, it listens on one loopback address, and it runs
 * without LSD, UPnP, NAT-PMP and uTP. shoal runs with SHOAL_EGRESS=loopback.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressOf, startShoalDht, whenAnnounced } from './dht-helpers.js';
import {
  assertSameContent,
  copyContent,
  fileScope,
  LIBTORRENT_SCRIPT_PRELUDE,
  makeTransferFixture,
  requireTool,
  SYSTEM_PYTHON,
  startProcess,
  startShoal,
  type TransferFixture,
  type TransferVersion,
  tempDir,
  torrentOf,
  waitUntil,
} from './helpers.js';

const DHT_NODES = 16;
const scope = fileScope();
let fixture: Promise<TransferFixture> | undefined;
const getFixture = () => {
  fixture ??= makeTransferFixture(scope, ['hybrid', 'v1']);
  return fixture;
};

/**
 * One libtorrent session with its DHT on, bootstrapped from `bootstrap` only, listening on
 * `host` only. As a seed it adds the .torrent `source` over the data in `savePath`; as a
 * leecher it adds the magnet link `source`. Either way it asks the DHT again
 * (force_dht_announce) every few seconds while it has no peer (a seed: every few seconds
 * throughout), since its first announce may go out before its DHT has bootstrapped. Prints
 * JSON lines: `listening`, `dht_bootstrap`, `seeding`, `metadata`, `dht_reply` (peers a DHT
 * lookup found), `progress` every second (with the DHT's node count), `done` (a leecher then
 * exits 0), `alert` for errors. Exits non-zero at its deadline.
 */
const LIBTORRENT_DHT_SCRIPT = `${LIBTORRENT_SCRIPT_PRELUDE}
ses = lt.session({
    'listen_interfaces': '%s:0' % host,
    'outgoing_interfaces': host,
    'enable_dht': True,
    'dht_bootstrap_nodes': cfg['bootstrap'],
    # loopback nodes share a /24 and have ids that BEP 42 does not tie to their address
    'dht_restrict_routing_ips': False,
    'dht_restrict_search_ips': False,
    'dht_enforce_node_id': False,
    'dht_prefer_verified_node_ids': False,
    'dht_ignore_dark_internet': False,
    'enable_lsd': False,
    'enable_upnp': False,
    'enable_natpmp': False,
    'enable_incoming_utp': False,
    'enable_outgoing_utp': False,
    'allow_multiple_connections_per_ip': True,
    'alert_mask': cat.error_notification | cat.status_notification | cat.dht_notification
        | cat.peer_notification,
})

def drain():
    for a in ses.pop_alerts():
        if isinstance(a, lt.listen_failed_alert):
            out('error', message=a.message())
            sys.exit(2)
        elif isinstance(a, lt.dht_bootstrap_alert):
            out('dht_bootstrap')
        elif isinstance(a, lt.dht_reply_alert):
            out('dht_reply', peers=a.num_peers)
        elif isinstance(a, lt.metadata_received_alert):
            out('metadata')
        elif isinstance(a, (lt.torrent_error_alert, lt.file_error_alert, lt.hash_failed_alert,
                            lt.peer_error_alert)):
            out('alert', type=type(a).__name__, message=a.message())

while ses.listen_port() == 0:
    drain()
    if time.time() > deadline:
        out('error', message='never started listening')
        sys.exit(2)
    time.sleep(0.05)

if mode == 'seed':
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(cfg['source'])
else:
    params = lt.parse_magnet_uri(cfg['source'])
params.save_path = cfg['savePath']
h = ses.add_torrent(params)
out('listening', port=ses.listen_port())

def status():
    s = h.status()
    return s, dict(state=str(s.state), progress=s.progress, peers=s.num_peers,
                   seeds=s.num_seeds, has_metadata=s.has_metadata,
                   dht_nodes=ses.status().dht_nodes,
                   downloaded=s.total_payload_download, uploaded=s.total_payload_upload,
                   error=str(s.errc.message()) if s.errc.value() else '')

seeding = False
last_print = last_announce = 0
while time.time() < deadline:
    drain()
    s, fields = status()
    now = time.time()
    if mode == 'seed' and not seeding and s.is_seeding:
        seeding = True
        out('seeding', port=ses.listen_port())
    if now - last_print >= 1:
        last_print = now
        out('progress', **fields)
    if mode == 'leech' and s.is_seeding:
        out('done', **fields)
        ses.remove_torrent(h)
        time.sleep(0.2)
        drain()
        sys.exit(0)
    if (mode == 'seed' and seeding) or (mode == 'leech' and s.num_peers == 0):
        if now - last_announce >= 3:
            last_announce = now
            h.force_dht_announce()
    time.sleep(0.1)
out('timeout', **status()[1])
sys.exit(0 if mode == 'seed' else 4)
`;

function startLibtorrentDht(
  t: Parameters<typeof startProcess>[0],
  cfg: {
    mode: 'seed' | 'leech';
    source: string;
    savePath: string;
    host: string;
    bootstrap: readonly string[];
    timeoutSeconds: number;
  },
) {
  return startProcess(t, `libtorrent ${cfg.mode}`, SYSTEM_PYTHON, [
    '-c',
    LIBTORRENT_DHT_SCRIPT,
    JSON.stringify({ ...cfg, bootstrap: cfg.bootstrap.join(','), timeout: cfg.timeoutSeconds }),
  ]);
}

const bareMagnet = (infoHashV1: string) => `magnet:?xt=urn:btih:${infoHashV1}`;

const VERSIONS: readonly TransferVersion[] = ['hybrid', 'v1'];

VERSIONS.forEach((version, i) => {
  const subnet = 60 + 2 * i;

  test(`libtorrent finds a shoal seeder through the DHT and downloads a ${version} bare magnet`, {
    timeout: 120_000,
  }, async (t) => {
    if (!requireTool(t, 'libtorrent')) return;
    const fx = await getFixture();
    const torrent = torrentOf(fx, version);
    const infoHash = fx.infoHashes[version]!.v1!;
    const started = performance.now();
    const nodes = await startShoalDht(t, subnet, DHT_NODES);
    const bootstrap = [addressOf(nodes[0]!), addressOf(nodes[5]!)];
    t.diagnostic(
      `${DHT_NODES} shoal DHT nodes up in ${Math.round(performance.now() - started)} ms; ` +
        `mean table size ${(nodes.reduce((n, d) => n + d.table.size, 0) / nodes.length).toFixed(1)}`,
    );

    const seedHost = `127.0.${subnet}.100`;
    const announced = whenAnnounced(nodes, Buffer.from(infoHash, 'hex'), seedHost, 30_000);
    const seeder = startShoal(
      t,
      [
        'share',
        fx.content,
        '--torrent',
        torrent,
        '--host',
        seedHost,
        '--port',
        '0',
        '--data-dir',
        await tempDir(t, 'shoal-dht-seed-'),
        '--json',
        ...bootstrap.flatMap((b) => ['--dht-bootstrap', b]),
      ],
      { name: 'shoal share' },
    );
    const seeding = await seeder.waitForEvent('seeding', 30_000);
    const peer = await announced.catch((error: Error) => {
      throw new Error(`${error.message}\n${seeder.tail()}`);
    });
    assert.equal(peer.port, seeding.port, 'the DHT holds the seeder’s TCP port');
    // Someone who was not announced to can find it: the announce is where lookups go.
    await waitUntil(
      'a DHT lookup from another node to find the seeder',
      async () => {
        const r = await nodes[DHT_NODES - 1]!.getPeers(Buffer.from(infoHash, 'hex'));
        return r.peers.some((p) => p.host === seedHost) ? true : undefined;
      },
      15_000,
      { intervalMs: 500 },
    );

    const saveDir = await tempDir(t, 'shoal-dht-lt-leech-');
    const fetchStarted = performance.now();
    const lt = startLibtorrentDht(t, {
      mode: 'leech',
      source: bareMagnet(infoHash),
      savePath: saveDir,
      host: `127.0.${subnet}.101`,
      bootstrap,
      timeoutSeconds: 60,
    });
    const code = await lt.waitExit(75_000);
    const seconds = (performance.now() - fetchStarted) / 1000;
    assert.equal(code, 0, `libtorrent did not finish\n${lt.tail()}\n${seeder.tail()}`);
    const replies = lt.events().filter((e) => e.event === 'dht_reply');
    assert.ok(
      replies.some((e) => (e.peers as number) > 0),
      `libtorrent's DHT lookups found no peer\n${lt.tail()}`,
    );
    await assertSameContent(fx, saveDir);
    const last = lt.event('done');
    t.diagnostic(
      `libtorrent fetched ${version} via the DHT in ${seconds.toFixed(1)} s ` +
        `(its DHT knew ${String(last?.dht_nodes)} nodes)`,
    );
  });

  test(`shoal finds a libtorrent seeder through the DHT and downloads a ${version} bare magnet`, {
    timeout: 120_000,
  }, async (t) => {
    if (!requireTool(t, 'libtorrent')) return;
    const fx = await getFixture();
    const torrent = torrentOf(fx, version);
    const infoHash = fx.infoHashes[version]!.v1!;
    const nodes = await startShoalDht(t, subnet + 1, DHT_NODES);
    const bootstrap = [addressOf(nodes[0]!), addressOf(nodes[5]!)];

    const seedDir = await tempDir(t, 'shoal-dht-lt-seed-');
    await copyContent(fx, seedDir);
    const seedHost = `127.0.${subnet + 1}.100`;
    const announced = whenAnnounced(nodes, Buffer.from(infoHash, 'hex'), seedHost, 45_000);
    const lt = startLibtorrentDht(t, {
      mode: 'seed',
      source: torrent,
      savePath: seedDir,
      host: seedHost,
      bootstrap,
      timeoutSeconds: 100,
    });
    const seeding = await lt.waitForEvent('seeding', 30_000);
    const peer = await announced.catch((error: Error) => {
      throw new Error(`${error.message}\n${lt.tail()}`);
    });
    assert.equal(peer.port, seeding.port, 'the DHT holds libtorrent’s listen port');

    const saveDir = await tempDir(t, 'shoal-dht-get-');
    const fetchStarted = performance.now();
    const getter = startShoal(
      t,
      [
        'get',
        bareMagnet(infoHash),
        '-o',
        saveDir,
        '--host',
        `127.0.${subnet + 1}.101`,
        '--port',
        '0',
        '--data-dir',
        await tempDir(t, 'shoal-dht-get-data-'),
        '--json',
        ...bootstrap.flatMap((b) => ['--dht-bootstrap', b]),
      ],
      { name: 'shoal get' },
    );
    const code = await getter.waitExit(75_000);
    const seconds = (performance.now() - fetchStarted) / 1000;
    const done = getter.event('done');
    assert.ok(
      code === 0 && done !== undefined,
      `shoal get exited with ${code} without finishing\n${getter.tail()}\n${lt.tail()}`,
    );
    assert.equal(done.piecesHave, done.pieceCount);
    await assertSameContent(fx, saveDir);
    t.diagnostic(`shoal fetched ${version} from libtorrent via the DHT in ${seconds.toFixed(1)} s`);
  });
});
