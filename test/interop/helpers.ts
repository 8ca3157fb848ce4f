/**
 * Shared harness for interoperability tests against real BitTorrent clients: libtorrent through
 * its Python bindings, aria2, and Transmission (command-line tools, and transmission-daemon in
 * a network namespace of the test's own). Every process a test starts is stopped, and every
 * folder and namespace it makes is removed, when the test ends, pass or fail; peers listen on
 * loopback or namespace addresses only. Tests run from `dist/test/interop/`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseTorrent } from '../../src/metainfo/parse.js';

/** The subset of a node:test context the helpers need. */
interface TestContext {
  skip(message?: string): void;
  after(fn: () => unknown): void;
}

/** Output of a finished child process. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The Python that has `libtorrent` (Debian's python3-libtorrent); not whatever is on PATH. */
export const SYSTEM_PYTHON = '/usr/bin/python3';

/** The compiled shoal CLI, found relative to this compiled file (dist/test/interop → dist/src/cli). */
export const SHOAL_CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Ready-made probes for {@link requireTool}: a command that exits 0 when the tool is usable. */
export const PROBES = {
  libtorrent: [SYSTEM_PYTHON, '-c', 'import libtorrent'],
  'transmission-create': ['transmission-create', '--version'],
  'transmission-show': ['transmission-show', '--version'],
  // `opentracker --version` is not an option it knows: it would start a tracker on port 6969.
  opentracker: ['opentracker', '-h'],
} satisfies Record<string, readonly string[]>;

const probed = new Map<string, string | undefined>();

/**
 * Why `probe` (a command line run synchronously, or a function returning a failure reason)
 * says the tool is unusable, or `undefined` when it is usable. Results are cached by `name`.
 */
export function toolProblem(
  name: string,
  probe: readonly string[] | (() => string | undefined),
): string | undefined {
  if (probed.has(name)) return probed.get(name);
  let problem: string | undefined;
  if (typeof probe === 'function') {
    problem = probe();
  } else {
    const [cmd, ...args] = probe;
    const r = spawnSync(cmd!, args, { encoding: 'utf8', timeout: 30_000 });
    if (r.error) problem = `${probe.join(' ')}: ${r.error.message}`;
    else if (r.status !== 0)
      problem = `${probe.join(' ')} exited with ${r.status}: ${r.stderr.trim()}`;
  }
  probed.set(name, problem);
  return problem;
}

/**
 * Decides whether test `t` can use the client `name`. Returns true when `probe` succeeds.
 * When it fails the test is skipped with the reason — except in CI (`process.env.CI` set),
 * where a missing client is an error and this throws, failing the test.
 */
export function requireTool(
  t: TestContext,
  name: string,
  probe: readonly string[] | (() => string | undefined) = PROBES[name as keyof typeof PROBES] ?? [
    name,
    '--version',
  ],
): boolean {
  const problem = toolProblem(name, probe);
  if (problem === undefined) return true;
  const reason = `${name} is not available (${problem})`;
  if (process.env.CI) throw new Error(`${reason}; interop tools are required in CI`);
  t.skip(reason);
  return false;
}

const cleanups = new WeakMap<TestContext, (() => unknown)[]>();

/**
 * Runs `fn` when test `t` ends, even when it fails. Deferred work runs last in, first out, so
 * processes started after a folder or namespace was made are stopped before it is removed.
 */
export function defer(t: TestContext, fn: () => unknown): void {
  let stack = cleanups.get(t);
  if (stack === undefined) {
    const s: (() => unknown)[] = [];
    stack = s;
    cleanups.set(t, s);
    t.after(async () => {
      const errors: unknown[] = [];
      while (s.length > 0) {
        try {
          await s.pop()!();
        } catch (error) {
          errors.push(error);
        }
      }
      if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed');
    });
  }
  stack.push(fn);
}

/**
 * A stand-in test context for work shared by every test of a file (e.g. a fixture made once):
 * what is deferred on it runs after the file's last test. Call it at module top level.
 */
export function fileScope(): TestContext {
  const hooks: (() => unknown)[] = [];
  after(async () => {
    while (hooks.length > 0) await hooks.pop()!();
  });
  return {
    after: (fn) => {
      hooks.push(fn);
    },
    skip: () => undefined,
  };
}

/** Makes a fresh temporary folder, removed recursively when test `t` ends. */
export async function tempDir(t: TestContext, prefix = 'shoal-interop-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  defer(t, () => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs `cmd` with `args` to completion (feeding `input` on stdin) and collects its output. */
export function run(
  cmd: string,
  args: readonly string[],
  options: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
    // A child that exits without reading its input must not fail the test with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** Runs the compiled shoal CLI (`node dist/src/cli/main.js ...args`). */
export function runShoal(
  args: readonly string[],
  options: { cwd?: string } = {},
): Promise<RunResult> {
  return run(process.execPath, [SHOAL_CLI, ...args], options);
}

/** `shoal info --json <torrent>`, parsed; throws with stderr when the CLI fails. */
export async function shoalInfo(torrentPath: string): Promise<{
  infoHashV1: string | null;
  infoHashV2: string | null;
  version: string;
  files: { path: string; length: number }[];
}> {
  const r = await runShoal(['info', '--json', torrentPath]);
  if (r.code !== 0) throw new Error(`shoal info ${torrentPath} exited with ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/**
 * Runs a Python `script` (given on stdin) with the system Python, passing `args` as
 * `sys.argv[1:]`, and returns its stdout; throws with stderr when it exits non-zero.
 */
export async function runPython(script: string, args: readonly string[] = []): Promise<string> {
  const r = await run(SYSTEM_PYTHON, ['-', ...args], { input: script });
  if (r.code !== 0) throw new Error(`python exited with ${r.code}:\n${r.stderr}`);
  return r.stdout;
}

/**
 * `length` deterministic pseudo-random bytes for `seed`: SHA-256 in counter mode, so fixtures
 * are identical on every run without any random source.
 */
export function pseudoRandomBytes(seed: string, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let counter = 0, offset = 0; offset < length; counter++, offset += 32) {
    const block = createHash('sha256').update(`${seed}\0${counter}`).digest();
    block.copy(out, offset, 0, Math.min(32, length - offset));
  }
  return out;
}

// ---------------------------------------------------------------- long-running processes

/** How a child process ended: its exit code, or 128 + signal number style codes. */
export type ExitCode = number;

/** A child process started for a test, stopped when the test ends (by its PID only). */
export interface Proc {
  readonly name: string;
  readonly pid: number;
  /** Complete lines printed on stdout so far. */
  readonly lines: readonly string[];
  /** The exit code once the process has ended. */
  readonly exitCode: ExitCode | undefined;
  /** Resolves with the exit code when the process ends. */
  readonly exited: Promise<ExitCode>;
  /** Every stdout line that is a JSON object, parsed. */
  events(): Record<string, unknown>[];
  /** The first JSON event named `name` (`{"event": name, ...}`) printed so far. */
  event(name: string): Record<string, unknown> | undefined;
  /** Waits (polling) for the first JSON event named `name`; fails if the process ends first. */
  waitForEvent(name: string, timeoutMs: number): Promise<Record<string, unknown>>;
  /** Waits (polling) for a stdout line matching `pattern`; fails if the process ends first. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** Waits for the process to end on its own; fails (naming the output) after `timeoutMs`. */
  waitExit(timeoutMs: number): Promise<ExitCode>;
  /** The end of stdout and stderr, for failure messages. */
  tail(chars?: number): string;
  /** SIGTERM, then SIGKILL if it has not ended within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Resolves after `ms` milliseconds. */
export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` every `intervalMs` until it returns something other than `undefined`, and
 * returns that. `abort` is checked first on every round: a string it returns fails the wait
 * at once (e.g. the process being waited for has exited). Throws after `timeoutMs`.
 */
export async function waitUntil<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  options: { intervalMs?: number; abort?: () => string | undefined; detail?: () => string } = {},
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const why = options.abort?.();
    if (why !== undefined) throw new Error(`${why} while waiting for ${what}${detail()}`);
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${detail()}`);
    }
    await delay(options.intervalMs ?? 100);
  }
  function detail(): string {
    const d = options.detail?.();
    return d ? `\n${d}` : '';
  }
}

/**
 * Starts `cmd args` for test `t` with stdin closed, collecting its output. The process is
 * stopped (SIGTERM, then SIGKILL) when the test ends, whatever the outcome.
 */
export function startProcess(
  t: TestContext,
  name: string,
  cmd: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Proc {
  const child = spawn(cmd, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  let errors = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (s: string) => {
    const parts = (partial + s).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr.on('data', (s: string) => {
    errors = (errors + s).slice(-16 * 1024);
  });
  let exitCode: ExitCode | undefined;
  let spawnError: Error | undefined;
  const exited = new Promise<ExitCode>((resolve) => {
    child.on('error', (error) => {
      spawnError = error;
      exitCode = 127;
      resolve(127);
    });
    child.on('close', (code, signal) => {
      if (partial !== '') lines.push(partial);
      partial = '';
      exitCode = code ?? (signal ? 128 : 1);
      resolve(exitCode);
    });
  });
  const parsed = () => {
    const out: Record<string, unknown>[] = [];
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      try {
        const v: unknown = JSON.parse(line);
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
          out.push(v as Record<string, unknown>);
        }
      } catch {
        // not JSON: ignore
      }
    }
    return out;
  };
  // Output for failure messages: stdout without all but the last progress line, then stderr.
  const tail = (chars = 4000) => {
    const isProgress = (l: string) => /"event": ?"progress"/.test(l);
    let lastProgress = lines.length - 1;
    while (lastProgress >= 0 && !isProgress(lines[lastProgress]!)) lastProgress--;
    const shown = lines.filter((l, i) => !isProgress(l) || i === lastProgress).join('\n');
    const state = exitCode === undefined ? 'running' : `exit ${exitCode}`;
    return (
      `--- ${name} (pid ${child.pid}, ${state}) stdout ---\n${shown.slice(-chars)}\n` +
      `--- ${name} stderr ---\n${spawnError ? `${spawnError.message}\n` : ''}${errors.slice(-chars)}`
    );
  };
  const ended = () =>
    exitCode === undefined ? undefined : `${name} exited with ${exitCode} (${cmd})`;
  const proc: Proc = {
    name,
    pid: child.pid ?? -1,
    lines,
    get exitCode() {
      return exitCode;
    },
    exited,
    events: parsed,
    event: (event) => parsed().find((e) => e.event === event),
    waitForEvent: (event, timeoutMs) =>
      waitUntil(`${name} to print a "${event}" event`, () => proc.event(event), timeoutMs, {
        abort: () => (proc.event(event) === undefined ? ended() : undefined),
        detail: () => tail(),
      }),
    waitForLine: (pattern, timeoutMs) => {
      const find = () => {
        for (const line of lines) {
          const m = pattern.exec(line);
          if (m) return m;
        }
        return undefined;
      };
      return waitUntil(`${name} to print ${pattern}`, find, timeoutMs, {
        abort: () => (find() === undefined ? ended() : undefined),
        detail: () => tail(),
      });
    },
    waitExit: (timeoutMs) =>
      waitUntil(`${name} to exit`, () => exitCode, timeoutMs, { detail: () => tail() }),
    tail,
    async stop(graceMs = 5000) {
      if (exitCode !== undefined || child.pid === undefined) return;
      child.kill('SIGTERM');
      const gone = await Promise.race([exited.then(() => true), delay(graceMs).then(() => false)]);
      if (!gone && exitCode === undefined) {
        child.kill('SIGKILL');
        await Promise.race([exited, delay(2000)]);
      }
    },
  };
  defer(t, () => proc.stop());
  return proc;
}

/** A TCP port that was free on `host` a moment ago (for clients that cannot pick their own). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A UDP port that was free on `host` a moment ago. */
export function freeUdpPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, host, () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------- transfer fixture

const KiB = 1024;

/**
 * The content every transfer test moves: a folder `payload/` of a few files, one in a nested
 * folder, none a multiple of the piece length, about 3.4 MB in all.
 */
export const TRANSFER_FILES: Readonly<Record<string, number>> = {
  'readme.txt': 70_001,
  'docs/notes.md': 33_333,
  'docs/deep/data.bin': 1_234_567,
  'big.bin': 2_000_003,
  'z-last.dat': 99_999,
};

/** Which kind of torrent a transfer uses. */
export type TransferVersion = 'hybrid' | 'v1' | 'v2';

/** Content on disk plus torrents of it made by `shoal create`. */
export interface TransferFixture {
  /** Folder that holds the content folder (what a seeder is pointed at as its save path). */
  readonly root: string;
  /** The content folder itself, `<root>/payload`. */
  readonly content: string;
  readonly name: string;
  readonly pieceLength: number;
  /** SHA-256 (hex) and length of every file, keyed by its path inside the content folder. */
  readonly files: ReadonlyMap<string, { readonly length: number; readonly sha256: string }>;
  /** Path of the `.torrent` of each version made. */
  readonly torrents: Readonly<Partial<Record<TransferVersion, string>>>;
  /** Info-hashes of each version, as `shoal info` reports them. */
  readonly infoHashes: Readonly<
    Partial<Record<TransferVersion, { v1: string | null; v2: string | null }>>
  >;
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/**
 * Writes the {@link TRANSFER_FILES} content (or `sizes`: path → length) under a new folder
 * (removed when `t` ends) and makes a torrent of it for each of `versions` with
 * `shoal create --piece-length pieceLength`.
 */
export async function makeTransferFixture(
  t: TestContext,
  versions: readonly TransferVersion[] = ['hybrid', 'v1', 'v2'],
  pieceLength = 32 * KiB,
  sizes: Readonly<Record<string, number>> = TRANSFER_FILES,
): Promise<TransferFixture> {
  const root = await tempDir(t, 'shoal-fixture-');
  const name = 'payload';
  const content = join(root, 'content', name);
  const files = new Map<string, { length: number; sha256: string }>();
  for (const [path, length] of Object.entries(sizes)) {
    const data = pseudoRandomBytes(`transfer/${path}`, length);
    await mkdir(dirname(join(content, path)), { recursive: true });
    await writeFile(join(content, path), data);
    files.set(path, { length, sha256: sha256(data) });
  }
  const torrents: Partial<Record<TransferVersion, string>> = {};
  const infoHashes: Partial<Record<TransferVersion, { v1: string | null; v2: string | null }>> = {};
  for (const version of versions) {
    const out = join(root, `${name}-${version}.torrent`);
    const r = await runShoal([
      'create',
      content,
      '-o',
      out,
      `--${version}`,
      '--piece-length',
      String(pieceLength),
    ]);
    if (r.code !== 0) throw new Error(`shoal create --${version} failed (${r.code}): ${r.stderr}`);
    const info = await shoalInfo(out);
    torrents[version] = out;
    infoHashes[version] = { v1: info.infoHashV1, v2: info.infoHashV2 };
  }
  return {
    root: dirname(content),
    content,
    name,
    pieceLength,
    files,
    torrents,
    infoHashes,
  };
}

/** The `.torrent` of `version` in `fixture`; throws if it was not made. */
export function torrentOf(fixture: TransferFixture, version: TransferVersion): string {
  const path = fixture.torrents[version];
  if (path === undefined) throw new Error(`the fixture has no ${version} torrent`);
  return path;
}

/** Copies the fixture's content folder into `saveDir` (so a client can seed it from there). */
export async function copyContent(fixture: TransferFixture, saveDir: string): Promise<void> {
  await cp(fixture.content, join(saveDir, fixture.name), { recursive: true });
}

/**
 * Writes the BEP 47 padding files of `torrentPath` (zeros) under `saveDir`, as a client that
 * does not know padding files would have stored them after downloading a hybrid torrent:
 * such clients (aria2, Transmission) read them back to check and seed the pieces they span.
 */
export async function writePadFiles(torrentPath: string, saveDir: string): Promise<void> {
  const meta = parseTorrent(await readFile(torrentPath));
  for (const f of meta.files) {
    if (!f.padding) continue;
    const path = join(saveDir, meta.name, ...f.path);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, Buffer.alloc(f.length));
  }
}

/**
 * Checks that `saveDir/<name>/` holds every fixture file with the same length and SHA-256;
 * throws naming each missing or different file. Extra files (e.g. `.pad/` written by clients
 * that do not know BEP 47 padding files) are ignored.
 */
export async function assertSameContent(fixture: TransferFixture, saveDir: string): Promise<void> {
  const problems: string[] = [];
  for (const [path, want] of fixture.files) {
    const full = join(saveDir, fixture.name, path);
    let data: Buffer;
    try {
      data = await readFile(full);
    } catch (error) {
      problems.push(`${path}: ${(error as Error).message}`);
      continue;
    }
    if (data.length !== want.length) {
      problems.push(`${path}: ${data.length} bytes, expected ${want.length}`);
    } else if (sha256(data) !== want.sha256) {
      problems.push(`${path}: SHA-256 ${sha256(data)}, expected ${want.sha256}`);
    }
  }
  if (problems.length > 0) {
    throw new Error(`downloaded content differs from the source:\n  ${problems.join('\n  ')}`);
  }
}

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

// ---------------------------------------------------------------- libtorrent (Python bindings)

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
const LIBTORRENT_PEER_SCRIPT = String.raw`
import json, sys, time
import libtorrent as lt

cfg = json.loads(sys.argv[1])
mode, host = cfg['mode'], cfg['host']
deadline = time.time() + cfg['timeout']

def out(event, **fields):
    fields['event'] = event
    sys.stdout.write(json.dumps(fields) + '\n')
    sys.stdout.flush()

cat = lt.alert.category_t
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

// ---------------------------------------------------------------- network namespaces

/** A network namespace made by a test, with its own loopback addresses. */
export interface Netns {
  readonly name: string;
  /** The addresses on its loopback device (a /32 each). */
  readonly addresses: readonly string[];
  /** Network that covers them, for `SHOAL_EGRESS_ALLOW`. */
  readonly cidr: string;
}

let netnsCounter = 0;

/** {@link requireTool} probe: can this machine make network namespaces (root, iproute2)? */
export function netnsProbe(): string | undefined {
  const name = `shoal-probe-${process.pid}`;
  const add = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8', timeout: 10_000 });
  if (add.error) return `ip: ${add.error.message}`;
  if (add.status !== 0) return `ip netns add exited with ${add.status}: ${add.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', name], { timeout: 10_000 });
  return undefined;
}

/**
 * Makes a network namespace for test `t` with loopback up and `10.201.0.1` … `10.201.0.<count>`
 * on it, deleted when the test ends (after the processes started later are stopped). Traffic
 * to those addresses never leaves the namespace.
 */
export async function createNetns(t: TestContext, prefix: string, count = 2): Promise<Netns> {
  const name = `${prefix}-${process.pid}-${++netnsCounter}`;
  const ip = async (...args: string[]) => {
    const r = await run('ip', args);
    if (r.code !== 0) throw new Error(`ip ${args.join(' ')} exited with ${r.code}: ${r.stderr}`);
  };
  await ip('netns', 'add', name);
  defer(t, () => run('ip', ['netns', 'del', name]));
  await ip('-n', name, 'link', 'set', 'lo', 'up');
  const addresses: string[] = [];
  for (let i = 1; i <= count; i++) {
    addresses.push(`10.201.0.${i}`);
    await ip('-n', name, 'addr', 'add', `10.201.0.${i}/32`, 'dev', 'lo');
  }
  return { name, addresses, cidr: '10.201.0.0/16' };
}

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
