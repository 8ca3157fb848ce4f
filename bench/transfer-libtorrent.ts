/**
 * The libtorrent contender of the `transfer` benchmark's part 1: a seeder and a leecher, each a
 * Python process driving libtorrent on loopback over TCP and printing JSON lines as shoal's
 * `--json` does, so the benchmark reads both contenders the same way.
 */
import { SYSTEM_PYTHON } from '../test/interop/helpers.js';
import type { Children, JsonChild } from './support.js';

/** Settings common to both libtorrent sessions: loopback only, no discovery, TCP only. */
const LT_SESSION = `
import json, resource, sys, time
import libtorrent as lt

def session():
    settings = {
        'listen_interfaces': '127.0.0.1:0',
        'outgoing_interfaces': '127.0.0.1',
        'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
        # shoal speaks TCP only, so both contenders use TCP.
        'enable_incoming_utp': False, 'enable_outgoing_utp': False,
        'alert_mask': lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
    }
    return lt.session(settings)

def emit(event, **fields):
    print(json.dumps(dict(event=event, **fields)), flush=True)

def fail(message):
    emit('error', message=message)
    sys.exit(1)
`;

/**
 * Seeds `torrent` from `save_path` after a full check, prints {"event":"seeding","port":N},
 * and runs until its stdin is closed (so it cannot outlive the benchmark).
 */
const LT_SEEDER = `${LT_SESSION}
torrent, save_path = sys.argv[1], sys.argv[2]
ses = session()
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(torrent)
atp.save_path = save_path
h = ses.add_torrent(atp)
deadline = time.monotonic() + 600
checked = False
while not checked:
    ses.wait_for_alert(100)
    for a in ses.pop_alerts():
        if isinstance(a, lt.torrent_checked_alert):
            checked = True
        elif isinstance(a, (lt.torrent_error_alert, lt.file_error_alert, lt.listen_failed_alert)):
            fail(a.message())
    if time.monotonic() > deadline:
        fail('checking took too long')
st = h.status()
if not st.is_seeding:
    fail('the seeder does not have the whole file: state %s, progress %.3f' % (st.state, st.progress))
if ses.listen_port() == 0:
    fail('not listening')
emit('seeding', port=ses.listen_port())
sys.stdin.buffer.read()
`;

/**
 * Downloads `torrent` into `save_path` from the peer at 127.0.0.1:`port`; prints "started" once
 * the torrent is added and the peer dialled, then "done" with the seconds since then, the bytes
 * downloaded and the process's peak RSS (VmHWM; ru_maxrss would include the parent's RSS at fork).
 */
const LT_LEECHER = `${LT_SESSION}
torrent, save_path, port, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
ses = session()
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(torrent)
atp.save_path = save_path
h = ses.add_torrent(atp)
h.connect_peer(('127.0.0.1', port))
start = time.perf_counter()
emit('started')
finished = False
while not finished:
    ses.wait_for_alert(100)
    for a in ses.pop_alerts():
        if isinstance(a, lt.torrent_finished_alert):
            finished = True
        elif isinstance(a, (lt.torrent_error_alert, lt.file_error_alert)):
            fail(a.message())
    if not finished:
        st = h.status()
        finished = st.is_finished or st.is_seeding
        if time.perf_counter() - start > timeout:
            fail('not finished after %.0f s: %d bytes' % (timeout, st.total_wanted_done))
seconds = time.perf_counter() - start
st = h.status()
with open('/proc/self/status') as f:
    hwm = [int(l.split()[1]) * 1024 for l in f if l.startswith('VmHWM:')]
emit('done', seconds=seconds, downloaded=st.total_payload_download,
     peakRssBytes=hwm[0] if hwm else None,
     ruMaxrssBytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
`;

/**
 * Starts a libtorrent seeder of `torrent` over the data in `sourceDir`; it prints
 * {"event":"seeding","port":N} once its check passed.
 */
export function spawnLibtorrentSeeder(
  children: Children,
  torrent: string,
  sourceDir: string,
  env: NodeJS.ProcessEnv,
): JsonChild {
  return children.spawn(
    'libtorrent seeder',
    SYSTEM_PYTHON,
    ['-c', LT_SEEDER, torrent, sourceDir],
    env,
  );
}

/**
 * The command line of a libtorrent leecher downloading `torrent` into `out` from the seeder at
 * 127.0.0.1:`port`, giving up after `timeoutSeconds`.
 */
export function libtorrentLeecher(
  torrent: string,
  out: string,
  port: number,
  timeoutSeconds: number,
): { cmd: string; args: string[] } {
  return {
    cmd: SYSTEM_PYTHON,
    args: ['-c', LT_LEECHER, torrent, out, String(port), String(timeoutSeconds)],
  };
}
