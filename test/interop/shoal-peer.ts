/** shoal itself as a peer in an interop test: a seeding or fetching CLI process. */
import { type Proc, SHOAL_CLI, startProcess, type TestContext, tempDir } from './harness.js';
import type { Netns } from './netns.js';
import type { TransferFixture } from './transfer-fixture.js';

// ---------------------------------------------------------------- shoal as a peer

/** Where and how to run a shoal process. */
export interface ShoalPeerOptions {
  /** Address to listen on (and the only one other peers are told). */
  readonly host: string;
  /** Peers (`HOST:PORT`) shoal dials itself, retrying until connected. */
  readonly peers?: readonly string[];
  /** Run inside this network namespace, allowed to reach its addresses. */
  readonly netns?: Netns;
  /** More command-line arguments (e.g. `--tracker URL`, `--no-dht`). */
  readonly args?: readonly string[];
}

/**
 * Starts the shoal CLI for test `t` with `SHOAL_EGRESS=loopback` (plus the namespace's network
 * in `SHOAL_EGRESS_ALLOW` when run inside one).
 */
export function startShoal(
  t: TestContext,
  args: readonly string[],
  options: { netns?: Netns | undefined; name?: string } = {},
): Proc {
  const env: NodeJS.ProcessEnv = { ...process.env, SHOAL_EGRESS: 'loopback' };
  if (options.netns) env.SHOAL_EGRESS_ALLOW = options.netns.cidr;
  const argv = [SHOAL_CLI, ...args];
  const name = options.name ?? `shoal ${args[0] ?? ''}`.trim();
  return options.netns
    ? startProcess(
        t,
        name,
        'ip',
        ['netns', 'exec', options.netns.name, process.execPath, ...argv],
        {
          env,
        },
      )
    : startProcess(t, name, process.execPath, argv, { env });
}

const peerFlags = (peers: readonly string[] = []) => peers.flatMap((p) => ['--peer', p]);

/** The flags every test-run shoal node gets: any port, the given host and peers, JSON output. */
const nodeArgs = (options: ShoalPeerOptions, dataDir: string): string[] => [
  '--port',
  '0',
  '--host',
  options.host,
  '--data-dir',
  dataDir,
  '--json',
  ...peerFlags(options.peers),
  ...(options.args ?? []),
];

/**
 * `shoal share` of the fixture's content with `torrentPath`; resolves once it reports
 * `seeding` with every piece verified, with the port it listens on.
 */
export async function shoalSeed(
  t: TestContext,
  fixture: TransferFixture,
  torrentPath: string,
  options: ShoalPeerOptions,
): Promise<{ proc: Proc; port: number }> {
  const dataDir = await tempDir(t, 'shoal-seed-data-');
  const proc = startShoal(
    t,
    ['share', fixture.content, '--torrent', torrentPath, ...nodeArgs(options, dataDir)],
    { netns: options.netns, name: 'shoal share' },
  );
  const seeding = await proc.waitForEvent('seeding', 30_000);
  if (proc.event('incomplete')) {
    throw new Error(`shoal does not have all of its content to seed\n${proc.tail()}`);
  }
  return { proc, port: seeding.port as number };
}

/** What a finished `shoal get` reported. */
export interface ShoalFetchResult {
  /** The finished `shoal get` process (its output stays readable). */
  readonly proc: Proc;
  readonly seconds: number;
  readonly done: Record<string, unknown>;
  readonly warnings: string[];
}

/**
 * `shoal get torrentPath -o saveDir` until it exits; throws unless it exits 0 after a `done`
 * event with every piece verified.
 */
export async function shoalFetch(
  t: TestContext,
  torrentPath: string,
  saveDir: string,
  options: ShoalPeerOptions & { timeoutMs: number },
): Promise<ShoalFetchResult> {
  const dataDir = await tempDir(t, 'shoal-get-data-');
  const started = performance.now();
  const proc = startShoal(t, ['get', torrentPath, '-o', saveDir, ...nodeArgs(options, dataDir)], {
    netns: options.netns,
    name: 'shoal get',
  });
  const code = await proc.waitExit(options.timeoutMs);
  const seconds = (performance.now() - started) / 1000;
  const done = proc.event('done');
  if (code !== 0 || done === undefined) {
    throw new Error(`shoal get exited with ${code} without finishing\n${proc.tail()}`);
  }
  if (done.piecesHave !== done.pieceCount) {
    throw new Error(`shoal get reported done with ${done.piecesHave}/${done.pieceCount} pieces`);
  }
  const warnings = proc
    .events()
    .filter((e) => e.event === 'warning')
    .map((e) => String(e.message));
  return { proc, seconds, done, warnings };
}
