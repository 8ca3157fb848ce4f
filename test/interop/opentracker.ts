/** opentracker as the tracker of an interop test. */
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  freePort,
  freeUdpPort,
  type Proc,
  startProcess,
  type TestContext,
  tempDir,
  waitUntil,
} from './harness.js';

// ---------------------------------------------------------------- opentracker

/** An `opentracker` process started by {@link startOpentracker}. */
export interface Opentracker {
  readonly proc: Proc;
  readonly host: string;
  readonly httpPort: number;
  readonly udpPort: number;
  /** `http://host:httpPort/announce` */
  readonly httpUrl: string;
  /** `udp://host:udpPort/announce` */
  readonly udpUrl: string;
  /** Its counters, from the stats page it serves to its admin address (`host`). */
  stats(): Promise<OpentrackerStats>;
}

/** What {@link Opentracker.stats} reads from `/stats?mode=everything`. */
export interface OpentrackerStats {
  readonly torrents: number;
  readonly peers: number;
  readonly seeds: number;
  readonly tcpAnnounces: number;
  readonly udpConnects: number;
  readonly udpAnnounces: number;
}

/**
 * Starts Debian's `opentracker` on `host` (HTTP and UDP, ports of its own), with `whitelist`
 * (hex v1 info-hashes) as the only torrents it serves: the Debian build is compiled with
 * WANT_ACCESSLIST_WHITE and refuses every other hash. It will not run as root, so it drops to
 * `nobody` and chroots to a temporary folder (mode 755, whitelist 644, so `nobody` can read
 * it). `host` is its admin address, allowed to read the stats page. Resolves once it answers an
 * announce for a whitelisted hash (the whitelist is loaded in the background at start).
 */
export async function startOpentracker(
  t: TestContext,
  options: { whitelist: readonly string[]; host?: string },
): Promise<Opentracker> {
  if (options.whitelist.length === 0) throw new Error('opentracker needs a whitelist');
  const host = options.host ?? '127.0.0.1';
  const dir = await tempDir(t, 'shoal-opentracker-');
  await chmod(dir, 0o755);
  const list = join(dir, 'whitelist.txt');
  await writeFile(list, `${options.whitelist.map((h) => h.toLowerCase()).join('\n')}\n`);
  await chmod(list, 0o644);
  const httpPort = await freePort(host);
  const udpPort = await freeUdpPort(host);
  // -i applies to the -p/-P after it; -A blesses the stats reader.
  const proc = startProcess(t, 'opentracker', 'opentracker', [
    '-i',
    host,
    '-p',
    String(httpPort),
    '-P',
    String(udpPort),
    '-d',
    dir,
    '-u',
    'nobody',
    '-w',
    'whitelist.txt',
    '-A',
    host,
  ]);
  const base = `http://${host}:${httpPort}`;
  const probeHash = Buffer.from(options.whitelist[0]!, 'hex');
  const probe = `${base}/announce?info_hash=${percentEncode(probeHash)}&peer_id=${percentEncode(
    Buffer.from('-SHOALPROBE-00000000'),
  )}&port=1&uploaded=0&downloaded=0&left=0&compact=1&event=stopped`;
  await waitUntil(
    'opentracker to serve its whitelist',
    async () => {
      try {
        const res = await fetch(probe, { signal: AbortSignal.timeout(2000) });
        const body = Buffer.from(await res.arrayBuffer()).toString('latin1');
        return res.status === 200 && body.includes('8:interval') ? true : undefined;
      } catch {
        return undefined;
      }
    },
    15_000,
    {
      intervalMs: 100,
      abort: () =>
        proc.exitCode !== undefined ? `opentracker exited with ${proc.exitCode}` : undefined,
      detail: () => proc.tail(),
    },
  );
  const stats = async (): Promise<OpentrackerStats> => {
    const res = await fetch(`${base}/stats?mode=everything`, { signal: AbortSignal.timeout(5000) });
    const xml = await res.text();
    const num = (re: RegExp) => {
      const m = re.exec(xml);
      if (!m) throw new Error(`opentracker stats without ${re}:\n${xml.slice(0, 2000)}`);
      return Number(m[1]);
    };
    return {
      torrents: num(/<count_mutex>(\d+)<\/count_mutex>/),
      peers: num(/<peers>\s*<count>(\d+)<\/count>/),
      seeds: num(/<seeds>\s*<count>(\d+)<\/count>/),
      tcpAnnounces: num(/<tcp>[\s\S]*?<announce>(\d+)<\/announce>/),
      udpConnects: num(/<udp>[\s\S]*?<connect>(\d+)<\/connect>/),
      udpAnnounces: num(/<udp>[\s\S]*?<announce>(\d+)<\/announce>/),
    };
  };
  return {
    proc,
    host,
    httpPort,
    udpPort,
    httpUrl: `${base}/announce`,
    udpUrl: `udp://${host}:${udpPort}/announce`,
    stats,
  };
}

/** Every byte as %XX (what a tracker query wants for binary info-hashes and peer ids). */
export function percentEncode(bytes: Uint8Array): string {
  return [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
}
