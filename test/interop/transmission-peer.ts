/** Transmission (transmission-daemon in a namespace, and its RPC) as a peer in an interop test. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type Proc,
  run,
  SYSTEM_PYTHON,
  startProcess,
  type TestContext,
  tempDir,
  waitUntil,
} from './harness.js';
import type { Netns } from './netns.js';

// ---------------------------------------------------------------- Transmission

/** Talks to a Transmission daemon's RPC on 127.0.0.1 inside its namespace. */
const TRANSMISSION_RPC_SCRIPT = `
import json, sys, urllib.request, urllib.error
port, method, args = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
body = json.dumps({'method': method, 'arguments': args}).encode()
session = ''
for attempt in range(3):
    req = urllib.request.Request('http://127.0.0.1:%s/transmission/rpc' % port, data=body,
                                 headers={'X-Transmission-Session-Id': session,
                                          'Content-Type': 'application/json'})
    try:
        with opener.open(req, timeout=10) as r:
            sys.stdout.write(r.read().decode('utf8'))
            sys.exit(0)
    except urllib.error.HTTPError as e:
        if e.code != 409:
            raise
        session = e.headers.get('X-Transmission-Session-Id', '')
sys.exit(1)
`;

/** Fields of a torrent in Transmission's RPC. */
export interface TransmissionTorrent {
  readonly id: number;
  readonly hashString: string;
  /** 0 stopped, 1 queued to check, 2 checking, 3 queued to download, 4 downloading, 5 queued to seed, 6 seeding. */
  readonly status: number;
  readonly percentDone: number;
  readonly leftUntilDone: number;
  readonly error: number;
  readonly errorString: string;
  readonly peersConnected: number;
  readonly peers: readonly { address: string; port: number; clientName: string }[];
}

/** A transmission-daemon started by {@link startTransmission}. */
export interface TransmissionPeer {
  readonly proc: Proc;
  readonly address: string;
  readonly peerPort: number;
  rpc(method: string, args?: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Adds `torrent`, saving into (or seeding from) `downloadDir`; resolves with its id. */
  add(torrent: string, downloadDir: string): Promise<number>;
  get(id: number): Promise<TransmissionTorrent>;
  /** Polls torrent `id` until `done` holds; fails on a torrent error or after `timeoutMs`. */
  waitFor(
    id: number,
    what: string,
    done: (s: TransmissionTorrent) => boolean,
    timeoutMs: number,
  ): Promise<TransmissionTorrent>;
}

/**
 * Starts `transmission-daemon` inside `netns`, bound to `address` for peers (port 51413) and to
 * 127.0.0.1 inside the namespace for RPC, with DHT, LPD, PEX, uTP, port forwarding and the
 * blocklist off, and `settings` (settings.json keys, e.g. `{ encryption: 2 }`) on top.
 * Resolves once its RPC answers.
 */
export async function startTransmission(
  t: TestContext,
  netns: Netns,
  address: string,
  settings: Readonly<Record<string, unknown>> = {},
): Promise<TransmissionPeer> {
  const configDir = await tempDir(t, 'shoal-transmission-');
  const peerPort = 51413;
  const rpcPort = 9091;
  await writeFile(
    join(configDir, 'settings.json'),
    JSON.stringify(
      {
        'bind-address-ipv4': address,
        'bind-address-ipv6': '::1',
        'rpc-bind-address': '127.0.0.1',
        'rpc-port': rpcPort,
        'rpc-authentication-required': false,
        'rpc-whitelist-enabled': false,
        'rpc-host-whitelist-enabled': false,
        'peer-port': peerPort,
        'peer-port-random-on-start': false,
        'dht-enabled': false,
        'lpd-enabled': false,
        'pex-enabled': false,
        'utp-enabled': false,
        'port-forwarding-enabled': false,
        'blocklist-enabled': false,
        'download-dir': configDir,
        'incomplete-dir-enabled': false,
        'watch-dir-enabled': false,
        'start-added-torrents': true,
        'ratio-limit-enabled': false,
        'idle-seeding-limit-enabled': false,
        'message-level': 2,
        ...settings,
      },
      null,
      2,
    ),
  );
  const proc = startProcess(t, 'transmission-daemon', 'ip', [
    'netns',
    'exec',
    netns.name,
    'transmission-daemon',
    '--foreground',
    '--config-dir',
    configDir,
    '--no-auth',
  ]);
  const rpc = async (method: string, args: Record<string, unknown> = {}) => {
    const r = await run('ip', [
      'netns',
      'exec',
      netns.name,
      SYSTEM_PYTHON,
      '-c',
      TRANSMISSION_RPC_SCRIPT,
      String(rpcPort),
      method,
      JSON.stringify(args),
    ]);
    if (r.code !== 0) throw new Error(`transmission RPC ${method} failed (${r.code}): ${r.stderr}`);
    const body = JSON.parse(r.stdout) as { result: string; arguments?: Record<string, unknown> };
    if (body.result !== 'success') throw new Error(`transmission RPC ${method}: ${body.result}`);
    return body.arguments ?? {};
  };
  const exitedWhy = () =>
    proc.exitCode !== undefined ? `transmission-daemon exited with ${proc.exitCode}` : undefined;
  await waitUntil(
    'transmission-daemon RPC',
    () =>
      rpc('session-get').then(
        () => true,
        () => undefined,
      ),
    20_000,
    { intervalMs: 200, abort: exitedWhy, detail: () => proc.tail() },
  );
  const fields = [
    'id',
    'hashString',
    'status',
    'percentDone',
    'leftUntilDone',
    'error',
    'errorString',
    'peersConnected',
    'peers',
  ];
  const get = async (id: number) => {
    const args = await rpc('torrent-get', { ids: [id], fields });
    const list = args.torrents as TransmissionTorrent[];
    if (list.length !== 1) throw new Error(`transmission has no torrent ${id}`);
    return list[0]!;
  };
  return {
    proc,
    address,
    peerPort,
    rpc,
    get,
    async add(torrent, downloadDir) {
      const args = await rpc('torrent-add', { filename: torrent, 'download-dir': downloadDir });
      const added = (args['torrent-added'] ?? args['torrent-duplicate']) as { id: number };
      return added.id;
    },
    async waitFor(id, what, done, timeoutMs) {
      let last: TransmissionTorrent | undefined;
      return waitUntil(
        `transmission torrent ${id} ${what}`,
        async () => {
          last = await get(id);
          if (last.error !== 0) throw new Error(`transmission: ${last.errorString}`);
          return done(last) ? last : undefined;
        },
        timeoutMs,
        {
          intervalMs: 300,
          abort: exitedWhy,
          detail: () => `last state: ${JSON.stringify(last)}\n${proc.tail()}`,
        },
      );
    },
  };
}

/**
 * Why Transmission cannot load `torrent`, or undefined. Transmission 3.00's bencode parser
 * rejects the empty dictionary keys of a v2 file tree, so it cannot open any hybrid (or v2)
 * torrent (transmission issue #1339, fixed in 4.0).
 */
export async function transmissionLoadProblem(torrent: string): Promise<string | undefined> {
  const r = await run('transmission-show', [torrent]);
  if (r.code === 0) return undefined;
  const version = (await run('transmission-daemon', ['--version'])).stderr.trim().split('\n')[0];
  return (
    `${version || 'transmission'} cannot parse this torrent (${(r.stderr || r.stdout).trim()}): ` +
    'its bencode parser rejects the empty keys of the v2 file tree, so it cannot open hybrid ' +
    'torrents (transmission issue #1339, fixed in 4.0)'
  );
}
