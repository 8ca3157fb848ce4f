/**
 * Benchmark `utp`: uTP point to point on 127.0.0.1, shoal against libtorrent, in one run.
 *
 * 1. shoal uTP → shoal uTP: a sender and a receiver process (bench/utp-peer.ts) move
 *    SHOAL_BENCH_UTP_BYTES (1 GiB by default) over one connection; the receiver checks every
 *    byte. Throughput is the bytes over the time from the sender's "connected" to the
 *    receiver's "done"; CPU is both processes' user + system time over that span, per GiB.
 *    Best of two rounds.
 * 2. libtorrent uTP → libtorrent uTP: two Python sessions with TCP switched off, a seed and a
 *    leecher of a v1 torrent (1 MiB pieces) of SHOAL_BENCH_UTP_LT_BYTES (256 MiB by default:
 *    libtorrent's uTP moves some 7 MB/s on loopback), timed from the leecher dialling to its
 *    "done"; the copy is checked (SHA-256).
 *
 * Prints MB/s, CPU-seconds per GiB, the ratio and the CPU model. Targets: shoal ≥ 200 MB/s
 * and ≥ 10× libtorrent. SHOAL_BENCH_UTP_PARTS picks parts (`shoal`, `libtorrent`).
 */
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROBES, runShoal, SYSTEM_PYTHON, toolProblem } from '../test/interop/helpers.js';
import {
  Children,
  Deadline,
  envBytes,
  type JsonChild,
  mbps,
  mib,
  runParts,
  sha256File,
  writeContent,
} from './support.js';

const GiB = 1024 ** 3;
const ROUNDS = 2;
const TARGET_MBPS = 200;
const TARGET_RATIO = 10;
const PEER = fileURLToPath(new URL('./utp-peer.js', import.meta.url));
const FILE_NAME = 'content.bin';

/** Settings of both libtorrent sessions: loopback only, no discovery, uTP only. */
const LT_SESSION = `
import json, sys, time
import libtorrent as lt

def session():
    return lt.session({
        'listen_interfaces': '127.0.0.1:0',
        'outgoing_interfaces': '127.0.0.1',
        'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
        'enable_incoming_tcp': False, 'enable_outgoing_tcp': False,
        'enable_incoming_utp': True, 'enable_outgoing_utp': True,
        'alert_mask': lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
    })

def emit(event, **fields):
    print(json.dumps(dict(event=event, **fields)), flush=True)

def fail(message):
    emit('error', message=message)
    sys.exit(1)

def add(ses, torrent, save_path):
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(torrent)
    atp.save_path = save_path
    return ses.add_torrent(atp)
`;

/** Seeds after a full check, prints "seeding" with its port, runs until stdin closes. */
const LT_SEEDER = `${LT_SESSION}
ses = session()
h = add(ses, sys.argv[1], sys.argv[2])
deadline = time.monotonic() + 600
while not h.status().is_seeding:
    ses.wait_for_alert(100)
    for a in ses.pop_alerts():
        if isinstance(a, (lt.torrent_error_alert, lt.file_error_alert, lt.listen_failed_alert)):
            fail(a.message())
    if time.monotonic() > deadline:
        fail('checking took too long')
emit('seeding', port=ses.listen_port())
sys.stdin.buffer.read()
`;

/** Dials the seed over uTP, prints "started", then "done" once it has every piece. */
const LT_LEECHER = `${LT_SESSION}
ses = session()
h = add(ses, sys.argv[1], sys.argv[2])
h.connect_peer(('127.0.0.1', int(sys.argv[3])))
start = time.perf_counter()
emit('started')
while True:
    ses.wait_for_alert(100)
    for a in ses.pop_alerts():
        if isinstance(a, (lt.torrent_error_alert, lt.file_error_alert)):
            fail(a.message())
    st = h.status()
    if st.is_finished or st.is_seeding:
        break
    if time.perf_counter() - start > float(sys.argv[4]):
        fail('not finished: %d bytes' % st.total_wanted_done)
emit('done', seconds=time.perf_counter() - start, downloaded=h.status().total_payload_download)
`;

const childEnv = (): NodeJS.ProcessEnv => ({ ...process.env, SHOAL_EGRESS: 'loopback' });

/** The machine's CPU model, for the record. */
const cpuModel = (): string => `${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} CPUs)`;

interface Result {
  readonly bytes: number;
  readonly seconds: number;
  readonly cpuSeconds: number;
}

const report = (label: string, r: Result): string =>
  `${label}: ${mbps(r.bytes, r.seconds)} (${r.seconds.toFixed(2)} s), ` +
  `${((r.cpuSeconds * GiB) / r.bytes).toFixed(2)} CPU-s/GiB`;

/** CPU seconds of `child` now, or NaN. */
const cpuOf = (child: JsonChild): number => child.cpuSeconds() ?? Number.NaN;

interface Bench {
  readonly dir: string;
  readonly children: Children;
  shoal?: Result;
  libtorrent?: Result;
}

async function shoalRound(bench: Bench, bytes: number, deadline: Deadline): Promise<Result> {
  const recv = bench.children
    .spawn('utp receiver', process.execPath, [PEER, 'recv', String(bytes)], childEnv())
    .track();
  const listening = await recv.waitFor((e) => e.event === 'listening', deadline.left(), 'port');
  const send = bench.children
    .spawn(
      'utp sender',
      process.execPath,
      [PEER, 'send', String(listening.port), String(bytes)],
      childEnv(),
    )
    .track();
  const connected = await send.waitFor((e) => e.event === 'connected', deadline.left(), 'connect');
  const recvCpu0 = cpuOf(recv);
  const done = await recv.waitFor(
    (e) => e.event === 'done' || e.event === 'error',
    deadline.left(),
    '"done" line',
  );
  const sendCpu1 = cpuOf(send);
  if (done.event === 'error') throw new Error(`receiver: ${String(done.message)}`);
  const result = {
    bytes,
    seconds: (done.at - connected.at) / 1000,
    cpuSeconds: (done.cpu ?? Number.NaN) - recvCpu0 + sendCpu1 - (connected.cpu ?? Number.NaN),
  };
  for (const child of [recv, send]) {
    const exit = await child.waitExit(Math.min(deadline.left(), 30_000));
    if (exit.code !== 0)
      throw new Error(`${child.label} exited with ${exit.code}:\n${child.output()}`);
  }
  return result;
}

async function shoalPart(bench: Bench): Promise<void> {
  const bytes = envBytes('SHOAL_BENCH_UTP_BYTES', GiB);
  process.stdout.write(`${mib(bytes)} shoal → shoal over one uTP connection\n`);
  const deadline = new Deadline(600_000, 'shoal uTP');
  for (let round = 1; round <= ROUNDS; round++) {
    const r = await shoalRound(bench, bytes, deadline);
    process.stdout.write(`${report(`round ${round}`, r)}\n`);
    if (bench.shoal === undefined || r.seconds < bench.shoal.seconds) bench.shoal = r;
  }
}

async function libtorrentPart(bench: Bench): Promise<void> {
  const problem = toolProblem('libtorrent', PROBES.libtorrent);
  if (problem !== undefined) {
    process.stdout.write(`skipped: libtorrent is not available (${problem})\n`);
    return;
  }
  const bytes = envBytes('SHOAL_BENCH_UTP_LT_BYTES', 256 * 1024 ** 2);
  const deadline = new Deadline(900_000, 'libtorrent uTP');
  const seedDir = join(bench.dir, 'seed');
  await mkdir(seedDir);
  const source = join(seedDir, FILE_NAME);
  await writeContent(source, bytes);
  const torrent = join(bench.dir, 'content.torrent');
  const made = await runShoal(['create', source, '-o', torrent, '--piece-length', '1M', '--v1']);
  if (made.code !== 0) throw new Error(`shoal create exited with ${made.code}: ${made.stderr}`);
  const sourceHash = await sha256File(source);
  process.stdout.write(`${mib(bytes)} libtorrent → libtorrent, uTP only\n`);
  const seeder = bench.children
    .spawn('libtorrent seeder', SYSTEM_PYTHON, ['-c', LT_SEEDER, torrent, seedDir], childEnv())
    .track();
  const seeding = await seeder.waitFor((e) => e.event === 'seeding', deadline.left(), 'seeding');
  const out = await mkdtemp(join(bench.dir, 'out-'));
  const leecher = bench.children
    .spawn(
      'libtorrent leecher',
      SYSTEM_PYTHON,
      ['-c', LT_LEECHER, torrent, out, String(seeding.port), String(deadline.left() / 1000)],
      childEnv(),
    )
    .track();
  const started = await leecher.waitFor((e) => e.event === 'started', deadline.left(), 'start');
  const seederCpu0 = cpuOf(seeder);
  const done = await leecher.waitFor(
    (e) => e.event === 'done' || e.event === 'error',
    deadline.left(),
    '"done" line',
  );
  const seederCpu1 = cpuOf(seeder);
  if (done.event === 'error') throw new Error(`libtorrent leecher: ${String(done.message)}`);
  await leecher.waitExit(30_000);
  await seeder.stop();
  const got = await sha256File(join(out, FILE_NAME));
  if (got !== sourceHash) throw new Error('the libtorrent leecher got different bytes');
  bench.libtorrent = {
    bytes,
    seconds: (done.at - started.at) / 1000,
    cpuSeconds: (done.cpu ?? Number.NaN) - (started.cpu ?? Number.NaN) + seederCpu1 - seederCpu0,
  };
  process.stdout.write(`${report('libtorrent', bench.libtorrent)}\n`);
}

/** Runs the benchmark (see the module comment). */
export async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-bench-utp-'));
  const children = new Children(() => rmSync(dir, { recursive: true, force: true }));
  const bench: Bench = { dir, children };
  try {
    await runParts(
      'SHOAL_BENCH_UTP_PARTS',
      [
        ['shoal', 'shoal uTP ↔ shoal uTP on loopback', shoalPart],
        ['libtorrent', 'libtorrent uTP ↔ libtorrent uTP on loopback', libtorrentPart],
      ],
      bench,
      children,
    );
  } finally {
    await children.close();
    await rm(dir, { recursive: true, force: true });
  }
  const { shoal, libtorrent } = bench;
  process.stdout.write(`-- summary (${cpuModel()})\n`);
  if (shoal !== undefined) {
    const rate = shoal.bytes / 1e6 / shoal.seconds;
    process.stdout.write(
      `shoal uTP: ${rate.toFixed(1)} MB/s (target ≥ ${TARGET_MBPS}), ` +
        `${((shoal.cpuSeconds * GiB) / shoal.bytes).toFixed(2)} CPU-s/GiB\n`,
    );
  }
  if (shoal !== undefined && libtorrent !== undefined) {
    const ratio = shoal.bytes / shoal.seconds / (libtorrent.bytes / libtorrent.seconds);
    process.stdout.write(
      `shoal / libtorrent uTP throughput: ${ratio.toFixed(1)}× (target ≥ ${TARGET_RATIO}×)\n`,
    );
  }
}
