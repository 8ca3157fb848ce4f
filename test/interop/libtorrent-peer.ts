/** libtorrent (Debian python3-libtorrent) as a peer in an interop test. */
import { type Proc, SYSTEM_PYTHON, startProcess, type TestContext } from './harness.js';
import type { Netns } from './netns.js';

// ---------------------------------------------------------------- libtorrent (Python bindings)

/**
 * How the libtorrent scripts begin: imports, `cfg` (JSON in argv[1]) with `mode`, `host` and a
 * `deadline` from `cfg['timeout']`, `out(event, **fields)` printing one JSON line, and `cat`
 * for alert masks.
 */
export const LIBTORRENT_SCRIPT_PRELUDE = String.raw`
import json, sys, time, warnings
import libtorrent as lt
warnings.simplefilter('ignore', DeprecationWarning)

cfg = json.loads(sys.argv[1])
mode, host = cfg['mode'], cfg['host']
deadline = time.time() + cfg['timeout']

def out(event, **fields):
    fields['event'] = event
    sys.stdout.write(json.dumps(fields) + '\n')
    sys.stdout.flush()

cat = lt.alert.category_t`;

/**
 * Runs one libtorrent session on one torrent: listens on HOST:PORT only (PORT 0 = any), with
 * DHT, local peer discovery, UPnP, NAT-PMP and uTP off (or with `utpOnly`, TCP off and uTP on), adds the torrent with the given save
 * path, and dials the given peers with connect_peer (again every few seconds while it has
 * none). Given a magnet link instead of a torrent, it fetches the metadata (and, for v2, the
 * piece layers) from those peers. `settings` are merged into the session settings. It
 * announces to the torrent's own trackers (none are added). Prints JSON lines:
 * `listening` (with the port), `seeding` once a seed's data is checked, `progress` twice a
 * second, `alert` for errors and disconnects, `tracker` for each announce sent and each tracker
 * reply (with the number of peers it gave), error and warning, and `done` when a leecher has
 * every piece; a leecher then exits 0. Exits non-zero on errors or at the deadline.
 */
const LIBTORRENT_PEER_SCRIPT = `${LIBTORRENT_SCRIPT_PRELUDE}
utp_only = bool(cfg.get('utpOnly'))
settings = {
    'listen_interfaces': '%s:%d' % (host, cfg['port']),
    'outgoing_interfaces': host,
    'enable_dht': False,
    'enable_lsd': False,
    'enable_upnp': False,
    'enable_natpmp': False,
    'dht_bootstrap_nodes': '',
    'enable_incoming_utp': utp_only,
    'enable_outgoing_utp': utp_only,
    'enable_incoming_tcp': not utp_only,
    'enable_outgoing_tcp': not utp_only,
    'allow_multiple_connections_per_ip': True,
    'alert_mask': cat.error_notification | cat.status_notification | cat.peer_notification
        | cat.connect_notification | cat.tracker_notification,
}
settings.update(cfg.get('settings') or {})
ses = lt.session(settings)

def drain():
    for a in ses.pop_alerts():
        if isinstance(a, lt.listen_failed_alert):
            out('error', message=a.message())
            sys.exit(2)
        if isinstance(a, (lt.tracker_reply_alert, lt.tracker_error_alert,
                          lt.tracker_warning_alert, lt.tracker_announce_alert)):
            fields = dict(type=type(a).__name__, url=a.tracker_url(), message=a.message())
            if isinstance(a, lt.tracker_reply_alert):
                fields['peers'] = a.num_peers
            out('tracker', **fields)
            continue
        if isinstance(a, (lt.torrent_error_alert, lt.file_error_alert, lt.hash_failed_alert,
                          lt.peer_error_alert, lt.peer_disconnected_alert,
                          lt.peer_connect_alert, lt.incoming_connection_alert)):
            out('alert', type=type(a).__name__, message=a.message())

while ses.listen_port() == 0:
    drain()
    if time.time() > deadline:
        out('error', message='never started listening')
        sys.exit(2)
    time.sleep(0.05)

if cfg.get('magnet'):
    params = lt.parse_magnet_uri(cfg['magnet'])
else:
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(cfg['torrent'])
params.save_path = cfg['savePath']
h = ses.add_torrent(params)
out('listening', port=ses.listen_port())

def status():
    s = h.status()
    return s, dict(state=str(s.state), progress=s.progress, pieces=s.num_pieces,
                   peers=s.num_peers, downloaded=s.total_payload_download,
                   uploaded=s.total_payload_upload, error=str(s.errc.message()) if s.errc.value() else '')

if mode == 'seed':
    check_deadline = min(deadline, time.time() + 30)
    while True:
        drain()
        s, fields = status()
        if s.is_seeding:
            break
        if time.time() > check_deadline:
            out('error', message='the data to seed did not check out', **fields)
            sys.exit(3)
        time.sleep(0.05)
    out('seeding', port=ses.listen_port())

def dial():
    for peer_host, peer_port in cfg['peers']:
        h.connect_peer((peer_host, peer_port))

dial()
last_print = last_dial = time.time()
while time.time() < deadline:
    drain()
    s, fields = status()
    now = time.time()
    if now - last_print >= 0.5:
        last_print = now
        out('progress', **fields)
    if mode == 'leech' and s.is_seeding:
        out('done', **fields)
        ses.remove_torrent(h)
        time.sleep(0.2)
        drain()
        del h
        del ses
        sys.exit(0)
    if s.num_peers == 0 and now - last_dial >= 3:
        last_dial = now
        dial()
    time.sleep(0.1)
out('timeout', **status()[1])
sys.exit(0 if mode == 'seed' else 4)
`;

/** A libtorrent session started by {@link startLibtorrent}. */
export interface LibtorrentPeer {
  readonly proc: Proc;
  readonly port: number;
}

/**
 * Starts a libtorrent session (system Python) that seeds or downloads `torrent` (or, leeching,
 * a `magnet` link) in `savePath`, listening on `host` and dialing `peers` (`HOST:PORT`), inside
 * `netns` when given. Resolves once it listens, and for a seed once its data is checked. A
 * leecher prints `done` and exits 0 when complete.
 */
export async function startLibtorrent(
  t: TestContext,
  options: {
    mode: 'seed' | 'leech';
    torrent?: string;
    magnet?: string;
    savePath: string;
    host?: string;
    port?: number;
    peers?: readonly string[];
    timeoutSeconds?: number;
    netns?: Netns;
    /** More session settings (settings_pack names), e.g. `{ in_enc_policy: 0 }`. */
    settings?: Readonly<Record<string, number | boolean | string>>;
    /** Speak uTP only: TCP off both ways, uTP on both ways. */
    utpOnly?: boolean;
  },
): Promise<LibtorrentPeer> {
  const cfg = {
    utpOnly: options.utpOnly === true,
    mode: options.mode,
    torrent: options.torrent,
    magnet: options.magnet,
    savePath: options.savePath,
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    peers: (options.peers ?? []).map(splitHostPort),
    timeout: options.timeoutSeconds ?? 80,
    settings: options.settings ?? {},
  };
  const python = [SYSTEM_PYTHON, '-c', LIBTORRENT_PEER_SCRIPT, JSON.stringify(cfg)];
  const [cmd, ...args] = options.netns
    ? ['ip', 'netns', 'exec', options.netns.name, ...python]
    : python;
  const proc = startProcess(t, `libtorrent ${options.mode}`, cmd!, args);
  const listening = await proc.waitForEvent('listening', 20_000);
  if (options.mode === 'seed') await proc.waitForEvent('seeding', 30_000);
  return { proc, port: listening.port as number };
}

function splitHostPort(peer: string): [string, number] {
  const i = peer.lastIndexOf(':');
  return [peer.slice(0, i).replace(/^\[(.*)\]$/, '$1'), Number(peer.slice(i + 1))];
}
