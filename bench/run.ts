/**
 * Benchmark runner: `node dist/bench/run.js [name]` (or `npm run bench -- [name]`) runs the named
 * benchmark, or every benchmark when no name is given. An unknown name lists the available ones
 * and exits with status 2.
 */

/** A benchmark module: runs itself and prints its figures. */
interface Benchmark {
  run(): Promise<void>;
}

/** Every benchmark, by name, with a one-line description and a lazy loader. */
const BENCHMARKS: Record<string, { description: string; load: () => Promise<Benchmark> }> = {
  create: {
    description: 'hash a 2 GiB file into a hybrid torrent: shoal vs libtorrent create_torrent',
    load: () => import('./create.js'),
  },
  transfer: {
    description:
      '1 GiB seeder → leecher on loopback, shoal vs libtorrent; 8-leecher swarm behind a 20 MB/s seeder',
    load: () => import('./transfer.js'),
  },
  tracker: {
    description:
      'UDP and HTTP announces/s and p99 latency on loopback: shoal tracker vs opentracker',
    load: () => import('./tracker.js'),
  },
  webui: {
    description:
      'web UI with 10,000 torrents (fake node): first paint of the list in Chromium, event-stream bytes/s',
    load: () => import('./webui.js'),
  },
  mse: {
    description:
      'Message Stream Encryption: RC4 MB/s, handshakes, plain TCP vs MSE/RC4 over loopback',
    load: () => import('./mse.js'),
  },
  secure: {
    description:
      'secure channel: ChaChaPoly per-message cost, loopback throughput and handshakes/s: shoal vs Hyperswarm secret-stream',
    load: () => import('./secure.js'),
  },
  stream: {
    description:
      'streaming: seek latency shoal vs WebTorrent, rebuffering (sim), web seed offload with 50 viewers (sim)',
    load: () => import('./stream.js'),
  },
  utp: {
    description:
      'uTP point to point on loopback, 1 GiB: shoal ↔ shoal MB/s and CPU-s/GiB vs libtorrent ↔ libtorrent',
    load: () => import('./utp.js'),
  },
  ledbat: {
    description:
      'uTP beside TCP on a 2 MB/s tc-tbf link in network namespaces: uTP share of the link, queueing delay it adds',
    load: () => import('./ledbat.js'),
  },
  many: {
    description:
      'one node seeding 10,000 small torrents: start to all seeding, RSS per torrent, idle CPU, resume-data churn; vs libtorrent',
    load: () => import('./many.js'),
  },
  crowd: {
    description:
      'one seeder, 200 leechers (one generator process): upload split between them, seeder CPU per connection; shoal vs libtorrent',
    load: () => import('./crowd.js'),
  },
  dht: {
    description:
      'DHT queries/s one node serves and lookup time in a 200-node loopback DHT: shoal vs bittorrent-dht',
    load: () => import('./dht.js'),
  },
};

async function main(args: string[]): Promise<number> {
  const [name, ...extra] = args;
  if (extra.length > 0 || (name !== undefined && !Object.hasOwn(BENCHMARKS, name))) {
    const width = Math.max(...Object.keys(BENCHMARKS).map((n) => n.length));
    const list = Object.entries(BENCHMARKS)
      .map(([n, b]) => `  ${n.padEnd(width)}  ${b.description}`)
      .join('\n');
    const problem =
      extra.length > 0 ? 'give at most one benchmark name' : `unknown benchmark "${name}"`;
    process.stderr.write(`${problem}; available:\n${list}\n`);
    return 2;
  }
  for (const n of name === undefined ? Object.keys(BENCHMARKS) : [name]) {
    process.stdout.write(`== ${n}: ${BENCHMARKS[n]!.description}\n`);
    await (await BENCHMARKS[n]!.load()).run();
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    // A benchmark may have set a failing exit code itself (e.g. a result that does not verify).
    if (code !== 0 || !process.exitCode) process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
