/** aria2 as a peer in an interop test. */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  freePort,
  freeUdpPort,
  type Proc,
  run,
  startProcess,
  type TestContext,
  waitUntil,
} from './harness.js';

// ---------------------------------------------------------------- aria2

/** aria2 options that keep it off every network but loopback and away from user config. */
const ARIA2_ISOLATION = [
  '--no-conf=true',
  '--interface=127.0.0.1',
  '--disable-ipv6=true',
  '--enable-dht=false',
  '--enable-dht6=false',
  '--bt-enable-lpd=false',
  '--enable-peer-exchange=false',
  '--follow-torrent=false',
  '--file-allocation=none',
  '--summary-interval=0',
  '--console-log-level=notice',
  '--enable-color=false',
  '--auto-save-interval=0',
];

/** An aria2c process started by {@link startAria2}. */
export interface Aria2Peer {
  readonly proc: Proc;
  /** Its BitTorrent listen port on 127.0.0.1 (aria2 cannot dial a peer it is not told of). */
  readonly port: number;
  /** Calls its JSON-RPC interface (on 127.0.0.1 only; seeds only). */
  rpc(method: string, params?: unknown[]): Promise<unknown>;
}

/**
 * Starts `aria2c` on `torrent` with save folder `dir`, listening on 127.0.0.1 only. As a seed
 * it checks the data first (`--check-integrity`) and seeds until stopped; resolves once it
 * reports being a seeder. As a leecher (`--seed-time=0`) it exits 0 once the download is
 * complete; resolves once it listens. It also exits if this test process dies.
 */
export async function startAria2(
  t: TestContext,
  options: {
    mode: 'seed' | 'leech';
    torrent: string;
    dir: string;
    timeoutSeconds?: number;
    /**
     * Turn its DHT on, which aria2 needs to use UDP trackers at all (it sends their requests
     * from its DHT socket). The DHT starts empty, from a fresh state file and with no entry
     * point, so it can reach nobody but the loopback peers it meets.
     */
    udpTrackers?: { stateDir: string };
    /** More command-line options, e.g. `--bt-require-crypto=true`. */
    args?: readonly string[];
  },
): Promise<Aria2Peer> {
  const port = await freePort();
  const dhtArgs = options.udpTrackers
    ? [
        '--enable-dht=true',
        `--dht-listen-port=${await freeUdpPort('127.0.0.1')}`,
        `--dht-file-path=${join(options.udpTrackers.stateDir, 'dht.dat')}`,
      ]
    : [];
  const rpcPort = await freePort();
  const secret = createHash('sha256').update(`${process.pid}/${rpcPort}`).digest('hex');
  // A seed answers RPC so the test can see when its check is done; a leecher has no RPC
  // (aria2 would stay up for it) and exits once complete.
  const modeArgs =
    options.mode === 'seed'
      ? [
          '--check-integrity=true',
          '--seed-ratio=0.0',
          '--bt-seed-unverified=false',
          '--enable-rpc=true',
          '--rpc-listen-all=false',
          `--rpc-listen-port=${rpcPort}`,
          `--rpc-secret=${secret}`,
        ]
      : ['--seed-time=0'];
  const proc = startProcess(t, `aria2c ${options.mode}`, 'aria2c', [
    ...ARIA2_ISOLATION.filter((a) => !(options.udpTrackers && a === '--enable-dht=false')),
    ...dhtArgs,
    `--listen-port=${port}`,
    `--stop-with-process=${process.pid}`,
    `--stop=${options.timeoutSeconds ?? 90}`,
    '-d',
    options.dir,
    ...modeArgs,
    ...(options.args ?? []),
    options.torrent,
  ]);
  let id = 0;
  const rpc = async (method: string, params: unknown[] = []) => {
    const res = await fetch(`http://127.0.0.1:${rpcPort}/jsonrpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: ++id,
        method,
        params: [`token:${secret}`, ...params],
      }),
      signal: AbortSignal.timeout(5000),
    });
    const body = (await res.json()) as { result?: unknown; error?: { message: string } };
    if (body.error) throw new Error(`aria2 ${method}: ${body.error.message}`);
    return body.result;
  };
  await proc.waitForLine(new RegExp(`listening on TCP port ${port}\\b`), 20_000);
  if (options.mode === 'seed') {
    await waitUntil(
      'aria2 to check its data and become a seeder',
      async () => {
        let active: { seeder: string; completedLength: string; totalLength: string }[];
        try {
          active = (await rpc('aria2.tellActive', [
            ['status', 'seeder', 'completedLength', 'totalLength'],
          ])) as typeof active;
        } catch {
          return undefined; // RPC not answering yet: ask again
        }
        const d = active[0];
        return d?.seeder === 'true' && d.completedLength === d.totalLength ? true : undefined;
      },
      30_000,
      {
        intervalMs: 200,
        abort: () =>
          proc.exitCode !== undefined ? `aria2c exited with ${proc.exitCode}` : undefined,
        detail: () => proc.tail(),
      },
    );
  }
  return { proc, port, rpc };
}

/**
 * Why aria2 cannot take part in the swarm of `torrent` (whose v1 info-hash is `infoHashV1`),
 * or undefined. aria2 1.36 drops the empty-string keys of a v2 file tree when it re-encodes the
 * info dictionary to hash it, so it computes a wrong info-hash for every hybrid torrent
 * (aria2 issue #1903, fixed in 1.37.0).
 */
export async function aria2InfoHashProblem(
  torrent: string,
  infoHashV1: string,
): Promise<string | undefined> {
  const r = await run('aria2c', ['--no-conf=true', '-S', torrent]);
  const m = /^Info Hash: ([0-9a-f]{40})$/im.exec(r.stdout);
  if (r.code !== 0 || !m) return `aria2c -S cannot read the torrent (exit ${r.code}): ${r.stderr}`;
  const got = m[1]!.toLowerCase();
  if (got === infoHashV1) return undefined;
  const version = (await run('aria2c', ['--version'])).stdout.split('\n')[0]?.trim();
  return (
    `${version} computes info-hash ${got} for this torrent instead of ${infoHashV1}: it drops ` +
    'the empty keys of the v2 file tree, so it cannot join any hybrid swarm ' +
    '(aria2 issue #1903, fixed in 1.37.0)'
  );
}
