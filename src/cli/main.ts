#!/usr/bin/env node
/** The `shoal` command: parses arguments and hands each subcommand a real runtime. */
import { Command, CommanderError } from 'commander';
import { createRealRuntime } from '../runtime/real.js';
import { completionScript, SHELLS } from './completion.js';
import { EXIT_USAGE, reportError } from './errors.js';
import { rerunWithHeapRoom } from './heap-room.js';
import { setUpLogging } from './logging.js';
import { stopWhenStdoutCloses } from './signals.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

async function main(argv: string[]): Promise<number> {
  const program = new Command('shoal')
    .description('A peer-to-peer node that speaks BitTorrent')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .option(
      '--log-level <spec>',
      'log levels per component, e.g. info or warn,dht:*=debug (default $SHOAL_LOG, else error)',
    )
    .option('--log-file <path>', 'append log records to this file as JSON lines instead of stderr');
  let closeLog = async () => {};
  program.hook('preAction', () => {
    const o = program.opts<{ logLevel?: string; logFile?: string }>();
    closeLog = setUpLogging(createRealRuntime().clock, {
      ...(o.logLevel !== undefined && { level: o.logLevel }),
      ...(o.logFile !== undefined && { file: o.logFile }),
    });
  });
  let action: Promise<unknown> | undefined;
  const runtime = () => createRealRuntime();

  program
    .command('create')
    .description(
      'create a .torrent of a file or folder (v1, which every client reads, unless told otherwise)',
    )
    .argument('<path>', 'file or folder to share')
    .option('-o, --output <file>', 'where to write the torrent (default: <name>.torrent)')
    .option('--v1', 'BitTorrent v1 (SHA-1 pieces; the default)')
    .option('--v2', 'BitTorrent v2 only (SHA-256 merkle trees, BEP 52)')
    .option('--hybrid', 'both v1 and v2 (Transmission 3 and aria2 cannot use it)')
    .option(
      '--piece-length <bytes>',
      'bytes per piece, a power of two ≥ 16K for v2 (default: chosen from the size)',
    )
    .option('--tracker <url>', 'announce URL (repeatable, one tier each)', collect, [])
    .option('--web-seed <url>', 'web seed URL (repeatable)', collect, [])
    .option('--private', 'private torrent: peers only from its trackers')
    .option('--comment <text>', 'free-text comment')
    .option('-f, --force', 'overwrite the output file if it exists')
    .action((path: string, opts) => {
      action = import('./commands/create.js').then((m) => m.createCommand(runtime(), path, opts));
    });

  /** Flags of the commands that talk to a running daemon. */
  const remoteFlags = (c: Command) =>
    c
      .option('--api <url>', "the daemon's API (default: the one running for --data-dir)")
      .option('--auth <user:password>', 'HTTP Basic credentials instead of the token file')
      .option('--data-dir <dir>', 'data folder of the daemon (holds its token)')
      .option('--json', 'one JSON object per line');

  remoteFlags(
    program
      .command('info')
      .description(
        'show what a .torrent file or magnet link describes, or a torrent of the running daemon',
      )
      .argument('<source>', '.torrent file, magnet link, or info-hash (prefix) in the daemon'),
  ).action((source: string, opts) => {
    const rt = runtime();
    action = (async () => {
      const local =
        source.toLowerCase().startsWith('magnet:') ||
        !/^[0-9a-fA-F]{4,64}$/.test(source) ||
        (await rt.fs.exists(source));
      if (!local) return (await import('./commands/remote.js')).remoteInfoCommand(rt, source, opts);
      await (await import('./commands/info.js')).infoCommand(rt, source, opts);
      return 0;
    })();
  });

  remoteFlags(
    program
      .command('add')
      .description('hand torrents to the running daemon (shoal start)')
      .argument('<source...>', 'magnet links, .torrent files or http(s) URLs of .torrent files')
      .option('-o, --output <dir>', "folder to save into (default: the daemon's)")
      .option('--paused', 'add without starting')
      .option('--peer <host:port>', 'connect to this peer (repeatable)', collect, [])
      .option('--tracker <url>', 'also announce to this tracker (repeatable)', collect, []),
  ).action((sources: string[], opts) => {
    action = import('./commands/remote.js').then((m) => m.addCommand(runtime(), sources, opts));
  });
  remoteFlags(
    program
      .command('list')
      .description("list the running daemon's torrents (the library on disk when none runs)")
      .option('--state <states>', 'only these states, comma-separated (e.g. downloading,paused)')
      .option('--sort <field>', 'sort by a field: name, size, progress, downloadRate, addedAt…'),
  ).action((opts) => {
    action = import('./commands/remote.js').then((m) => m.listCommand(runtime(), opts));
  });
  for (const verb of ['pause', 'resume'] as const) {
    remoteFlags(
      program
        .command(verb)
        .description(`${verb} torrents in the running daemon`)
        .argument('<id...>', 'info-hashes or unique prefixes, or all'),
    ).action((ids: string[], opts) => {
      action = import('./commands/remote.js').then((m) =>
        m.pauseResumeCommand(runtime(), verb, ids, opts),
      );
    });
  }
  remoteFlags(
    program
      .command('remove')
      .description('remove torrents from the running daemon (files stay unless --delete-data)')
      .argument('<id...>', 'info-hashes or unique prefixes, or all')
      .option('--delete-data', 'also delete the downloaded files'),
  ).action((ids: string[], opts) => {
    action = import('./commands/remote.js').then((m) => m.removeCommand(runtime(), ids, opts));
  });
  remoteFlags(
    program
      .command('files')
      .description("list a torrent's files in the running daemon, or choose which to fetch")
      .argument('<id>', 'info-hash or unique prefix')
      .option('--skip <list>', 'do not download these files (e.g. 0,2-4)')
      .option('--want <list>', 'download these files again')
      .option('--high <list>', 'download these files first'),
  ).action((id: string, opts) => {
    action = import('./commands/remote.js').then((m) => m.filesCommand(runtime(), id, opts));
  });
  remoteFlags(
    program
      .command('peers')
      .description('list the peers of a torrent in the running daemon')
      .argument('<id>', 'info-hash or unique prefix'),
  ).action((id: string, opts) => {
    action = import('./commands/remote.js').then((m) => m.peersCommand(runtime(), id, opts));
  });

  program
    .command('completion')
    .description(`print a shell completion script (${SHELLS.join(', ')})`)
    .argument('<shell>', SHELLS.join(', '))
    .action((shell: string) => {
      process.stdout.write(completionScript(program, shell));
    });

  const nodeFlags = (c: Command) =>
    c
      .option('--port <n>', 'TCP port for peers (0 = any free port)')
      .option('--host <addr>', 'address to listen on (default 0.0.0.0)')
      .option('--data-dir <dir>', 'where the node keeps its state (default $XDG_DATA_HOME/shoal)')
      .option('--upload-limit <bytes/s>', 'node-wide upload limit, e.g. 20M (default unlimited)')
      .option('--download-limit <bytes/s>', 'node-wide download limit (default unlimited)')
      .option('--no-dht', 'do not use the mainline DHT')
      .option(
        '--dht-bootstrap <host:port>',
        'DHT node to bootstrap from (repeatable; replaces the public routers)',
        collect,
        [],
      )
      .option('--no-pex', 'do not exchange peers with peers (BEP 11)')
      .option(
        '--no-direct-writes',
        'write downloads through the page cache (default: past it, with O_DIRECT, where possible)',
      )
      .option('--lsd', 'find peers on the local network by multicast (BEP 14)')
      .option(
        '--encryption <mode>',
        'protocol encryption (MSE/PE): prefer (default), require or disable',
      )
      .option('--no-utp', 'do not speak uTP (BEP 29)')
      .option('--no-tcp', 'do not dial peers over TCP (uTP only; incoming TCP still accepted)')
      .option('--prefer-utp', 'dial uTP first, TCP when uTP fails (default: TCP first)')
      .option('--upnp', "ask the router to forward the node's port (UPnP IGD)")
      .option('--nat-pmp', "ask the router to forward the node's port (NAT-PMP)")
      .option(
        '--blocklist <path|url>',
        'refuse peers in these IP ranges (P2P format: name:1.2.3.0-1.2.3.255, maybe gzipped)',
      )
      .option(
        '--on-complete <command>',
        'run this shell command when a torrent finishes downloading ($SHOAL_TORRENT_NAME, $SHOAL_INFO_HASH, $SHOAL_DOWNLOAD_DIR)',
      )
      .option(
        '--seed-ratio-limit <ratio>',
        'stop seeding a torrent at this upload ratio (0 = never)',
      )
      .option('--seed-time-limit <minutes>', 'stop seeding a torrent after this long (0 = never)')
      .option(
        '--seed-idle-limit <minutes>',
        'stop seeding a torrent that uploaded nothing for this long (0 = never)',
      )
      .option(
        '--overlay-peer <host:port>',
        'join the shoal overlay through this node (repeatable; the DHT and LSD find others)',
        collect,
        [],
      )
      .option('--no-overlay', 'stay out of the shoal overlay (no keyword search either way)');

  nodeFlags(
    program
      .command('share')
      .description('seed a file or folder and print its magnet link')
      .argument('<path>', 'file or folder to seed')
      .option('--torrent <file>', 'use this .torrent instead of creating one')
      .option('--tracker <url>', 'tracker URL (repeatable)', collect, [])
      .option('--peer <host:port>', 'connect to this peer (repeatable)', collect, [])
      .option('--v1', 'create a v1 torrent (the default)')
      .option('--v2', 'create a v2-only torrent')
      .option('--hybrid', 'create a hybrid v1+v2 torrent (Transmission 3 and aria2 cannot use it)')
      .option('--standalone', 'run a node of its own even when a daemon (shoal start) runs')
      .option('--api <url>', 'the daemon to hand the torrent to (default: the one running)')
      .option('--json', 'one JSON object per line'),
  ).action((path: string, opts) => {
    action = import('./commands/share.js').then((m) => m.shareCommand(runtime(), path, opts));
  });

  nodeFlags(
    program
      .command('get')
      .description(
        'download a torrent, verifying every piece (handed to the daemon when shoal start runs)',
      )
      .argument(
        '<source...>',
        'magnet links, .torrent files or http(s) URLs of .torrent files (several: one node fetches all)',
      )
      .option('-o, --output <dir>', 'folder to save into (default: the download folder)')
      .option('--peer <host:port>', 'connect to this peer (repeatable)', collect, [])
      .option('--tracker <url>', 'also announce to this tracker (repeatable)', collect, [])
      .option('--seed', 'keep seeding after the download completes')
      .option('--recheck', 'verify data on disk instead of trusting resume data')
      .option('--sequential', 'fetch pieces in order (for players reading the file as it comes)')
      .option('--only <list>', 'fetch only these files, by number (e.g. 0,2-3)')
      .option('--file <path|n>', 'fetch only this file (repeatable)', collect, [])
      .option('--no-web-seeds', "do not use the torrent's web seeds (BEP 19)")
      .option('--standalone', 'run a node of its own even when a daemon (shoal start) runs')
      .option('--api <url>', 'the daemon to hand the download to (default: the one running)')
      .option('--json', 'one JSON object per line instead of a progress bar')
      .option(
        '--search <n>',
        'treat the sources as search words and download result N of the search (1 = best)',
      )
      .option('--timeout <s>', 'with --search: seconds to collect answers (default 10)'),
  ).action((sources: string[], opts) => {
    action = import('./commands/get.js').then((m) => m.getCommand(runtime(), sources, opts));
  });

  program
    .command('stream')
    .description(
      'stream a file of a torrent over HTTP while it downloads (for players and browsers)',
    )
    .argument('<source>', 'magnet link or .torrent file')
    .option('--file <path|n>', 'the file to stream (default: the largest video or audio file)')
    .option('--port <n>', 'HTTP port of the stream (default: any free port)')
    .option('--http-host <addr>', 'address of the stream (default 127.0.0.1)')
    .option('--player <name>', 'start a player on the stream: mpv or vlc')
    .option('-o, --output <dir>', 'folder to save into (default: the download folder)')
    .option('--peer <host:port>', 'connect to this peer (repeatable)', collect, [])
    .option('--tracker <url>', 'also announce to this tracker (repeatable)', collect, [])
    .option('--peer-port <n>', 'TCP port for peers (default: any free port)')
    .option('--host <addr>', 'address to listen on for peers (default 0.0.0.0)')
    .option('--data-dir <dir>', 'where the node keeps its state (default $XDG_DATA_HOME/shoal)')
    .option('--upload-limit <bytes/s>', 'upload limit, e.g. 2M (default unlimited)')
    .option('--download-limit <bytes/s>', 'download limit (default unlimited)')
    .option('--no-dht', 'do not use the mainline DHT')
    .option('--dht-bootstrap <host:port>', 'DHT node to bootstrap from (repeatable)', collect, [])
    .option('--no-pex', 'do not exchange peers with peers (BEP 11)')
    .option('--json', 'one JSON object per line (the URL, then progress every second)')
    .action((source: string, opts) => {
      action = import('./commands/stream.js').then((m) => m.streamCommand(runtime(), source, opts));
    });

  nodeFlags(
    program
      .command('search')
      .description(
        'search the shoal overlay by keywords; results print as they arrive (name, size, sources, magnet)',
      )
      .argument('<words...>', 'keywords (case and punctuation do not matter)')
      .option('--timeout <s>', 'seconds to collect answers (default 10)')
      .option('--strategy <name>', 'ultrapeer (default), flood or walk')
      .option('--json', 'one JSON object per result'),
  ).action((words: string[], opts) => {
    action = import('./commands/search.js').then((m) => m.searchCommand(runtime(), words, opts));
  });

  nodeFlags(
    program
      .command('overlay')
      .description(
        "join the shoal overlay and show this node's views (active, passive, ultrapeers)",
      )
      .option('--json', 'one JSON object'),
  ).action((opts) => {
    action = import('./commands/search.js').then((m) => m.overlayCommand(runtime(), opts));
  });

  nodeFlags(
    program
      .command('start')
      .description(
        'run a node that seeds its library and resumes unfinished downloads, driven by its web UI, HTTP API and Transmission RPC',
      )
      .option(
        '--tracker <url>',
        'also announce every torrent to this tracker (repeatable)',
        collect,
        [],
      )
      .option('--peer <host:port>', 'connect every torrent to this peer (repeatable)', collect, [])
      .option('--api-port <n>', 'port of the web UI, API and Transmission RPC (default 9091)')
      .option('--api-host <addr>', 'address of the API (default 127.0.0.1; others need a password)')
      .option('--api-user <name>', 'user name for HTTP Basic authentication')
      .option('--api-password <text>', 'password for HTTP Basic authentication')
      .option('--no-api', 'serve no API, web UI or RPC')
      .option('--json', 'one JSON object per line'),
  ).action((opts) => {
    action = import('./commands/start.js').then((m) => m.startCommand(runtime(), opts));
  });

  program
    .command('id')
    .description(
      "print this node's public key (its shoal_… name), or export or import its identity",
    )
    .option('--data-dir <dir>', 'data folder holding identity.key (default $XDG_DATA_HOME/shoal)')
    .option('--export <file>', 'write the secret key to FILE (owner-only)')
    .option('--import <file>', "make the key in FILE this node's identity")
    .option('-f, --force', 'overwrite FILE on export, or replace a different identity on import')
    .option('--json', 'one JSON object')
    .action((opts) => {
      action = import('./commands/peers.js').then((m) => m.idCommand(runtime(), opts));
    });

  const reachFlags = (c: Command) =>
    nodeFlags(c)
      .argument('<key>', "the node's key, shoal_…")
      .option('--peer <host:port>', 'try this address directly first (repeatable)', collect, [])
      .option('--timeout <seconds>', 'give up after (default 30)')
      .option('--json', 'one JSON object per line');
  reachFlags(
    program
      .command('connect')
      .description(
        'find a node by its key alone (DHT, then rendezvous) and say how it was reached',
      ),
  ).action((key: string, opts) => {
    action = import('./commands/peers.js').then((m) => m.connectCommand(runtime(), key, opts));
  });
  reachFlags(
    program
      .command('ping')
      .description('reach a node by its key and measure round-trip times over the secure channel'),
  )
    .option('-c, --count <n>', 'pings to send (default 4)')
    .option('--interval <ms>', 'between pings (default 1000)')
    .action((key: string, opts) => {
      action = import('./commands/peers.js').then((m) => m.pingCommand(runtime(), key, opts));
    });

  program
    .command('tracker')
    .description('run a BitTorrent tracker (HTTP and UDP); it coordinates peers and stores no data')
    .option('--http-port <n>', 'HTTP announce port (default 6969 when neither port is given)')
    .option('--udp-port <n>', 'UDP announce port (default 6969 when neither port is given)')
    .option('--host <addr>', 'address to listen on (default 0.0.0.0)')
    .option('--allow <infohash>', 'track only these info-hashes (repeatable)', collect, [])
    .option('--interval <seconds>', 'announce interval told to clients (default 1800)')
    .option(
      '--rate-limit <per-second>',
      'requests per second per address, 0 = unlimited (default 50)',
    )
    .option('--max-swarms <n>', 'torrents tracked at most; more are refused (default 1000000)')
    .option('--max-peers <n>', 'peers held in all at most; more are refused (default 4000000)')
    .option('--json', 'print the listening ports as JSON')
    .action((opts) => {
      action = import('./commands/tracker.js').then((m) => m.trackerCommand(runtime(), opts));
    });

  const dht = program
    .command('dht')
    .description('the mainline DHT: run a node, look up peers, store and fetch items');
  const dhtFlags = (c: Command) =>
    c
      .option('--port <n>', 'UDP port (run: 6881; others: any free port)')
      .option('--host <addr>', 'address to bind (default 0.0.0.0)')
      .option(
        '--bootstrap <host:port>',
        'node to bootstrap from (repeatable; default: the public routers)',
        collect,
        [],
      )
      .option('--data-dir <dir>', 'where the node id and routing table are kept')
      .option('--json', 'JSON output');
  dhtFlags(
    dht
      .command('run', { isDefault: true })
      .description('run a standalone DHT node with a status line'),
  )
    .option('--read-only', 'BEP 43 read-only node')
    .action((opts) => {
      action = import('./commands/dht.js').then((m) => m.dhtRunCommand(runtime(), opts));
    });
  dhtFlags(
    dht
      .command('lookup')
      .description('find peers for an info-hash')
      .argument('<infohash>', '40 hex digits'),
  ).action((infoHash: string, opts) => {
    action = import('./commands/dht.js').then((m) => m.dhtLookupCommand(runtime(), infoHash, opts));
  });
  dhtFlags(
    dht
      .command('put')
      .description('store a BEP 44 item (immutable, or mutable with --key)')
      .argument('<value>', 'the value (a string)')
      .option(
        '--key <file>',
        'ed25519 seed file for a mutable item (created 0600 if missing; refused if others may read it)',
      )
      .option('--salt <text>', 'salt for a mutable item')
      .option('--seq <n>', 'sequence number (default: one above the current)'),
  ).action((value: string, opts) => {
    action = import('./commands/dht.js').then((m) => m.dhtPutCommand(runtime(), value, opts));
  });
  dhtFlags(
    dht
      .command('get')
      .description('fetch a BEP 44 item by target')
      .argument('<target>', '40 hex digits')
      .option('--salt <text>', 'salt of a mutable item'),
  ).action((target: string, opts) => {
    action = import('./commands/dht.js').then((m) => m.dhtGetCommand(runtime(), target, opts));
  });

  const sim = program
    .command('sim')
    .description(
      'run a simulation scenario (dht, swarm, stream, offload, connect, search) over a simulated network, in virtual time',
    )
    .argument('<scenario>', 'dht, swarm, stream, offload, connect or search')
    .option('--seed <n>', 'seed of the run; the same seed gives the same run (default 1)')
    .option('--json', 'print one JSON object')
    .option('--report <file>', 'write charts to FILE.svg or FILE.html')
    .option('--check-determinism', 'run twice and compare the trace digests')
    .option('--progress', 'print virtual time, events and memory to stderr every 10 s');
  // The scenarios' flags come with the simulator, loaded only when `sim` may be the command
  // (it brings every engine; any other command starts faster without it).
  const simFlags = argv.slice(2).includes('sim')
    ? (await import('./commands/sim.js')).simScenarioFlags()
    : [];
  for (const { spec, scenarios } of simFlags) {
    sim.option(
      spec.kind === 'boolean'
        ? `--${spec.flag}`
        : `--${spec.flag} <${spec.kind === 'int' ? 'n' : 'x'}>`,
      `${scenarios.join(', ')}: ${spec.description}`,
    );
  }
  sim.action((scenario: string, opts) => {
    action = import('./commands/sim.js').then((m) => m.simCommand(runtime(), scenario, opts));
  });

  try {
    await program.parseAsync(argv);
    const code = action ? await action : 0;
    return typeof code === 'number' ? code : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    return reportError(error);
  } finally {
    await closeLog();
  }
}

stopWhenStdoutCloses();
const isSim = process.argv.slice(2).includes('sim');
(isSim ? (rerunWithHeapRoom() ?? main(process.argv)) : main(process.argv)).then((code) => {
  process.exitCode = code;
});
