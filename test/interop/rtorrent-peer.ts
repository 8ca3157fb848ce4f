/** rtorrent (libtorrent-rakshasa) as a peer in an interop test. */
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  freePort,
  type Proc,
  startProcess,
  type TestContext,
  tempDir,
  waitUntil,
} from './harness.js';

// ---------------------------------------------------------------- rtorrent

/** An rtorrent process started by {@link startRtorrent}. */
export interface RtorrentPeer {
  readonly proc: Proc;
  /** Its BitTorrent listen port on 127.0.0.1. */
  readonly port: number;
  /** Waits until the download is complete (rtorrent's `event.download.finished`). */
  waitFinished(timeoutMs: number): Promise<void>;
  /** The end of rtorrent's own log, for failure messages. */
  log(): Promise<string>;
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/**
 * Starts `rtorrent` in daemon mode (no terminal) on `torrent`, saving into or seeding from
 * `dir`, listening on 127.0.0.1 only, with no DHT, PEX or UDP trackers and none of the user's
 * configuration (`-n`; everything comes from a config file of the test's own, since `-o`
 * splits its values at commas). rtorrent loads no torrent without a tracker, so `torrent` must
 * name one. As a seed it checks its data first: resolves once the check is done. rtorrent
 * reports through marker files its event handlers touch. `encryption` is the value of its
 * `protocol.encryption.set` (e.g. `allow_incoming,require,require_RC4`).
 */
export async function startRtorrent(
  t: TestContext,
  options: { mode: 'seed' | 'leech'; torrent: string; dir: string; encryption?: string },
): Promise<RtorrentPeer> {
  const home = await tempDir(t, 'shoal-rtorrent-');
  const session = join(home, 'session');
  await mkdir(session);
  const marker = (name: string) => join(home, name);
  const port = await freePort();
  const rc = [
    'system.daemon.set = true',
    'network.bind_address.set = 127.0.0.1',
    `network.port_range.set = ${port}-${port}`,
    'network.port_random.set = no',
    'dht.mode.set = disable',
    'protocol.pex.set = no',
    'trackers.use_udp.set = no',
    ...(options.encryption ? [`protocol.encryption.set = ${options.encryption}`] : []),
    `directory.default.set = ${options.dir}`,
    `session.path.set = ${session}`,
    `log.open_file = main, ${marker('rtorrent.log')}`,
    'log.add_output = info, main',
    `method.set_key = event.download.hash_done, shoal_checked, "execute.nothrow = touch, ${marker('checked')}"`,
    `method.set_key = event.download.finished, shoal_finished, "execute.nothrow = touch, ${marker('finished')}"`,
  ];
  await writeFile(join(home, 'rtorrent.rc'), `${rc.join('\n')}\n`);
  const proc = startProcess(t, `rtorrent ${options.mode}`, 'rtorrent', [
    '-n',
    '-o',
    `import=${join(home, 'rtorrent.rc')}`,
    options.torrent,
  ]);
  const log = () => readFile(marker('rtorrent.log'), 'utf8').catch(() => '(no log)');
  const waitMarker = (name: string, what: string, timeoutMs: number) =>
    waitUntil(what, async () => ((await exists(marker(name))) ? true : undefined), timeoutMs, {
      intervalMs: 100,
      abort: () =>
        proc.exitCode !== undefined ? `rtorrent exited with ${proc.exitCode}` : undefined,
      detail: () => proc.tail(),
    }).catch(async (error: unknown) => {
      throw new Error(
        `${(error as Error).message}\nrtorrent's log:\n${(await log()).slice(-4000)}`,
      );
    });
  if (options.mode === 'seed') await waitMarker('checked', 'rtorrent to check its data', 30_000);
  return {
    proc,
    port,
    waitFinished: async (timeoutMs) => {
      await waitMarker('finished', 'rtorrent to finish', timeoutMs);
    },
    log,
  };
}
